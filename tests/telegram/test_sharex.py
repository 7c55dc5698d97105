"""``/sharex``: a ShareX uploader with the user's own key, in the private chat only."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.fakes.chevereto import USER_KEY
from tests.sharex import upload_as_sharex
from tests.telegram.conftest import Bot


async def test_sharex_sends_an_uploader_that_uploads_with_the_users_key(keyed_bot: Bot) -> None:
    bot = keyed_bot
    asked = bot.fake.send_text(bot.alice_chat, bot.alice, "/sharex")
    (sent,) = await bot.fake.wait_for("sendDocument")
    uploader = sent.files["document"]
    assert uploader.filename == "picloud.sxcu"
    assert sent.params["reply_parameters"]["message_id"] == asked["message"]["message_id"]
    assert "holds your API key" in sent.params["caption"]
    assert USER_KEY not in sent.params["caption"]

    filled = await upload_as_sharex(await asyncio.to_thread(Path(uploader.path).read_bytes))

    (upload,) = bot.host.uploads.values()  # uploaded with Alice's key, as ShareX would
    assert upload.key == USER_KEY
    assert filled["URL"] == upload.image["url_viewer"]
    assert filled["ThumbnailURL"] == upload.image["thumb"]["url"]
    assert filled["DeletionURL"] == upload.image["delete_url"]


async def test_sharex_in_a_group_points_to_the_private_chat(keyed_bot: Bot) -> None:
    bot = keyed_bot
    asked = bot.fake.send_text(bot.group, bot.alice, "/sharex")
    reply = await bot.reply_to(bot.group, asked)
    assert "private chat" in reply["text"]
    assert bot.fake.calls_to("sendDocument") == []


async def test_sharex_without_a_key_says_to_store_one_first(bot: Bot) -> None:
    asked = bot.fake.send_text(bot.alice_chat, bot.alice, "/sharex")
    reply = await bot.reply_to(bot.alice_chat, asked)
    assert "/setkey" in reply["text"]
    assert bot.fake.calls_to("sendDocument") == []
