"""The Telegram Bot API fake, driven by the real python-telegram-bot over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from telegram import (
    Animation,
    Audio,
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    ChatMemberAdministrator,
    ChatMemberLeft,
    ChatMemberOwner,
    Document,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    MessageEntity,
    MessageOriginUser,
    Sticker,
    Update,
    Video,
    Voice,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fakes import media
from tests.fakes.server import free_port
from tests.fakes.telegram import TOKEN, TelegramFake, parse_html, utf16_len

OTHER_TOKEN = "987654321:AAOtherTokenOfTheRightShape_1234567"
GROUP_ID = -1001234567890
MIB = 1024 * 1024


@pytest.fixture
async def fake() -> AsyncIterator[TelegramFake]:
    async with TelegramFake(token=TOKEN) as server:
        yield server


@pytest.fixture
async def bot(fake: TelegramFake) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=fake.api_url, base_file_url=fake.file_url) as client:
        yield client


@contextlib.asynccontextmanager
async def polling(
    fake: TelegramFake, *handlers: BaseHandler[Any, Any, Any]
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """A real Application long-polling the fake with ``handlers``."""
    app = ApplicationBuilder().token(TOKEN).base_url(fake.api_url).base_file_url(fake.file_url)
    application = app.build()
    for handler in handlers:
        application.add_handler(handler)
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=5)
        try:
            yield application
        finally:
            await application.updater.stop()
            await application.stop()


def alice_in_private(fake: TelegramFake) -> tuple[dict[str, Any], dict[str, Any]]:
    alice = fake.user(1001, "Alice", username="alice")
    return fake.private_chat(alice), alice


# --- the HTTP surface ----------------------------------------------------------------------


async def test_get_me_reports_privacy_mode(fake: TelegramFake, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (fake.bot_id, True, "picloud_test_bot")
    assert me.can_read_all_group_messages is False  # privacy mode is on by default

    fake.privacy_mode = False
    assert (await bot.get_me()).can_read_all_group_messages is True


async def test_wrong_token_and_unknown_method(fake: TelegramFake) -> None:
    async with httpx.AsyncClient() as http:
        unknown = await http.post(f"{fake.api_url}{TOKEN}/noSuchMethod")
        wrong = await http.post(f"{fake.api_url}{OTHER_TOKEN}/getMe")
        malformed = await http.post(f"{fake.api_url}123:short/getMe")
        case_insensitive = await http.get(f"{fake.api_url}{TOKEN}/GETME")
    assert unknown.status_code == 404
    assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert (wrong.status_code, wrong.json()["description"]) == (401, "Unauthorized")
    assert malformed.status_code == 404
    assert case_insensitive.json()["result"]["id"] == fake.bot_id
    assert [call.method for call in fake.calls] == ["noSuchMethod", "getMe"]

    with pytest.raises(InvalidToken):
        async with Bot(OTHER_TOKEN, base_url=fake.api_url):
            pass


async def test_parameters_read_alike_from_json_form_and_multipart(fake: TelegramFake) -> None:
    chat, _ = alice_in_private(fake)
    markup = '{"inline_keyboard": [[{"text": "Open", "url": "https://picloud.cc/x"}]]}'
    url = f"{fake.api_url}{TOKEN}/sendMessage"
    fields = {"chat_id": str(chat["id"]), "text": "123", "reply_markup": markup}
    async with httpx.AsyncClient() as http:
        await http.post(url, json={**fields, "chat_id": chat["id"]})
        await http.post(url, data=fields)
        await http.post(url, data=fields, files={"unused": ("a.txt", b"x", "text/plain")})

    sent = fake.calls_to("sendMessage")
    assert [call.ok for call in sent] == [True, True, True]
    for call in sent:
        assert call.params["chat_id"] == chat["id"]
        assert call.params["text"] == "123"  # a string parameter is never JSON-decoded
        assert call.params["reply_markup"]["inline_keyboard"][0][0]["text"] == "Open"
    assert sent[2].files["unused"][:3] == ("a.txt", 1, "text/plain")
    assert fake.messages(chat["id"])[0]["reply_markup"]["inline_keyboard"][0][0]["url"]


# --- long polling ------------------------------------------------------------------------------


async def test_polling_delivers_commands_and_links_to_handlers(fake: TelegramFake) -> None:
    chat, alice = alice_in_private(fake)
    links: list[str] = []
    linked = asyncio.Event()

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"hi {context.args}", do_quote=True)

    async def link(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        links.extend(update.effective_message.parse_entities([MessageEntity.URL]).values())
        linked.set()

    handlers = (CommandHandler("start", start), MessageHandler(filters.Entity("url"), link))
    async with polling(fake, *handlers):
        command = fake.send_text(chat, alice, "/start now")
        fake.send_text(chat, alice, "look: https://example.org/cat.png, nice")
        await fake.wait_for("sendMessage")
        await asyncio.wait_for(linked.wait(), timeout=5)

    reply = fake.messages(chat["id"])[-1]
    assert reply["text"] == "hi ['now']"
    assert reply["reply_to_message"]["message_id"] == command["message"]["message_id"]
    assert links == ["https://example.org/cat.png"]
    assert fake.pending_updates == []  # confirmed by the next offset


async def test_callback_query_reaches_its_handler(fake: TelegramFake) -> None:
    chat, alice = alice_in_private(fake)

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.data == "del:1"
        await query.answer("Deleted", show_alert=True)
        await query.edit_message_text("Gone")

    async with polling(fake, CallbackQueryHandler(pressed)) as app:
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Delete", callback_data="del:1")]])
        sent = await app.bot.send_message(chat["id"], "Uploaded", reply_markup=keyboard)
        update = fake.press_button(chat, alice, sent.message_id, "del:1")
        await fake.wait_for("editMessageText")

    query_id = update["callback_query"]["id"]
    assert fake.callback_answers[query_id] == {"text": "Deleted", "show_alert": True, "url": None}
    (message,) = fake.messages(chat["id"])
    assert message["text"] == "Gone"
    assert "reply_markup" not in message  # an edit without a keyboard removes it
    with pytest.raises(ValueError, match="no button"):
        fake.press_button(chat, alice, sent.message_id, "del:1")


async def test_long_poll_waits_and_returns_when_an_update_arrives(
    fake: TelegramFake, bot: Bot
) -> None:
    chat, alice = alice_in_private(fake)
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await fake.wait_for("getUpdates")
    assert not poll.done()

    queued = fake.send_text(chat, alice, "hello")
    (update,) = await asyncio.wait_for(poll, timeout=2)  # long before the 10 s timeout
    assert update.update_id == queued["update_id"]
    assert update.message is not None and update.message.text == "hello"

    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()
    assert fake.pending_updates == []


async def test_offset_limit_and_allowed_updates(fake: TelegramFake, bot: Bot) -> None:
    chat, alice = alice_in_private(fake)
    for text in ("one", "two", "three"):
        fake.send_text(chat, alice, text)

    first = await bot.get_updates(limit=2, timeout=0)
    assert [u.message.text for u in first if u.message] == ["one", "two"]
    rest = await bot.get_updates(
        offset=first[-1].update_id + 1, allowed_updates=["message"], timeout=0
    )
    assert [u.message.text for u in rest if u.message] == ["three"]

    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="x")]])
    sent = await bot.send_message(chat["id"], "pick", reply_markup=keyboard)
    fake.press_button(chat, alice, sent.message_id, "x")
    # allowed_updates is remembered: the callback query is dropped.
    assert await bot.get_updates(offset=rest[-1].update_id + 1, timeout=0) == ()


async def test_a_second_poller_and_a_webhook_conflict(fake: TelegramFake, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=10))
    await fake.wait_for("getUpdates")
    # A second instance of the bot (PTB allows one getUpdates per Bot at a time).
    async with Bot(TOKEN, base_url=fake.api_url) as second_instance:
        assert await second_instance.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await first

    await bot.set_webhook("https://bot.example/hook")
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates(timeout=0)


# --- webhooks --------------------------------------------------------------------------------


async def test_webhook_registration_and_delivery(fake: TelegramFake, bot: Bot) -> None:
    received: list[tuple[str | None, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        received.append((secret, await request.json()))
        return web.Response(status=200 if secret == "s3cret-token_1" else 403)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        chat, alice = alice_in_private(fake)
        fake.send_text(chat, alice, "stale")
        url = f"http://127.0.0.1:{port}/hook"
        await bot.set_webhook(
            url, secret_token="s3cret-token_1", drop_pending_updates=True, max_connections=5
        )
        assert fake.webhook is not None
        assert (fake.webhook.url, fake.webhook.secret_token) == (url, "s3cret-token_1")
        assert fake.webhook.drop_pending_updates is True
        info = await bot.get_webhook_info()
        assert (info.url, info.pending_update_count, info.max_connections) == (url, 0, 5)

        update = fake.send_text(chat, alice, "via webhook")
        assert await fake.deliver_webhook(update, secret_token="s3cret-token_1") == 200
        assert await fake.deliver_webhook(update, secret_token="wrong") == 403
    finally:
        await runner.cleanup()

    assert received == [("s3cret-token_1", update), ("wrong", update)]
    with pytest.raises(BadRequest, match="unallowed characters"):
        await bot.set_webhook(url, secret_token="not/base64=")
    await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == ""


async def test_ptb_webhook_mode_receives_delivered_updates(fake: TelegramFake) -> None:
    chat, alice = alice_in_private(fake)
    seen: list[str] = []

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text
        seen.append(update.effective_message.text)

    application = (
        ApplicationBuilder().token(TOKEN).base_url(fake.api_url).base_file_url(fake.file_url)
    ).build()
    application.add_handler(MessageHandler(filters.TEXT, echo))
    port = free_port()
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path="tg",
            webhook_url=f"http://127.0.0.1:{port}/tg",
            secret_token="shared_secret",
        )
        try:
            update = fake.send_text(chat, alice, "hello hook")
            assert await fake.deliver_webhook(update, secret_token="nope") == 403
            assert await fake.deliver_webhook(update, secret_token="shared_secret") == 200
            for _ in range(100):
                if seen:
                    break
                await asyncio.sleep(0.01)
        finally:
            await application.updater.stop()
            await application.stop()

    assert seen == ["hello hook"]
    assert fake.calls_to("setWebhook")[0].params["secret_token"] == "shared_secret"


# --- files -------------------------------------------------------------------------------------


async def test_files_download_streamed_and_recorded(
    fake: TelegramFake, bot: Bot, tmp_path: Path
) -> None:
    small = fake.add_file(b"tiny bytes", file_path="documents/tiny.txt")
    big_path = tmp_path / "big.bin"
    big_path.write_bytes(bytes(range(256)) * (3 * 4096))  # 3 MiB
    big = fake.add_file(big_path)

    tg_file = await bot.get_file(small.file_id)
    assert tg_file.file_path == f"{fake.file_url}{TOKEN}/documents/tiny.txt"
    assert bytes(await tg_file.download_as_bytearray()) == b"tiny bytes"

    buffer = io.BytesIO()
    await (await bot.get_file(big.file_id)).download_to_memory(buffer)
    assert (
        hashlib.sha256(buffer.getvalue()).digest() == hashlib.sha256(big_path.read_bytes()).digest()
    )
    assert [(d.file_id, d.size) for d in fake.downloads] == [
        (small.file_id, 10),
        (big.file_id, 3 * MIB),
    ]

    async with httpx.AsyncClient() as http:
        missing = await http.get(f"{fake.file_url}{TOKEN}/documents/nothing.bin")
        wrong_token = await http.get(f"{fake.file_url}{OTHER_TOKEN}/documents/tiny.txt")
    assert (missing.status_code, wrong_token.status_code) == (404, 404)
    with pytest.raises(BadRequest, match="Invalid file_id"):
        await bot.get_file("no-such-file")


async def test_files_over_the_download_limit_are_too_big(
    fake: TelegramFake, bot: Bot, tmp_path: Path
) -> None:
    huge_path = tmp_path / "huge.mp4"
    with huge_path.open("wb") as out:
        out.truncate(25 * 1000 * 1000)  # sparse: costs nothing to make
    huge = fake.add_file(huge_path)
    with pytest.raises(BadRequest, match="File is too big"):
        await bot.get_file(huge.file_id)

    fake.max_download_bytes = 100
    assert (await bot.get_file(fake.add_file(bytes(100)).file_id)).file_size == 100
    with pytest.raises(BadRequest, match="File is too big"):
        await bot.get_file(fake.add_file(bytes(101)).file_id)


async def test_photo_sent_as_upload_url_or_file_id(fake: TelegramFake, bot: Bot) -> None:
    chat, _ = alice_in_private(fake)
    png = media.png_bytes(40, 30)

    uploaded = await bot.send_photo(
        chat["id"], png, caption="<b>new</b>", parse_mode="HTML", filename="cat.png"
    )
    call = fake.calls_to("sendPhoto")[0]
    assert call.source("photo") == "upload"
    assert (call.files["photo"].size, call.files["photo"].content_type) == (len(png), "image/png")
    largest = uploaded.photo[-1]
    assert (largest.width, largest.height, largest.file_size) == (40, 30, len(png))
    assert [size.width for size in uploaded.photo] == sorted(size.width for size in uploaded.photo)
    assert uploaded.caption == "new"
    assert uploaded.caption_entities[0].type == MessageEntity.BOLD
    assert bytes(await (await bot.get_file(largest.file_id)).download_as_bytearray()) == png

    await bot.send_photo(chat["id"], "https://picloud.cc/images/cat.png")
    again = await bot.send_photo(chat["id"], largest.file_id)
    assert [c.source("photo") for c in fake.calls_to("sendPhoto")] == ["upload", "url", "file_id"]
    assert again.photo[-1].file_id == largest.file_id
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await bot.send_photo(chat["id"], "AgADnot-a-known-id")

    document = await bot.send_document(chat["id"], b"%PDF-1.4 tiny", filename="report.pdf")
    assert document.document is not None
    assert (document.document.file_name, document.document.mime_type) == (
        "report.pdf",
        "application/pdf",
    )


async def test_media_group_copy_and_forward(fake: TelegramFake, bot: Bot) -> None:
    chat, alice = alice_in_private(fake)
    album = await bot.send_media_group(
        chat["id"],
        [InputMediaPhoto(media.png_bytes(seed=1)), InputMediaPhoto(media.png_bytes(seed=2))],
    )
    assert len({message.media_group_id for message in album}) == 1
    assert len(fake.messages(chat["id"])) == 2

    original = fake.send_text(chat, alice, "keep this")["message"]
    copied = await bot.copy_message(chat["id"], chat["id"], original["message_id"])
    forwarded = await bot.forward_message(chat["id"], chat["id"], original["message_id"])
    assert fake.message(chat["id"], copied.message_id)["text"] == "keep this"  # type: ignore[index]
    assert isinstance(forwarded.forward_origin, MessageOriginUser)
    assert forwarded.forward_origin.sender_user.id == alice["id"]


# --- injected updates parse as PTB objects ---------------------------------------------------


async def test_injected_media_parse_as_ptb_objects(fake: TelegramFake, bot: Bot) -> None:
    chat, alice = alice_in_private(fake)
    png = media.png_bytes(1600, 1200)
    friend = fake.user(2002, "Bob")
    fake.send_photo(chat, alice, png, caption="see https://x.org", forward=friend)
    fake.send_document(
        chat, alice, b"PK\x03\x04zip", file_name="a.zip", mime_type="application/zip"
    )
    fake.send_video(chat, alice, media.mp4_bytes(), duration=7)
    fake.send_animation(chat, alice, media.mp4_bytes(seed=1))
    fake.send_sticker(chat, alice, b"RIFF....WEBPVP8 ")
    fake.send_audio(chat, alice, b"ID3 mp3", title="Song")
    fake.send_voice(chat, alice, b"OggS voice")

    updates = await bot.get_updates(timeout=0)
    photo_message, *others = [u.message for u in updates if u.message]

    sizes = photo_message.photo
    assert len(sizes) == 3 and sizes[0].width < sizes[1].width < sizes[2].width
    assert (sizes[-1].width, sizes[-1].height) == (1600, 1200)
    largest = await (await bot.get_file(sizes[-1].file_id)).download_as_bytearray()
    assert bytes(largest) == png
    assert photo_message.parse_caption_entities([MessageEntity.URL]) == {
        photo_message.caption_entities[0]: "https://x.org"
    }
    assert isinstance(photo_message.forward_origin, MessageOriginUser)

    kinds = [type(message.effective_attachment) for message in others]
    assert kinds == [Document, Video, Animation, Sticker, Audio, Voice]
    assert others[1].to_dict()["video"]["duration"] == 7
    assert others[2].document is not None  # GIFs come as animation and document
    assert others[2].document.file_id == others[2].animation.file_id  # type: ignore[union-attr]
    assert others[0].document is not None and others[0].document.file_name == "a.zip"


def test_text_entities_use_utf16_offsets(fake: TelegramFake) -> None:
    chat, alice = alice_in_private(fake)
    message = fake.send_text(chat, alice, "😀 https://a.b/c")["message"]
    assert message["entities"] == [{"type": "url", "offset": 3, "length": 13}]
    command = fake.send_text(chat, alice, "/upload@picloud_test_bot https://a.b")["message"]
    assert [e["type"] for e in command["entities"]] == ["bot_command", "url"]


# --- error injection and the server's own refusals ---------------------------------------


# PTB warns that retry_after will become a timedelta; either form is fine here.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_flood_errors_then_success(fake: TelegramFake, bot: Bot) -> None:
    chat, _ = alice_in_private(fake)
    fake.fail_next("sendMessage", retry_after=3, times=2)
    for _ in range(2):
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(chat["id"], "hi")
        assert caught.value.retry_after in (3, dt.timedelta(seconds=3))
    await bot.send_message(chat["id"], "hi")
    assert [c.error_code for c in fake.calls_to("sendMessage")] == [429, 429, None]
    assert len(fake.messages(chat["id"])) == 1  # the failed calls did nothing


async def test_blocked_user_and_injected_server_errors(fake: TelegramFake, bot: Bot) -> None:
    chat, _ = alice_in_private(fake)
    fake.blocked_chats.add(chat["id"])
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(chat["id"], "hi")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(424242, "hi")
    stranger = fake.user(5005, "Stranger")
    with pytest.raises(Forbidden, match="can't initiate conversation"):
        await bot.send_message(stranger["id"], "hi")
    fake.fail_next("getMe", error_code=502)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.get_me()


async def test_uploads_over_the_limit_are_refused(fake: TelegramFake, bot: Bot) -> None:
    chat, _ = alice_in_private(fake)
    fake.max_upload_bytes = 1000
    with pytest.raises(NetworkError, match="Request Entity Too Large"):
        await bot.send_document(chat["id"], bytes(200_000), filename="big.bin")
    assert fake.calls_to("sendDocument")[0].error_code == 413
    assert fake.messages(chat["id"]) == []


async def test_edits_and_deletions_update_the_store(fake: TelegramFake, bot: Bot) -> None:
    chat, _ = alice_in_private(fake)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Delete", callback_data="d")]])
    sent = await bot.send_message(chat["id"], "Uploading…", reply_markup=keyboard)
    ids = {"chat_id": chat["id"], "message_id": sent.message_id}

    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("Uploading…", **ids, reply_markup=keyboard)
    await bot.edit_message_text("Done", **ids)
    assert fake.messages(chat["id"])[0]["text"] == "Done"
    assert "reply_markup" not in fake.messages(chat["id"])[0]

    await bot.edit_message_reply_markup(**ids, reply_markup=keyboard)
    assert fake.messages(chat["id"])[0]["reply_markup"] == keyboard.to_dict()
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(**ids, reply_markup=keyboard)
    with pytest.raises(BadRequest, match="There is no caption in the message to edit"):
        await bot.edit_message_caption(**ids, caption="x")
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", chat_id=chat["id"], message_id=999)

    photo = await bot.send_photo(chat["id"], media.png_bytes(), caption="old")
    edited = await bot.edit_message_media(
        InputMediaPhoto(media.png_bytes(seed=5), caption="new"),
        chat_id=chat["id"],
        message_id=photo.message_id,
    )
    assert isinstance(edited, type(photo)) and edited.caption == "new"
    assert edited.photo[-1].file_id != photo.photo[-1].file_id

    assert await bot.delete_message(chat["id"], sent.message_id)
    assert [m["message_id"] for m in fake.messages(chat["id"])] == [photo.message_id]
    assert fake.deleted == [(chat["id"], sent.message_id)]
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(chat["id"], sent.message_id)


async def test_html_parse_mode_is_parsed_strictly(fake: TelegramFake, bot: Bot) -> None:
    chat, _ = alice_in_private(fake)
    sent = await bot.send_message(
        chat["id"],
        '  <b>Done</b> <a href="https://picloud.cc/i/x">view</a> &lt;3 &copy;  ',
        parse_mode=ParseMode.HTML,
    )
    assert sent.text == "Done view <3 &copy;"
    assert [(e.type, e.offset, e.length, e.url) for e in sent.entities] == [
        (MessageEntity.BOLD, 0, 4, None),
        (MessageEntity.TEXT_LINK, 5, 4, "https://picloud.cc/i/x"),
    ]
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities: unsupported start tag"):
        await bot.send_message(chat["id"], "a < b", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(chat["id"], "<b> </b>", parse_mode=ParseMode.HTML)


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("é<p>", 'Unsupported start tag "p" at byte offset 2'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ("<a href=x/>", "Unexpected end of name token at byte offset 8"),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler"'),
    ],
)
def test_html_errors_read_like_the_server(source: str, error: str) -> None:
    with pytest.raises(ValueError, match=re.escape(error)):
        parse_html(source)


def test_html_pre_code_language_and_utf16_offsets() -> None:
    text, entities = parse_html('😀 <pre><code class="language-python">x = 1</code></pre>')
    assert text == "😀 x = 1"
    assert entities == [{"type": "pre", "offset": 3, "length": 5, "language": "python"}]
    assert utf16_len("😀") == 2


async def test_commands_are_stored_per_language_and_scope(fake: TelegramFake, bot: Bot) -> None:
    english = [BotCommand("upload", "Upload media"), BotCommand("setkey", "Set your key")]
    german = [BotCommand("upload", "Medien hochladen")]
    await bot.set_my_commands(english)
    await bot.set_my_commands(german, language_code="de")
    await bot.set_my_commands(
        [BotCommand("mirror", "Mirror")], scope=BotCommandScopeAllGroupChats()
    )

    assert await bot.get_my_commands() == tuple(english)
    assert await bot.get_my_commands(language_code="de") == tuple(german)
    assert await bot.get_my_commands(language_code="fr") == ()
    assert fake.my_commands(scope={"type": "all_group_chats"}) == [
        {"command": "mirror", "description": "Mirror"}
    ]
    await bot.delete_my_commands(language_code="de")
    assert fake.my_commands("de") is None
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("/Upload", "bad")])


# --- chats, members and privacy ------------------------------------------------------------


async def test_members_rights_and_deleting_users_messages(fake: TelegramFake, bot: Bot) -> None:
    group = fake.group(GROUP_ID, "Photos")
    owner, admin, bob = fake.user(1, "Owner"), fake.user(2, "Admin"), fake.user(3, "Bob")
    fake.set_member(GROUP_ID, owner["id"], "creator")
    fake.set_member(GROUP_ID, admin["id"], "administrator", can_delete_messages=False)
    fake.set_member(GROUP_ID, bob["id"], "member")

    chat = await bot.get_chat(GROUP_ID)
    assert (chat.title, chat.type) == ("Photos", "supergroup")
    admin_member = await bot.get_chat_member(GROUP_ID, admin["id"])
    assert isinstance(admin_member, ChatMemberAdministrator)
    assert admin_member.can_delete_messages is False
    assert isinstance(await bot.get_chat_member(GROUP_ID, owner["id"]), ChatMemberOwner)
    assert isinstance(await bot.get_chat_member(GROUP_ID, 999), ChatMemberLeft)
    admins = await bot.get_chat_administrators(GROUP_ID)
    assert {member.user.id for member in admins} == {owner["id"], admin["id"]}
    assert await bot.get_chat_member_count(GROUP_ID) == 4  # the bot counts

    fake.privacy_mode = False
    key_message = fake.send_text(group, bob, "my key chv_1_secret")["message"]
    with pytest.raises(BadRequest, match="Message can't be deleted"):
        await bot.delete_message(GROUP_ID, key_message["message_id"])
    fake.set_member(GROUP_ID, fake.bot_id, "administrator", can_delete_messages=True)
    assert (await bot.get_chat_member(GROUP_ID, fake.bot_id)).status == "administrator"
    assert await bot.delete_message(GROUP_ID, key_message["message_id"])
    assert fake.message(GROUP_ID, key_message["message_id"]) is None


async def test_privacy_mode_withholds_plain_group_messages(fake: TelegramFake, bot: Bot) -> None:
    group = fake.group(GROUP_ID, "Photos")
    bob = fake.user(3, "Bob")
    fake.send_text(group, bob, "just chatting")
    fake.send_photo(group, bob, media.png_bytes())
    fake.send_text(group, bob, "/upload@someotherbot")
    delivered = [
        fake.send_text(group, bob, "/upload"),
        fake.send_text(group, bob, "/mirror@picloud_test_bot on"),
        fake.send_text(group, bob, "hey @picloud_test_bot"),
    ]
    bot_message = await bot.send_message(GROUP_ID, "Mirroring is on")
    delivered.append(fake.send_text(group, bob, "thanks", reply_to=bot_message.message_id))
    assert len(fake.withheld) == 3
    assert fake.pending_updates == delivered

    fake.set_member(GROUP_ID, fake.bot_id, "administrator")
    admin_sees = fake.send_text(group, bob, "admins see everything")
    fake.privacy_mode = False
    fake.set_member(GROUP_ID, fake.bot_id, "member")
    no_privacy = fake.send_text(group, bob, "so does a bot without privacy")
    assert fake.pending_updates[-2:] == [admin_sees, no_privacy]

    fake.my_chat_member(group, bob, status="kicked", old_status="member")
    with pytest.raises(Forbidden, match="bot was kicked"):
        await bot.send_message(GROUP_ID, "hello?")


async def test_buttons_and_callback_answers_are_checked(fake: TelegramFake, bot: Bot) -> None:
    chat, alice = alice_in_private(fake)
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(chat["id"], "x", reply_markup=too_long)
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query("12345")
    plain = fake.send_text(chat, alice, "no buttons here")["message"]
    with pytest.raises(ValueError, match="no button"):
        fake.press_button(chat, alice, plain["message_id"], "x")


async def test_wait_for_reports_what_it_saw(fake: TelegramFake, bot: Bot) -> None:
    chat, _ = alice_in_private(fake)
    await bot.send_chat_action(chat["id"], "upload_photo")
    calls = await fake.wait_for(
        "sendChatAction", where=lambda c: c.params["action"] == "upload_photo"
    )
    assert calls[0].ok
    with pytest.raises(TimeoutError, match=r"0 of 1 sendMessage calls .*sendChatAction"):
        await fake.wait_for("sendMessage", timeout=0.05)
