"""``/gallery`` on Discord: an ephemeral one-time link, signed and valid for ten minutes,
to the web gallery (driven here in a real browser), from a server or wherever the app is
installed by the user."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser

from core.service.gallery import LINK_LIFETIME_S, GalleryPasses
from tests.browser import PUBLIC_URL, gallery_page, gallery_server
from tests.discord.conftest import JSON, Bot, OpenBot, person
from tests.fakes.chevereto import USER_KEY
from tests.fakes.media import png_bytes


@pytest.fixture
async def gallery_bot(open_bot: OpenBot) -> AsyncIterator[Bot]:
    async with open_bot(public_url=PUBLIC_URL) as running:
        await running.core.service.keys.set_user_key(person(running.alice), USER_KEY)
        yield running


async def upload(bot: Bot, name: str, seed: int) -> None:
    attachment = bot.fake.add_attachment(png_bytes(seed=seed), name, "image/png")
    asked = await bot.use(bot.alice, "upload", attachments={"attachment": attachment})
    await bot.fake.wait_for_followups(asked, timeout=10)


async def gallery_link(bot: Bot, channel: JSON | None = None) -> str:
    if channel is None:
        asked = await bot.use(bot.alice, "gallery")
    else:
        asked = await bot.fake.slash_command(None, channel, bot.alice, "gallery")
    response = await bot.fake.wait_for_response(asked)
    assert response.ephemeral  # the link is Alice's alone
    assert "opens once, within 10 minutes" in response.data["content"]
    (row,) = response.data["components"]
    (button,) = row["components"]
    link: str = button["url"]
    return link


async def test_the_gallery_link_opens_once_for_the_user_alone(
    gallery_bot: Bot, browser: Browser
) -> None:
    bot = gallery_bot
    await upload(bot, "harbour.png", seed=61)
    await upload(bot, "lighthouse.png", seed=62)
    link = await gallery_link(bot)
    assert link.startswith(f"{PUBLIC_URL}/gallery?hl=en#link=")

    async with gallery_server(bot.core) as base:
        async with gallery_page(browser, base) as shown:
            await shown.open(link)
            assert await shown.wait_for_tiles(2) == ["lighthouse", "harbour"]
            await shown.page.click(".tile >> nth=1")
            await shown.page.locator("#delete").click()
            await shown.page.locator("#confirm-delete").click()
            await shown.wait_for_notice("Deleted.")
            assert await shown.tiles() == ["lighthouse"]
        harbour = next(u for u in bot.host.uploads.values() if u.title == "harbour")
        assert harbour.deleted
        # The same link again (forwarded, or seen over a shoulder) opens nothing.
        async with gallery_page(browser, base) as again:
            await again.open(link)
            await again.wait_for_notice("was opened before")
            assert await again.tiles() == []


async def test_a_link_older_than_ten_minutes_opens_nothing(
    gallery_bot: Bot, browser: Browser
) -> None:
    bot = gallery_bot
    await upload(bot, "harbour.png", seed=63)
    issued_before = GalleryPasses(
        bot.core.repo, PUBLIC_URL, clock=lambda: time.time() - LINK_LIFETIME_S - 1
    )
    old = issued_before.one_time_link(person(bot.alice), "en")
    fresh = await gallery_link(bot)
    forged = fresh.replace(f".{bot.alice['id']}.", f".{bot.bob['id']}.")
    assert forged != fresh

    async with gallery_server(bot.core) as base:
        for link, refusal in ((old, "has expired"), (forged, "is not valid")):
            async with gallery_page(browser, base) as shown:
                await shown.open(link)
                await shown.wait_for_notice(refusal)
                assert await shown.tiles() == []
        async with gallery_page(browser, base) as shown:
            await shown.open(f"{PUBLIC_URL}/gallery")  # no link at all
            await shown.wait_for_notice("send it /gallery")


async def test_the_gallery_works_where_the_app_is_user_installed(
    gallery_bot: Bot, browser: Browser
) -> None:
    bot = gallery_bot
    await upload(bot, "harbour.png", seed=64)
    link = await gallery_link(bot, bot.fake.elsewhere(server=False))

    async with gallery_server(bot.core) as base, gallery_page(browser, base) as shown:
        await shown.open(link)
        assert await shown.wait_for_tiles(1) == ["harbour"]


async def test_without_a_public_address_the_gallery_is_off(bot: Bot) -> None:
    response = await bot.fake.wait_for_response(await bot.use(bot.alice, "gallery"))
    assert response.ephemeral
    assert "PICLOUD_PUBLIC_URL" in response.data["content"]
    assert not response.data.get("components")
