"""Private chat: media and links are uploaded without a command and answered."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.fakes.chevereto import Fault
from tests.fakes.media import big_png_file, gif_bytes, mp4_bytes, png_bytes, webm_bytes
from tests.telegram.conftest import Bot, OpenBot, button_data, person

WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8 \x0e\x00\x00\x00" + bytes(14)


async def test_photo_is_uploaded_and_answered_with_links_and_buttons(keyed_bot: Bot) -> None:
    bot = keyed_bot
    photo = png_bytes(width=40, height=30, seed=1)
    sent = bot.fake.send_photo(bot.alice_chat, bot.alice, photo, caption="Cat on a mat #cats #cute")

    answer = await bot.answer_to(bot.alice_chat, sent)

    (upload,) = bot.host.uploads.values()
    assert upload.md5 == hashlib.md5(photo).hexdigest()
    assert upload.title == "Cat on a mat"
    assert upload.fields["tags"] == "cats,cute"
    viewer = upload.image["url_viewer"]
    assert viewer in answer["text"]
    assert upload.image["url"] in answer["text"]
    buttons = button_data(answer)
    assert viewer in buttons
    assert any(data.startswith("del:") for data in buttons)
    assert any(data.startswith("codes:") for data in buttons)
    # A quick upload is answered by one message: no status message before it.
    (reply,) = bot.fake.calls_to("sendMessage")
    assert reply.params["link_preview_options"]["url"] == upload.image["thumb"]["url"]
    assert "/delete/" not in bot.everything_sent()
    assert answer["reply_to_message"]["message_id"] == sent["message"]["message_id"]
    assert bot.fake.calls_to("sendChatAction")[0].params["action"] == "upload_photo"
    # The bytes went up as a file part: the token-bearing Telegram file URL never did.
    (request,) = [r for r in bot.host.requests if r.path == "/api/1/upload"]
    assert "source" not in request.fields
    assert request.file_size == len(photo)
    assert bot.fake.token not in json.dumps(request.fields)


async def test_document_keeps_its_bytes_name_and_type(keyed_bot: Bot) -> None:
    bot = keyed_bot
    data = png_bytes(seed=2)
    sent = bot.fake.send_document(
        bot.alice_chat, bot.alice, data, file_name="holiday.png", mime_type="image/png"
    )

    await bot.answer_to(bot.alice_chat, sent)

    (request,) = [r for r in bot.host.requests if r.path == "/api/1/upload"]
    assert (request.file_name, request.file_content_type) == ("holiday.png", "image/png")
    assert request.file_md5 == hashlib.md5(data).hexdigest()


@pytest.mark.parametrize(
    ("sent_as", "host_gets"),
    [("../../etc/passwd.png", "passwd.png"), ("C:\\x\\a\x00b.png", "a_b.png"), ("..", "file_")],
)
async def test_a_documents_name_is_made_safe_before_the_host_sees_it(
    keyed_bot: Bot, sent_as: str, host_gets: str
) -> None:
    bot = keyed_bot
    sent = bot.fake.send_document(
        bot.alice_chat, bot.alice, png_bytes(seed=7), file_name=sent_as, mime_type="image/png"
    )

    await bot.answer_to(bot.alice_chat, sent)

    (request,) = [r for r in bot.host.requests if r.path == "/api/1/upload"]
    assert request.file_name.startswith(host_gets)


@pytest.mark.parametrize("kind", ["video", "animation", "video_sticker"])
async def test_videos_and_gifs_upload_as_videos(keyed_bot: Bot, kind: str) -> None:
    bot = keyed_bot
    if kind == "video":
        sent = bot.fake.send_video(bot.alice_chat, bot.alice, mp4_bytes(seed=3))
    elif kind == "animation":
        sent = bot.fake.send_animation(bot.alice_chat, bot.alice, mp4_bytes(seed=4))
    else:
        sent = bot.fake.send_sticker(bot.alice_chat, bot.alice, webm_bytes(seed=5), is_video=True)

    answer = await bot.answer_to(bot.alice_chat, sent)

    (upload,) = bot.host.uploads.values()
    assert upload.media_type == "video"
    assert upload.image["url_viewer"] in answer["text"]


async def test_static_sticker_uploads_as_webp(keyed_bot: Bot) -> None:
    bot = keyed_bot
    sent = bot.fake.send_sticker(bot.alice_chat, bot.alice, WEBP)

    await bot.answer_to(bot.alice_chat, sent)

    (upload,) = bot.host.uploads.values()
    assert upload.mime == "image/webp"


async def test_forwarded_photo_is_uploaded(keyed_bot: Bot) -> None:
    bot = keyed_bot
    sent = bot.fake.send_photo(bot.alice_chat, bot.alice, png_bytes(seed=6), forward=True)
    await bot.answer_to(bot.alice_chat, sent)
    assert len(bot.host.uploads) == 1


async def test_spoiler_means_nsfw(keyed_bot: Bot) -> None:
    bot = keyed_bot
    sent = bot.fake.send_photo(bot.alice_chat, bot.alice, png_bytes(seed=7), has_spoiler=True)
    await bot.answer_to(bot.alice_chat, sent)
    (upload,) = bot.host.uploads.values()
    assert upload.fields["nsfw"] == "1"


@pytest.mark.parametrize("kind", ["audio", "voice", "animated_sticker"])
async def test_unsupported_media_gets_a_clear_answer(keyed_bot: Bot, kind: str) -> None:
    bot = keyed_bot
    if kind == "audio":
        sent = bot.fake.send_audio(bot.alice_chat, bot.alice, b"ID3" + bytes(100))
    elif kind == "voice":
        sent = bot.fake.send_voice(bot.alice_chat, bot.alice, b"OggS" + bytes(100))
    else:
        sent = bot.fake.send_sticker(
            bot.alice_chat, bot.alice, b"\x1f\x8b" + bytes(50), is_animated=True
        )

    answer = await bot.reply_to(bot.alice_chat, sent)

    assert "cannot be uploaded" in answer["text"]
    assert bot.host.requests == []
    assert bot.fake.calls_to("getFile") == []


async def test_album_is_answered_once_listing_every_item(keyed_bot: Bot) -> None:
    bot = keyed_bot
    parts = [
        bot.fake.send_photo(bot.alice_chat, bot.alice, png_bytes(seed=10 + i), media_group_id="A1")
        for i in range(3)
    ]
    parts.append(
        bot.fake.send_document(
            bot.alice_chat,
            bot.alice,
            b"not media at all",
            file_name="notes.txt",
            mime_type="text/plain",
            media_group_id="A1",
        )
    )

    answer = await bot.answer_to(bot.alice_chat, parts[0])

    assert "Uploaded 3 of 4" in answer["text"]
    assert "notes.txt" in answer["text"]
    assert len(bot.host.uploads) == 3
    assert bot.fake.messages(bot.alice_chat["id"]) == [answer]
    assert sum(1 for data in button_data(answer) if data.startswith("del:")) == 3


async def test_links_in_a_text_are_fetched_and_uploaded(keyed_bot: Bot, link_site: str) -> None:
    bot = keyed_bot
    sent = bot.fake.send_text(
        bot.alice_chat,
        bot.alice,
        f"look {link_site}/cat.png and {link_site}/page and {link_site}/gone",
    )

    answer = await bot.answer_to(bot.alice_chat, sent)

    assert "Uploaded 1 of 3" in answer["text"]
    assert "not an image or video" in answer["text"]
    (upload,) = bot.host.uploads.values()
    assert upload.md5 == hashlib.md5(png_bytes(seed=20)).hexdigest()


async def test_links_past_the_cap_are_counted_in_the_answer(keyed_bot: Bot, link_site: str) -> None:
    bot = keyed_bot
    links = " ".join(f"{link_site}/gone?n={n}" for n in range(12))
    sent = bot.fake.send_text(bot.alice_chat, bot.alice, f"all of these: {links}")

    answer = await bot.answer_to(bot.alice_chat, sent, timeout=30)

    assert "Uploaded 0 of 12" in answer["text"]
    assert answer["text"].count("❌") == 11  # ten tried, one line for the rest
    assert "2 more links were left out: at most 10 per message." in answer["text"]


async def test_links_of_another_scheme_get_a_clear_answer(keyed_bot: Bot) -> None:
    bot = keyed_bot
    text = "grab ftp://files.example.org/cat.png"
    entities = [{"type": "url", "offset": 5, "length": len(text) - 5}]
    sent = bot.fake.send_text(bot.alice_chat, bot.alice, text, entities=entities)

    reply = await bot.reply_to(bot.alice_chat, sent)

    assert "Only http and https links" in reply["text"]
    assert bot.host.requests == []


async def test_link_to_a_private_address_is_refused(open_bot: OpenBot, link_site: str) -> None:
    async with open_bot(allow_private_urls=False) as bot:
        await bot.core.service.keys.set_user_key(
            person(bot.alice), "chv_1_testkeyAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        )
        sent = bot.fake.send_text(bot.alice_chat, bot.alice, f"{link_site}/cat.png")
        answer = await bot.answer_to(bot.alice_chat, sent)
    assert "❌" in answer["text"]
    assert bot.host.requests == []


async def test_file_over_the_bot_api_limit_is_refused_before_download(
    keyed_bot: Bot, tmp_path: Path
) -> None:
    bot = keyed_bot
    big = big_png_file(tmp_path / "big.png", 25 * 1024 * 1024, seed=30)
    sent = bot.fake.send_document(
        bot.alice_chat, bot.alice, big, file_name="big.png", mime_type="image/png"
    )

    answer = await bot.answer_to(bot.alice_chat, sent)

    # The fake is not the cloud API, so the bot asks getFile, which refuses: no download.
    assert "up to 20 MB" in answer["text"]
    assert bot.fake.downloads == []
    assert bot.host.requests == []


async def test_large_file_shows_progress_then_the_answer(keyed_bot: Bot, tmp_path: Path) -> None:
    bot = keyed_bot
    big = big_png_file(tmp_path / "big.png", 6 * 1024 * 1024, seed=31)
    sent = bot.fake.send_document(
        bot.alice_chat, bot.alice, big, file_name="big.png", mime_type="image/png"
    )

    answer = await bot.answer_to(bot.alice_chat, sent)

    # A big file shows its status at once, with progress, and that becomes the answer.
    (status,) = bot.fake.calls_to("sendMessage")
    assert status.params["text"].startswith("Uploading… ") and "%" in status.params["text"]
    assert answer["message_id"] == status.result["message_id"]
    assert "Uploaded" in answer["text"]
    (upload,) = bot.host.uploads.values()
    assert upload.size == 6 * 1024 * 1024


async def test_without_a_key_the_user_learns_how_to_get_one(bot: Bot) -> None:
    sent = bot.fake.send_photo(bot.alice_chat, bot.alice, png_bytes(seed=40))

    answer = await bot.answer_to(bot.alice_chat, sent)

    assert "/setkey KEY" in answer["text"]
    assert "/settings/api" in answer["text"]
    assert bot.host.requests == []


async def test_invalid_key_is_reported(bot: Bot) -> None:
    await bot.core.service.keys.set_user_key(
        person(bot.alice), "chv_1_revokedRRRRRRRRRRRRRRRRRRRRRRRRRRRR"
    )
    sent = bot.fake.send_photo(bot.alice_chat, bot.alice, png_bytes(seed=41))

    answer = await bot.answer_to(bot.alice_chat, sent)

    assert "refused the API key" in answer["text"]


async def test_host_down_is_reported_and_the_bot_keeps_serving(keyed_bot: Bot) -> None:
    bot = keyed_bot
    bot.host.fail_next(Fault.MAINTENANCE_503, times=2)
    first = bot.fake.send_photo(bot.alice_chat, bot.alice, png_bytes(seed=42))
    answer = await bot.answer_to(bot.alice_chat, first)
    assert "not answering" in answer["text"]

    second = bot.fake.send_photo(bot.alice_chat, bot.alice, png_bytes(seed=43))
    assert "Uploaded" in (await bot.answer_to(bot.alice_chat, second))["text"]


async def test_russian_user_reads_russian(bot: Bot) -> None:
    sent = bot.fake.send_photo(bot.bob_chat, bot.bob, gif_bytes())

    answer = await bot.answer_to(bot.bob_chat, sent)

    assert "API-ключа" in answer["text"]


async def test_on_the_cloud_api_a_big_file_is_refused_without_asking_telegram(
    open_bot: OpenBot,
) -> None:
    from bots.telegram.app import CLOUD_API_URL, build_application
    from bots.telegram.deps import DEPS_KEY
    from bots.telegram.files import BotApiFileTooBig, TelegramFile

    async with open_bot() as bot:
        settings = bot.core.settings.model_copy(update={"telegram_api_url": CLOUD_API_URL})
        cloud = build_application(settings, bot.core).bot_data[DEPS_KEY].files
        big = TelegramFile("id", "uid", 25 * 1024 * 1024, "big.png", "image/png")

        with pytest.raises(BotApiFileTooBig):
            await cloud.media(big)
        assert bot.fake.calls_to("getFile") == []
