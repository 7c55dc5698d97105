"""The kill-test tools themselves: the fakes' holds, driven by a plain httpx client, and
one SIGKILL of the real bot process in a window that is known to work."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.fakes.chevereto import UPLOAD_PATH, USER_KEY, CheveretoEmulator, UploadStage
from tests.fakes.media import png_bytes
from tests.fakes.telegram import Call, TelegramFake
from tests.kills.conftest import BotProcesses

JSON = dict[str, Any]
# Generous: two cores, a slow CI, and a Python process that takes seconds to start.
START_TIMEOUT = 40.0
STEP_TIMEOUT = 30.0


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
def alice_chat(telegram_fake: TelegramFake) -> JSON:
    return telegram_fake.private_chat(telegram_fake.user(1001, "Alice", "en", "alice"))


class Api:
    """Bot API calls by hand, as a bot would make them."""

    def __init__(self, http: httpx.AsyncClient, fake: TelegramFake) -> None:
        self.http = http
        self.fake = fake

    async def __call__(self, method: str, **params: Any) -> httpx.Response:
        return await self.http.post(f"{self.fake.api_url}{self.fake.token}/{method}", json=params)

    def later(self, method: str, **params: Any) -> asyncio.Task[httpx.Response]:
        return asyncio.create_task(self(method, **params))


@pytest.fixture
def api(http: httpx.AsyncClient, telegram_fake: TelegramFake) -> Api:
    return Api(http, telegram_fake)


def texts(fake: TelegramFake, chat: JSON) -> list[str]:
    return [message["text"] for message in fake.messages(chat["id"])]


async def still_waiting(task: asyncio.Task[Any]) -> bool:
    await asyncio.sleep(0.2)
    return not task.done()


async def gone(task: asyncio.Task[Any]) -> None:
    """The client gives up on its request: its connection is closed."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.1)  # the fake's loop sees the connection end


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> bool:
    return not [record for record in caplog.records if record.levelno >= logging.ERROR]


# Telegram fake: hold and hold_after


async def test_hold_stops_a_matching_call_before_it_does_anything(
    telegram_fake: TelegramFake, api: Api, alice_chat: JSON
) -> None:
    fake = telegram_fake
    hold = fake.hold("SENDMESSAGE", where=lambda call: call.params.get("text") == "held")
    assert (await api("sendMessage", chat_id=alice_chat["id"], text="free")).status_code == 200
    fake.fail_next("sendMessage", 429)

    task = api.later("sendMessage", chat_id=alice_chat["id"], text="held")
    call = await hold.wait_reached()

    assert hold.reached
    assert call.method == "sendMessage"
    assert call.params == {"chat_id": alice_chat["id"], "text": "held"}
    assert await still_waiting(task)
    assert texts(fake, alice_chat) == ["free"]
    assert [c.params["text"] for c in fake.calls_to("sendMessage")] == ["free"]
    hold.release()
    answer = await task
    # The queued failure was still waiting behind the hold: it had not happened yet.
    assert answer.status_code == 429
    assert fake.calls_to("sendMessage")[-1] is call
    assert call.error_code == 429
    # One hold stops one call.
    assert (await api("sendMessage", chat_id=alice_chat["id"], text="next")).status_code == 200
    assert texts(fake, alice_chat) == ["free", "next"]


async def test_hold_after_does_the_work_but_withholds_the_answer(
    telegram_fake: TelegramFake, api: Api, alice_chat: JSON
) -> None:
    fake = telegram_fake
    sent = (await api("sendMessage", chat_id=alice_chat["id"], text="Uploading…")).json()
    message_id = sent["result"]["message_id"]
    hold = fake.hold_after("editMessageText", where=lambda call: call.ok)

    task = api.later(
        "editMessageText", chat_id=alice_chat["id"], message_id=message_id, text="Viewer: x"
    )
    call = await hold.wait_reached()

    assert call.ok
    assert call.result["text"] == "Viewer: x"
    assert fake.calls_to("editMessageText") == [call]
    stored = fake.message(alice_chat["id"], message_id)
    assert stored is not None
    assert stored["text"] == "Viewer: x"
    assert await still_waiting(task)
    hold.release()
    answer = (await task).json()
    assert answer["ok"]
    assert answer["result"]["text"] == "Viewer: x"


