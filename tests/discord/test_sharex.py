"""``/sharex``: a ShareX uploader with the user's own key, seen by them alone."""

from __future__ import annotations

import asyncio

from tests.discord.conftest import Bot
from tests.fakes.chevereto import USER_KEY
from tests.sharex import upload_as_sharex


async def test_sharex_answers_privately_with_an_uploader_that_works(keyed_bot: Bot) -> None:
    bot = keyed_bot
    asked = await bot.use(bot.alice, "sharex")
    response = await bot.fake.wait_for_response(asked)
    assert response.ephemeral
    assert "holds your API key" in response.data["content"]
    assert USER_KEY not in response.data["content"]
    (uploader,) = response.files
    assert uploader.filename == "picloud.sxcu"

    filled = await upload_as_sharex(await asyncio.to_thread(uploader.read_bytes))

    (upload,) = bot.host.uploads.values()
    assert upload.key == USER_KEY
    assert filled["URL"] == upload.image["url_viewer"]
    assert filled["ThumbnailURL"] == upload.image["thumb"]["url"]
    assert filled["DeletionURL"] == upload.image["delete_url"]


async def test_sharex_without_a_key_says_to_store_one_first(bot: Bot) -> None:
    response = await bot.fake.wait_for_response(await bot.use(bot.alice, "sharex"))
    assert response.ephemeral
    assert "/key set" in response.data["content"]
    assert response.files == []
