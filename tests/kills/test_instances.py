"""Several Telegram instances on one PostgreSQL database: a job is claimed by one
instance only, and one whose instance died is taken over by a live one.

Runs when PICLOUD_TEST_DATABASE_URL names a PostgreSQL server (CI sets it); each test
gets a database of its own.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from tests.fakes.chevereto import UPLOAD_PATH, USER_KEY, CheveretoEmulator, UploadStage
from tests.fakes.media import png_bytes
from tests.fakes.telegram import TelegramFake
from tests.kills.conftest import (
    START_TIMEOUT,
    STEP_TIMEOUT,
    BotProcesses,
    settled_messages,
    started,
)

JSON = dict[str, Any]


async def test_two_instances_started_together_after_a_kill_finish_the_job_once(
    on_postgres: BotProcesses,
    telegram_fake: TelegramFake,
    picloud: CheveretoEmulator,
    alice: JSON,
) -> None:
    fake, chat = telegram_fake, telegram_fake.private_chat(alice)
    first = await on_postgres.start_for(alice)
    receiving = picloud.hold_upload(UploadStage.RECEIVING)
    photo = png_bytes(width=40, height=30, seed=71)
    fake.send_photo(chat, alice, photo)
    await receiving.wait_reached(timeout=STEP_TIMEOUT)
    first.kill()
    receiving.release()
    tries_before = _upload_requests(picloud)

    second, third = on_postgres(), on_postgres()
    await asyncio.gather(second.start(), third.start())
    await asyncio.gather(
        second.wait_ready(timeout=START_TIMEOUT), third.wait_ready(timeout=START_TIMEOUT)
    )
    (answer,) = await settled_messages(fake, chat)
    for process in (second, third):
        assert (await process.terminate(timeout=STEP_TIMEOUT))[0] == 0

    assert _upload_requests(picloud) == tries_before + 1  # one instance took the job
    (copy,) = picloud.uploads.values()
    assert copy.md5 == hashlib.md5(photo, usedforsecurity=False).hexdigest()
    assert copy.image["url_viewer"] in answer["text"]
    took_over = ["took over" in p.logs() for p in (second, third)]
    assert sorted(took_over) == [False, True]


async def test_a_live_instance_takes_over_the_job_of_one_that_died(
    on_postgres: BotProcesses,
    telegram_fake: TelegramFake,
    picloud: CheveretoEmulator,
    alice: JSON,
) -> None:
    fake, chat = telegram_fake, telegram_fake.private_chat(alice)
    await on_postgres.store_user_key(alice["id"], USER_KEY)
    lease = {"PICLOUD_JOB_LEASE_S": "3"}  # leases looked at every second
    first = await started(on_postgres(**lease))
    receiving = picloud.hold_upload(UploadStage.RECEIVING)
    fake.send_photo(chat, alice, png_bytes(width=40, height=30, seed=72))
    await receiving.wait_reached(timeout=STEP_TIMEOUT)
    # A second instance comes up while the first holds the job: it leaves it alone.
    second = await started(on_postgres(**lease))
    await asyncio.sleep(2.0)
    assert "took over" not in second.logs()

    first.kill()
    receiving.release()

    (answer,) = await settled_messages(fake, chat)
    assert "took over 1 unanswered uploads" in second.logs()
    assert (await second.terminate(timeout=STEP_TIMEOUT))[0] == 0
    (copy,) = picloud.uploads.values()
    assert copy.image["url_viewer"] in answer["text"]


def _upload_requests(host: CheveretoEmulator) -> int:
    return sum(1 for request in host.requests if request.path == UPLOAD_PATH)
