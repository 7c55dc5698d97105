"""Settings, history, languages, and the bot under pressure: floods, blocks, restarts,
many users at once, and webhook mode."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fakes.chevereto import USER_KEY, Fault, UploadStage
from tests.fakes.media import big_png_file, png_bytes
from tests.fakes.server import free_port
from tests.fakes.telegram import TOKEN, Call
from tests.retry import PATIENT_RETRY
from tests.telegram.conftest import Bot, OpenBot, button_data, person


async def test_settings_menu_changes_the_next_upload(keyed_bot: Bot) -> None:
    bot = keyed_bot
    sent = bot.fake.send_text(bot.alice_chat, bot.alice, "/settings")
    menu = await bot.reply_to(bot.alice_chat, sent)
    assert "set:exp:1d" in button_data(menu)

    bot.fake.press_button(bot.alice_chat, bot.alice, menu["message_id"], "set:exp:1d")
    bot.fake.press_button(bot.alice_chat, bot.alice, menu["message_id"], "set:nsfw:1")
    await bot.fake.wait_for("answerCallbackQuery", count=2)
    photo = bot.fake.send_photo(bot.alice_chat, bot.alice, png_bytes(seed=1))
    await bot.answer_to(bot.alice_chat, photo)

    (upload,) = bot.host.uploads.values()
    assert (upload.fields["expiration"], upload.fields["nsfw"]) == ("P1D", "1")
    redrawn = bot.fake.message(bot.alice_chat["id"], menu["message_id"])
    assert redrawn is not None
    assert "Expiry: P1D" in redrawn["text"]


async def test_settings_album_and_language(keyed_bot: Bot) -> None:
    bot = keyed_bot
    album = bot.fake.send_text(bot.alice_chat, bot.alice, "/settings album AbC1")
    menu = await bot.reply_to(bot.alice_chat, album)
    assert "Album: AbC1" in menu["text"]

    bot.fake.press_button(bot.alice_chat, bot.alice, menu["message_id"], "set:lang:ru")
    await bot.fake.wait_for("answerCallbackQuery")
    photo = bot.fake.send_photo(bot.alice_chat, bot.alice, png_bytes(seed=2))

    answer = await bot.answer_to(bot.alice_chat, photo)
    assert "Загружено" in answer["text"]
    (upload,) = bot.host.uploads.values()
    assert upload.fields["album_id"] == "AbC1"


async def test_history_lists_the_last_uploads_with_delete_buttons(keyed_bot: Bot) -> None:
    bot = keyed_bot
    for seed in (3, 4):
        sent = bot.fake.send_photo(bot.alice_chat, bot.alice, png_bytes(seed=seed))
        await bot.answer_to(bot.alice_chat, sent)

    listing = await bot.reply_to(
        bot.alice_chat, bot.fake.send_text(bot.alice_chat, bot.alice, "/history")
    )

    assert "Uploaded 2 of 2" in listing["text"]
    assert sum(1 for data in button_data(listing) if data.startswith("del:")) == 2


async def test_empty_history(bot: Bot) -> None:
    sent = bot.fake.send_text(bot.alice_chat, bot.alice, "/history")
    assert "no uploads yet" in (await bot.reply_to(bot.alice_chat, sent))["text"]


async def test_commands_are_registered_in_english_and_russian(bot: Bot) -> None:
    english = bot.fake.my_commands()
    russian = bot.fake.my_commands("ru")
    assert english is not None
    assert russian is not None
    names = [command["command"] for command in english]
    assert names == [command["command"] for command in russian]
    assert {
        "start",
        "help",
        "setkey",
        "delkey",
        "me",
        "upload",
        "mirror",
        "settings",
        "history",
    } <= set(names)
    assert english[0]["description"] != russian[0]["description"]


async def test_start_and_help_in_the_users_language(bot: Bot) -> None:
    hello = await bot.reply_to(bot.bob_chat, bot.fake.send_text(bot.bob_chat, bot.bob, "/start"))
    assert "Привет" in hello["text"]
    helped = await bot.reply_to(
        bot.alice_chat, bot.fake.send_text(bot.alice_chat, bot.alice, "/help")
    )
    assert "/setkey KEY" in helped["text"]


async def test_flood_answers_from_telegram_are_waited_out(keyed_bot: Bot) -> None:
    bot = keyed_bot
    bot.fake.fail_next("sendMessage", error_code=429, retry_after=1)
    sent = bot.fake.send_photo(bot.alice_chat, bot.alice, png_bytes(seed=5))

    answer = await bot.answer_to(bot.alice_chat, sent)

    assert "Uploaded" in answer["text"]
    assert [c.error_code for c in bot.fake.calls_to("sendMessage")][:2] == [429, None]


async def test_a_user_who_blocked_the_bot_does_not_stop_others(keyed_bot: Bot) -> None:
    bot = keyed_bot
    await bot.core.service.keys.set_user_key(person(bot.bob), USER_KEY)
    bot.fake.blocked_chats.add(bot.bob_chat["id"])
    bot.fake.send_photo(bot.bob_chat, bot.bob, png_bytes(seed=6))
    await bot.fake.wait_for("sendMessage", where=lambda c: c.error_code == 403)

    sent = bot.fake.send_photo(bot.alice_chat, bot.alice, png_bytes(seed=7))
    assert "Uploaded" in (await bot.answer_to(bot.alice_chat, sent))["text"]


async def test_a_big_upload_does_not_hold_up_another_user(keyed_bot: Bot, tmp_path: Path) -> None:
    bot = keyed_bot
    await bot.core.service.keys.set_user_key(person(bot.bob), USER_KEY)
    bot.host.delay_s = 4  # long enough that Alice is answered first on a busy machine
    bot.host.fail_next(Fault.DELAY)  # Bob's upload answers late
    big = big_png_file(tmp_path / "big.png", 15 * 1024 * 1024, seed=8)
    slow = bot.fake.send_document(
        bot.bob_chat, bot.bob, big, file_name="big.png", mime_type="image/png"
    )
    await bot.fake.wait_for("getFile")
    fast = bot.fake.send_photo(bot.alice_chat, bot.alice, png_bytes(seed=9))

    await bot.answer_to(bot.alice_chat, fast)
    bob_answered = [
        c
        for c in bot.fake.calls_to("editMessageText")
        if c.params["chat_id"] == bot.bob_chat["id"] and "%" not in c.params["text"]
    ]
    assert bob_answered == []
    assert "Загружено" in (await bot.answer_to(bot.bob_chat, slow))["text"]


async def test_restart_finishes_the_upload_and_answers_once(
    open_bot: OpenBot, tmp_path: Path
) -> None:
    async with open_bot() as bot:
        await bot.core.service.keys.set_user_key(person(bot.alice), USER_KEY)
        bot.host.delay_s = 5
        bot.host.fail_next(Fault.DROP)  # the first try's answer is lost...
        bot.host.fail_next(Fault.DELAY)  # ...and the retry is still running at the crash
        sent = bot.fake.send_photo(bot.alice_chat, bot.alice, png_bytes(seed=10))
        await bot.fake.wait_for("getFile")
        await asyncio.sleep(0.5)
    # The process is gone; the job is recorded and unfinished.
    bot.host.faults.clear()
    bot.host.uploads.clear()  # the host lost it too (as if its answer never came)

    async with open_bot() as again:
        answer = await again.answer_to(again.alice_chat, sent)

    assert "Uploaded" in answer["text"]
    finals = [
        c for c in again.fake.calls_to("editMessageText") if "Viewer" in c.params.get("text", "")
    ]
    assert len(finals) == 1


async def test_webhook_mode_checks_the_secret(open_bot: OpenBot) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook/{TOKEN.split(':')[0]}"
    async with open_bot(
        telegram_webhook_url=url,
        telegram_webhook_secret="s3cret-token",
        telegram_webhook_listen=f"127.0.0.1:{port}",
    ) as bot:
        assert bot.fake.webhook is not None
        assert bot.fake.webhook.url == url
        assert bot.fake.webhook.secret_token == "s3cret-token"
        update = bot.fake.send_text(bot.alice_chat, bot.alice, "/help")
        wrong = await bot.fake.deliver_webhook(update, secret_token="wrong")
        right = await bot.fake.deliver_webhook(update, secret_token="s3cret-token")
        # Telegram forgets an update once answered 200: by then it is in our inbox.
        assert await _kept(bot, update["update_id"])
        reply = await bot.reply_to(bot.alice_chat, update)

    assert wrong == 403
    assert right == 200
    assert "/setkey" in reply["text"]
    assert bot.fake.calls_to("getUpdates") == []


async def test_a_429_storm_on_every_call_costs_neither_the_upload_nor_the_answer(
    keyed_bot: Bot,
) -> None:
    bot = keyed_bot
    # Four in a row: one more than the rate limiter waits out for a progress call.
    for method in ("sendMessage", "sendChatAction", "getFile"):
        bot.fake.fail_next(method, error_code=429, retry_after=1, times=4)
    sent = bot.fake.send_photo(bot.alice_chat, bot.alice, png_bytes(seed=50))

    (answer,) = await _viewer_messages(bot, count=1)

    # The status message was given up (progress only); the answer came as a reply.
    assert answer["reply_to_message"]["message_id"] == sent["message"]["message_id"]
    assert len(bot.host.uploads) == 1
    assert [c.error_code for c in bot.fake.calls_to("getFile")] == [429] * 4 + [None]
    assert bot.fake.calls_to("sendChatAction")[0].error_code == 429
    assert len(bot.fake.messages(bot.alice_chat["id"])) == 1


async def test_the_answer_waits_out_a_429_storm(keyed_bot: Bot) -> None:
    bot = keyed_bot
    bot.fake.fail_next("sendMessage", error_code=429, retry_after=1, times=5)
    bot.fake.send_photo(bot.alice_chat, bot.alice, png_bytes(seed=51))

    await _viewer_messages(bot, count=1)

    assert [c.error_code for c in bot.fake.calls_to("sendMessage")] == [429] * 5 + [None]
    assert len(bot.fake.messages(bot.alice_chat["id"])) == 1
    (job,) = await bot.core.service.history(person(bot.alice))
    for _ in range(50):  # reported answered just after Telegram took the answer
        row = await bot.core.repo.find_upload(job.upload_id)
        if row is not None and row.answered_at is not None:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the delivered answer was never reported")


async def _viewer_messages(bot: Bot, count: int, timeout: float = 30.0) -> list[dict[str, object]]:
    def answers() -> list[dict[str, object]]:
        chat = bot.alice_chat["id"]
        return [m for m in bot.fake.messages(chat) if "Viewer" in str(m.get("text", ""))]

    for _ in range(int(timeout * 10)):
        if len(answers()) >= count:
            return answers()
        await asyncio.sleep(0.1)
    raise AssertionError(f"{len(answers())} of {count} answers after {timeout} s")


def _says(fragment: str) -> Callable[[Call], bool]:
    return lambda call: call.ok and fragment in str(call.params.get("text", ""))


async def test_a_flooded_host_is_told_at_once_then_edited_into_the_answer(
    open_bot: OpenBot,
) -> None:
    async with open_bot(retry=PATIENT_RETRY) as bot:
        await bot.core.service.keys.set_user_key(person(bot.alice), USER_KEY)
        bot.host.flood_per_minute = 1
        first = bot.fake.send_photo(bot.alice_chat, bot.alice, png_bytes(seed=52))
        await bot.answer_to(bot.alice_chat, first)
        bot.fake.send_photo(bot.alice_chat, bot.alice, png_bytes(seed=53))

        # The wait shows at once (the status message appears to say it), then the answer.
        (busy,) = await bot.fake.wait_for("sendMessage", where=_says("host is busy"))
        bot.host.clock = lambda: time.time() + 61  # the host's minute is over
        (answer,) = await bot.fake.wait_for("editMessageText", where=_says("Viewer"))

    assert answer.params["message_id"] == busy.result["message_id"]
    assert len(bot.host.uploads) == 2


async def test_a_locked_database_mid_upload_says_busy_then_goes_on(
    keyed_bot: Bot, tmp_path: Path
) -> None:
    bot = keyed_bot
    receiving = bot.host.hold_upload(UploadStage.RECEIVING)
    bot.fake.send_photo(bot.alice_chat, bot.alice, png_bytes(seed=54))
    await receiving.wait_reached()
    # Another program holds the database's write lock while the host stores the photo.
    locker = sqlite3.connect(tmp_path / "data" / "picloud-bots.db", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        receiving.release()
        await bot.fake.wait_for("editMessageText", where=_says("Busy, retrying"), timeout=20)
        assert bot.host.uploads  # stored at the host; only our record waits
    finally:
        locker.execute("COMMIT")
        locker.close()

    (answer,) = await _viewer_messages(bot, count=1)
    (job,) = await bot.core.service.history(person(bot.alice))
    assert job.url_viewer is not None and job.url_viewer in str(answer["text"])


async def test_a_locked_database_when_a_message_arrives_says_busy_then_goes_on(
    keyed_bot: Bot, tmp_path: Path
) -> None:
    bot = keyed_bot
    locker = sqlite3.connect(tmp_path / "data" / "picloud-bots.db", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        bot.fake.send_photo(bot.alice_chat, bot.alice, png_bytes(seed=55))
        await bot.fake.wait_for("sendMessage", where=_says("Busy, retrying"), timeout=20)
        assert bot.fake.pending_updates  # not confirmed to Telegram before it is kept
    finally:
        locker.execute("COMMIT")
        locker.close()

    assert len(await _viewer_messages(bot, count=1)) == 1
    assert len(bot.host.uploads) == 1


async def _kept(bot: Bot, update_id: int) -> bool:
    from sqlmodel import select
    from sqlmodel.ext.asyncio.session import AsyncSession

    from core.db.tables import InboxEvent

    async with AsyncSession(bot.core.repo._engine) as session:
        query = select(InboxEvent).where(InboxEvent.event_key == str(update_id))
        return (await session.exec(query)).first() is not None


async def test_a_429_given_up_is_back_pressure_not_an_error(
    keyed_bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    bot = keyed_bot
    bot.fake.fail_next("sendMessage", error_code=429, retry_after=1, times=4)
    bot.fake.send_text(bot.alice_chat, bot.alice, "/help")
    await bot.fake.wait_for("sendMessage", count=4, timeout=15)
    await asyncio.sleep(0.5)  # room for an apology, were one coming

    assert [c.error_code for c in bot.fake.calls_to("sendMessage")] == [429] * 4
    assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []
    assert "giving it up" in caplog.text  # one line, no traceback