async def test_holds_released_after_the_client_left_crash_nothing(
    telegram_fake: TelegramFake, api: Api, alice_chat: JSON, caplog: pytest.LogCaptureFixture
) -> None:
    fake = telegram_fake
    before = fake.hold("sendMessage")
    task = api.later("sendMessage", chat_id=alice_chat["id"], text="orphan")
    await before.wait_reached()
    await gone(task)
    before.release()
    # It arrived whole before the client left: it takes effect, as on the server.
    await fake.wait_for("sendMessage", where=lambda call: call.params["text"] == "orphan")

    after = fake.hold_after("sendMessage")
    task = api.later("sendMessage", chat_id=alice_chat["id"], text="unseen")
    await after.wait_reached()
    await gone(task)
    after.release()

    assert (await api("sendMessage", chat_id=alice_chat["id"], text="still here")).is_success
    assert texts(fake, alice_chat) == ["orphan", "unseen", "still here"]
    assert no_errors_logged(caplog)


async def test_a_hold_released_without_proceeding_drops_the_call(
    telegram_fake: TelegramFake, api: Api, alice_chat: JSON
) -> None:
    fake = telegram_fake
    hold = fake.hold("sendMessage")
    task = api.later("sendMessage", chat_id=alice_chat["id"], text="never")
    await hold.wait_reached()

    hold.release(proceed=False)

    with pytest.raises(httpx.TransportError):
        await task
    assert fake.calls_to("sendMessage") == []
    assert texts(fake, alice_chat) == []


async def test_a_hold_never_reached_times_out_naming_the_calls_seen(
    telegram_fake: TelegramFake, api: Api
) -> None:
    hold = telegram_fake.hold("sendPhoto")
    await api("getMe")

    with pytest.raises(TimeoutError, match=r"before sendPhoto not reached .*getMe"):
        await hold.wait_reached(timeout=0.2)
    assert not hold.reached


async def test_a_fake_stops_promptly_with_a_call_still_held(http: httpx.AsyncClient) -> None:
    async with TelegramFake() as fake:
        fake.private_chat(fake.user(1001, "Alice"))
        hold = fake.hold("sendMessage")
        task = Api(http, fake).later("sendMessage", chat_id=1001, text="held")
        await hold.wait_reached()
    with pytest.raises(httpx.TransportError):
        await asyncio.wait_for(task, timeout=5)
    assert fake.calls_to("sendMessage") == []


# Chevereto emulator: hold_upload


def upload_later(
    http: httpx.AsyncClient, host: CheveretoEmulator, data: bytes, key: str = USER_KEY
) -> asyncio.Task[httpx.Response]:
    files = {"source": ("photo.png", data, "image/png")}
    return asyncio.create_task(http.post(host.api_url, data={"key": key}, files=files))


async def test_receiving_holds_an_upload_while_its_body_is_on_its_way(
    picloud: CheveretoEmulator, http: httpx.AsyncClient
) -> None:
    photo = png_bytes(seed=41)
    hold = picloud.hold_upload(UploadStage.RECEIVING)

    task = upload_later(http, picloud, photo)
    request = await hold.wait_reached()

    assert (request.method, request.path) == ("POST", UPLOAD_PATH)
    assert request.file_md5 is None  # the form is not read yet
    assert await still_waiting(task)
    assert picloud.uploads == {}
    hold.release()
    answer = await task
    assert answer.status_code == 200
    (stored,) = picloud.uploads.values()
    assert stored.md5 == md5(photo)
    assert answer.json()["image"]["id_encoded"] == stored.id_encoded


