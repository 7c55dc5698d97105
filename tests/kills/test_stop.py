"""SIGTERM is a bounded stop: no new work, uploads in flight get PICLOUD_STOP_GRACE_S to
finish, then the process exits 0 (within Docker's ten seconds) and the rest is
finished at the next start."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from tests.fakes.chevereto import CheveretoEmulator, UploadStage
from tests.fakes.media import png_bytes
from tests.fakes.telegram import TelegramFake
from tests.kills.conftest import STEP_TIMEOUT, BotProcesses, settled_messages, started

JSON = dict[str, Any]
DOCKER_STOP_S = 10.0


async def test_sigterm_with_a_slow_host_exits_in_time_and_the_next_start_finishes(
    bot_process: BotProcesses,
    telegram_fake: TelegramFake,
    picloud: CheveretoEmulator,
    alice: JSON,
) -> None:
    fake, chat = telegram_fake, telegram_fake.private_chat(alice)
    first = await bot_process.start_for(alice)
    slow_host = picloud.hold_upload(UploadStage.RECEIVING)  # the host takes "forever"
    photo = png_bytes(width=40, height=30, seed=61)
    fake.send_photo(chat, alice, photo)
    await slow_host.wait_reached(timeout=STEP_TIMEOUT)

    code, seconds = await first.terminate(timeout=STEP_TIMEOUT)
    slow_host.release()

    assert code == 0
    assert seconds < DOCKER_STOP_S
    assert "cut off by the stop" in first.logs()
    assert picloud.uploads == {}
    second = await started(bot_process())
    (answer,) = await settled_messages(fake, chat)
    assert (await second.terminate(timeout=STEP_TIMEOUT))[0] == 0
    (copy,) = picloud.uploads.values()
    assert copy.md5 == hashlib.md5(photo, usedforsecurity=False).hexdigest()
    assert copy.image["url_viewer"] in answer["text"]


async def test_sigterm_lets_an_upload_in_flight_finish_and_answer(
    bot_process: BotProcesses,
    telegram_fake: TelegramFake,
    picloud: CheveretoEmulator,
    alice: JSON,
) -> None:
    fake, chat = telegram_fake, telegram_fake.private_chat(alice)
    first = await bot_process.start_for(alice, PICLOUD_STOP_GRACE_S="5")
    host = picloud.hold_upload(UploadStage.RECEIVING)
    fake.send_photo(chat, alice, png_bytes(width=40, height=30, seed=62))
    await host.wait_reached(timeout=STEP_TIMEOUT)

    stopping = asyncio.create_task(first.terminate(timeout=STEP_TIMEOUT))
    await asyncio.sleep(1.0)  # the stop has begun: the host answers within the grace
    host.release()
    code, seconds = await stopping

    assert code == 0
    assert seconds < DOCKER_STOP_S
    (message,) = fake.messages(chat["id"])
    assert "Viewer" in message["text"]
    assert "cut off" not in first.logs()