async def test_receiving_drops_an_upload_whose_client_left(
    picloud: CheveretoEmulator, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    photo = png_bytes(seed=42)
    hold = picloud.hold_upload(UploadStage.RECEIVING)
    task = upload_later(http, picloud, photo)
    await hold.wait_reached()

    await gone(task)
    hold.release()
    await asyncio.sleep(0.3)

    # Its body never arrived whole: nothing stored, so the same photo is no duplicate.
    assert picloud.uploads == {}
    again = await upload_later(http, picloud, photo)
    assert again.status_code == 200
    assert no_errors_logged(caplog)


async def test_stored_holds_the_answer_of_an_upload_already_stored(
    picloud: CheveretoEmulator, http: httpx.AsyncClient
) -> None:
    photo = png_bytes(seed=43)
    hold = picloud.hold_upload(UploadStage.STORED)

    task = upload_later(http, picloud, photo)
    request = await hold.wait_reached()

    (stored,) = picloud.uploads.values()
    assert stored.md5 == request.file_md5 == md5(photo)
    assert await still_waiting(task)
    hold.release()
    answer = await task
    assert answer.json()["image"]["id_encoded"] == stored.id_encoded


async def test_stored_then_dropped_leaves_a_stored_upload_a_retry_meets_as_duplicate(
    picloud: CheveretoEmulator, http: httpx.AsyncClient
) -> None:
    photo = png_bytes(seed=44)
    hold = picloud.hold_upload(UploadStage.STORED)
    task = upload_later(http, picloud, photo)
    await hold.wait_reached()

    hold.release(proceed=False)

    with pytest.raises(httpx.TransportError):
        await task
    assert len(picloud.uploads) == 1
    retry = await upload_later(http, picloud, photo)
    assert retry.json()["error"]["message"] == "Duplicated upload"


async def test_stored_released_after_the_client_left_stays_stored(
    picloud: CheveretoEmulator, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    hold = picloud.hold_upload(UploadStage.STORED)
    task = upload_later(http, picloud, png_bytes(seed=46))
    await hold.wait_reached()

    await gone(task)
    hold.release()

    assert len(picloud.uploads) == 1
    assert (await upload_later(http, picloud, png_bytes(seed=47))).status_code == 200
    assert no_errors_logged(caplog)


async def test_only_a_stored_upload_reaches_stored(
    picloud: CheveretoEmulator, http: httpx.AsyncClient
) -> None:
    hold = picloud.hold_upload(UploadStage.STORED)

    refused = await upload_later(http, picloud, png_bytes(seed=45), key="chv_wrong")

    assert refused.status_code == 400
    with pytest.raises(TimeoutError, match=r"upload STORED not reached .*POST /api/1/upload"):
        await hold.wait_reached(timeout=0.2)


# The real bot, killed


def final_answers(fake: TelegramFake, chat: JSON) -> list[Call]:
    """The bot's answers in that chat carrying a viewer link, sent or edited in."""
    return [
        call
        for call in fake.calls
        if call.ok
        and call.method in ("sendMessage", "editMessageText")
        and call.params.get("chat_id") == chat["id"]
        and "Viewer" in str(call.params.get("text", ""))
    ]


async def wait_for_answers(fake: TelegramFake, chat: JSON, timeout: float) -> list[Call]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (found := final_answers(fake, chat)):
        if loop.time() >= deadline:
            seen = [(call.method, call.params.get("text")) for call in fake.calls]
            raise TimeoutError(f"no answer with a viewer link after {timeout} s; calls: {seen}")
        await asyncio.sleep(0.1)
    return found


async def test_killed_while_the_upload_body_is_on_its_way_the_restart_answers_once(
    bot_process: BotProcesses,
    telegram_fake: TelegramFake,
    picloud: CheveretoEmulator,
    alice_chat: JSON,
) -> None:
    fake = telegram_fake
    alice = fake.users[1001]
    await bot_process.store_user_key(alice["id"], USER_KEY)
    first = bot_process()
    await first.start()
    await first.wait_ready(timeout=START_TIMEOUT)

    receiving = picloud.hold_upload(UploadStage.RECEIVING)
    photo = png_bytes(width=40, height=30, seed=31)
    fake.send_photo(alice_chat, alice, photo)
    await receiving.wait_reached(timeout=STEP_TIMEOUT)  # the kill lands in that window
    first.kill()
    receiving.release()

    assert first.returncode == -9
    assert final_answers(fake, alice_chat) == []
    second = bot_process()
    await second.start()
    await second.wait_ready(timeout=START_TIMEOUT)
    await wait_for_answers(fake, alice_chat, timeout=STEP_TIMEOUT)
    code, _seconds = await second.terminate(timeout=STEP_TIMEOUT)

    assert code == 0
    assert [u.md5 for u in picloud.uploads.values()].count(md5(photo)) == 1
    (answer,) = final_answers(fake, alice_chat)
    (upload,) = picloud.uploads.values()
    assert upload.image["url_viewer"] in answer.params["text"]


async def test_both_bots_start_in_one_process_and_stop_on_sigterm(
    bot_process: BotProcesses,
) -> None:
    both = bot_process("both")
    await both.start()
    await both.wait_ready(timeout=START_TIMEOUT)

    code, seconds = await both.terminate(timeout=STEP_TIMEOUT)

    assert code == 0
    assert both.returncode == 0
    assert seconds < STEP_TIMEOUT
    assert "discord bot" in both.logs()
    assert "telegram bot @" in both.logs()
