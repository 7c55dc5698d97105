"""``/gallery`` on Telegram: a Mini App button in the private chat; the page, in a real
browser, signs in with the launch data Telegram signs and shows the user's uploads to
search, copy and delete. No page and no answer of the gallery holds a delete link or a
key."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.async_api import Browser

from bots.gallery.server import PAGE_SIZE
from core.chevereto.models import UploadSource
from core.service.gallery import GalleryPasses
from core.service.types import MediaInput, UploadRequest
from tests.browser import (
    PHONE,
    PUBLIC_URL,
    GalleryPage,
    api,
    gallery_page,
    gallery_server,
    session_of,
)
from tests.fakes.chevereto import USER_KEY
from tests.fakes.media import gif_bytes, jpeg_bytes, png_bytes
from tests.fakes.server import free_port
from tests.telegram.conftest import JSON, Bot, OpenBot, button_data, person


@pytest.fixture
async def gallery_bot(open_bot: OpenBot) -> AsyncIterator[Bot]:
    """A bot that tells of its gallery at PUBLIC_URL (https: a Mini App); Alice has a key."""
    async with open_bot(public_url=PUBLIC_URL) as running:
        await running.core.service.keys.set_user_key(person(running.alice), USER_KEY)
        yield running


async def upload(bot: Bot, content: bytes, caption: str, user: JSON | None = None) -> None:
    user = user or bot.alice
    chat = bot.alice_chat if user is bot.alice else bot.bob_chat
    await bot.answer_to(chat, bot.fake.send_photo(chat, user, content, caption=caption))


async def mini_app_address(bot: Bot, user: JSON, chat: JSON, **launch: float) -> str:
    """Send /gallery, and open its Mini App button as the user's Telegram client does."""
    asked = bot.fake.send_text(chat, user, "/gallery")
    answer = await bot.reply_to(chat, asked)
    return bot.fake.open_web_app(chat, user, answer["message_id"], **launch)


def host_upload(bot: Bot, title: str) -> JSON:
    image: JSON = next(u.image for u in bot.host.uploads.values() if u.title == title)
    return image


def leaked(bot: Bot, answers: list[str]) -> list[str]:
    """Delete links and keys found in what the gallery answered."""
    secrets = [USER_KEY, *(u.image["delete_url"] for u in bot.host.uploads.values())]
    return [secret for secret in secrets for answer in answers if secret in answer]


async def test_the_gallery_opens_as_a_mini_app_to_search_copy_and_delete(
    gallery_bot: Bot, browser: Browser
) -> None:
    bot = gallery_bot
    await upload(bot, jpeg_bytes(9, 9), "Sunset at the beach")
    await upload(bot, png_bytes(seed=41), "Cat on a mat\nvery sleepy #fluffy")
    await upload(bot, gif_bytes(), "Dancing receipt")
    await upload(bot, png_bytes(seed=42), "Bob's dog", user=bot.bob)

    asked = bot.fake.send_text(bot.alice_chat, bot.alice, "/gallery")
    answer = await bot.reply_to(bot.alice_chat, asked)
    (button,) = answer["reply_markup"]["inline_keyboard"][0]
    assert button["web_app"]["url"] == f"{PUBLIC_URL}/gallery?hl=en"
    address = bot.fake.open_web_app(bot.alice_chat, bot.alice, answer["message_id"])

    async with gallery_server(bot.core) as base, gallery_page(browser, base) as shown:
        await shown.open(address)
        # Alice's uploads, newest first; not Bob's.
        assert await shown.wait_for_tiles(3) == [
            "Dancing receipt",
            "Cat on a mat",
            "Sunset at the beach",
        ]
        assert await shown.search("FLUFFY", 1) == ["Cat on a mat"]
        assert await shown.search("sleepy cat", 1) == ["Cat on a mat"]
        await shown.search("dog", 0)
        await shown.wait_for_notice("No upload matches your search.")
        assert await shown.search("", 3)

        cat = host_upload(bot, "Cat on a mat")
        await shown.page.click("#grid .tile >> nth=1")
        details = shown.page.locator("#details")
        await details.wait_for()
        assert await details.locator("#details-title").text_content() == "Cat on a mat"
        assert await details.locator("#details-open").get_attribute("href") == cat["url_viewer"]
        await shown.screenshot("gallery-codes")
        await _copy(shown, "Viewer link")
        assert await shown.clipboard() == cat["url_viewer"]
        await _copy(shown, "Full size, linked")  # Markdown first
        assert await shown.clipboard() == f"[![Cat on a mat]({cat['url']})]({cat['url_viewer']})"
        await details.get_by_role("tab", name="BBCode").click()
        await _copy(shown, "Full size")
        assert await shown.clipboard() == f"[img]{cat['url']}[/img]"
        await details.get_by_role("tab", name="HTML").click()
        await _copy(shown, "Thumbnail, linked")
        thumb = cat["thumb"]["url"]
        expected = f'<a href="{cat["url_viewer"]}"><img src="{thumb}" alt="Cat on a mat"></a>'
        assert await shown.clipboard() == expected

        # Delete asks first; keeping keeps it.
        await details.locator("#delete").click()
        await shown.page.locator("#confirm #keep").click()
        assert not bot.host.uploads[_host_id(cat)].deleted
        await details.locator("#delete").click()
        confirm = shown.page.locator("#confirm")
        assert "removed from picloud for good" in (await confirm.text_content() or "")
        await confirm.locator("#confirm-delete").click()
        await shown.wait_for_notice("Deleted.")
        assert await shown.tiles() == ["Dancing receipt", "Sunset at the beach"]
        assert bot.host.uploads[_host_id(cat)].deleted
        await shown.page.reload()  # the session outlives a reload; the deleted stays gone
        assert await shown.wait_for_tiles(2) == ["Dancing receipt", "Sunset at the beach"]
    assert len(shown.answers) > 10 and leaked(bot, shown.answers) == []


async def _copy(shown: GalleryPage, label: str) -> None:
    row = shown.page.locator("#details .code", has_text=label).first
    await row.locator("button.copy").click()
    await row.locator("button.copy", has_text="Copied").wait_for()


def _host_id(image: JSON) -> str:
    return str(image["id_encoded"])


async def test_at_phone_width_the_gallery_fits_the_screen(
    gallery_bot: Bot, browser: Browser
) -> None:
    bot = gallery_bot
    titles = [
        "Night train to the coast, a title too long for its tile",
        "Harbour at dawn",
        "Lighthouse",
        "Grandma's garden",
        "Cat on the windowsill",
        "Snow in the park",
        "Market day",
    ]
    for n, title in enumerate(titles):
        await upload(bot, png_bytes(8, 8, seed=100 + n), title)
    address = await mini_app_address(bot, bot.alice, bot.alice_chat)

    async with (
        gallery_server(bot.core) as base,
        gallery_page(browser, base, viewport=PHONE) as shown,
    ):
        await shown.open(address)
        await shown.wait_for_tiles(7)
        page = shown.page
        await page.wait_for_function(
            "() => [...document.querySelectorAll('.tile img')].every(i => i.naturalWidth)"
        )
        width = await page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"]  # nothing wider than the screen
        boxes = [await tile.bounding_box() for tile in await page.locator(".tile").all()]
        assert all(
            box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] for box in boxes
        )
        columns = {round(box["x"]) for box in boxes if box}
        assert len(columns) == 3  # three thumbnails a row on a phone
        screenshot = await shown.screenshot("gallery-phone")
        assert await shown.drawn_share(screenshot, tile=0) > 0.9  # the thumbnail shows
        assert await shown.drawn_share(screenshot, tile=6) > 0.9  # on the third row too

        await page.locator(".tile").first.click()
        dialog = await page.locator("#details").bounding_box()
        assert dialog and dialog["width"] <= PHONE["width"]
        code_rows = page.locator("#details .code button.copy")
        assert await code_rows.count() >= 2
        for index in range(await code_rows.count()):
            copy = await code_rows.nth(index).bounding_box()
            assert copy and copy["x"] + copy["width"] <= PHONE["width"]  # reachable


async def test_the_gallery_speaks_the_users_language(gallery_bot: Bot, browser: Browser) -> None:
    bot = gallery_bot
    await bot.core.service.keys.set_user_key(person(bot.bob), USER_KEY)
    await upload(bot, png_bytes(seed=7), "Кот", user=bot.bob)
    address = await mini_app_address(bot, bot.bob, bot.bob_chat)
    assert "/gallery?hl=ru#" in address

    async with gallery_server(bot.core) as base, gallery_page(browser, base) as shown:
        await shown.open(address)
        assert await shown.wait_for_tiles(1) == ["Кот"]
        assert await shown.page.locator("h1").text_content() == "Ваши загрузки"
        await shown.page.click(".tile")
        assert await shown.page.locator("#delete").text_content() == "Удалить"


async def test_in_a_group_the_gallery_points_to_the_private_chat(gallery_bot: Bot) -> None:
    bot = gallery_bot
    asked = bot.fake.send_text(bot.group, bot.alice, "/gallery")
    reply = await bot.reply_to(bot.group, asked)
    (link,) = button_data(reply)
    assert link == f"https://t.me/{bot.fake.bot_user['username']}?start=gallery"

    started = bot.fake.send_text(bot.alice_chat, bot.alice, "/start gallery")  # that link
    answer = await bot.reply_to(bot.alice_chat, started)
    (button,) = answer["reply_markup"]["inline_keyboard"][0]
    assert button["web_app"]["url"] == f"{PUBLIC_URL}/gallery?hl=en"


async def test_without_a_public_address_the_gallery_is_off(keyed_bot: Bot) -> None:
    bot = keyed_bot
    asked = bot.fake.send_text(bot.alice_chat, bot.alice, "/gallery")
    reply = await bot.reply_to(bot.alice_chat, asked)
    assert "PICLOUD_PUBLIC_URL" in reply["text"]
    assert "reply_markup" not in reply


async def test_a_forged_or_stale_sign_in_opens_nothing(gallery_bot: Bot, browser: Browser) -> None:
    bot = gallery_bot
    await upload(bot, png_bytes(seed=3), "Alice's secret cat")
    address = await mini_app_address(bot, bot.alice, bot.alice_chat)
    mallory = address.replace("%2522id%2522%253A1001", "%2522id%2522%253A1003")
    assert mallory != address  # the user in the signed launch data, changed
    stale = await mini_app_address(bot, bot.alice, bot.alice_chat, signed_at=time.time() - 7200)

    async with gallery_server(bot.core) as base:
        for forged, refusal in ((mallory, "is not valid"), (stale, "has expired")):
            async with gallery_page(browser, base) as shown:
                await shown.open(forged)
                await shown.wait_for_notice(refusal)
                assert await shown.tiles() == []
        launch_data = parse_qs(urlsplit(address).fragment)["tgWebAppData"][0]
        fields = parse_qs(launch_data)
        unsigned = launch_data.replace(f"&hash={fields['hash'][0]}", "")
        twice = f"{launch_data}&user={fields['user'][0].replace('1001', '1003')}"
        for sign_in in (unsigned, twice, "hash=00", "%%%", launch_data.replace("hash=", "hash=0")):
            answer = await api(base, "POST", "session", content=json.dumps({"telegram": sign_in}))
            assert (answer.status_code, answer.json()) == (403, {"error": "invalid"})
        assert await session_of(base, telegram=launch_data)  # the real one opens


async def test_an_http_address_gets_a_one_time_link_instead(
    open_bot: OpenBot, browser: Browser
) -> None:
    port = free_port()
    # Telegram takes Mini Apps only from https addresses: on a home network, a link.
    async with open_bot(public_url=f"http://127.0.0.1:{port}") as bot:
        await bot.core.service.keys.set_user_key(person(bot.alice), USER_KEY)
        await upload(bot, png_bytes(seed=5), "Garden")
        asked = bot.fake.send_text(bot.alice_chat, bot.alice, "/gallery")
        reply = await bot.reply_to(bot.alice_chat, asked)
        (link,) = button_data(reply)
        assert "opens once, within 10 minutes" in reply["text"]
        assert link.startswith(f"http://127.0.0.1:{port}/gallery?hl=en#link=")

        async with gallery_server(bot.core, port) as base:
            async with gallery_page(browser, base) as shown:
                await shown.open(link)
                assert await shown.wait_for_tiles(1) == ["Garden"]
                assert "#" not in shown.page.url  # the spent pass leaves the address bar
            async with gallery_page(browser, base) as again:
                await again.open(link)
                await again.wait_for_notice("was opened before")
                assert await again.tiles() == []


async def test_titles_show_as_text_never_as_markup(gallery_bot: Bot, browser: Browser) -> None:
    bot = gallery_bot
    title = '<img src=x onerror="document.title=`owned`"><b>bold</b>'
    await upload(bot, png_bytes(seed=9), title)
    address = await mini_app_address(bot, bot.alice, bot.alice_chat)

    async with gallery_server(bot.core) as base, gallery_page(browser, base) as shown:
        await shown.open(address)
        assert await shown.wait_for_tiles(1) == [title]
        await shown.page.click(".tile")
        assert await shown.page.locator("#details-title").text_content() == title
        assert await shown.page.title() == "Your uploads"
        assert await shown.page.locator("b, img[src=x]").count() == 0


async def test_the_api_serves_only_a_signed_session_and_only_its_users_uploads(
    gallery_bot: Bot,
) -> None:
    bot = gallery_bot
    await upload(bot, png_bytes(seed=11), "Alice's")
    (alices,) = bot.host.uploads.values()
    (view,) = await bot.core.service.history(person(bot.alice))
    alice = bot.core.gallery.session(person(bot.alice)).token
    bob = bot.core.gallery.session(person(bot.bob)).token
    ended = GalleryPasses(bot.core.repo, PUBLIC_URL, clock=lambda: time.time() - 3 * 3600)
    expired = ended.session(person(bot.alice)).token
    tampered = alice.replace(".1001.", ".1002.")

    async with gallery_server(bot.core) as base:
        refused = [
            await api(base, "GET", "uploads", headers=headers)
            for headers in (
                {},
                {"Authorization": "Bearer"},
                {"Authorization": "Bearer nonsense"},
                {"Authorization": f"Basic {alice}"},
                {"Authorization": f"Bearer {tampered}"},
                {"Authorization": f"Bearer {expired}"},
            )
        ]
        assert [answer.status_code for answer in refused] == [401] * 6
        as_bob = {"Authorization": f"Bearer {bob}"}
        assert (await api(base, "GET", "uploads", headers=as_bob)).json()["items"] == []
        deleting = await api(base, "DELETE", f"uploads/{view.upload_id}", headers=as_bob)
        assert (deleting.status_code, deleting.json()) == (404, {"error": "gone"})
        assert not alices.deleted
        as_alice = {"Authorization": f"Bearer {alice}"}
        for offset in ("-1", "x", "1.5", "٣", "100001", "9" * 30):
            query = {"offset": offset}
            bad = await api(base, "GET", "uploads", headers=as_alice, params=query)
            assert bad.status_code == 400
        bodies = [b"[]", b"{", b"{}", b'{"link": 5}', b'{"link": "a.b.c"}']
        bodies += [b'{"link": "\\ud800.1.2.3"}', b'{"telegram": "user=\\ud800&hash=0"}']
        for body in bodies:
            answer = await api(base, "POST", "session", content=body)
            assert answer.status_code in (400, 403), body
        huge = json.dumps({"telegram": "x" * 20_000})
        assert (await api(base, "POST", "session", content=huge)).status_code == 413
        async with httpx.AsyncClient() as client:
            page = await client.get(f"{base}/gallery")
        assert page.status_code == 200 and "Content-Security-Policy" in page.headers
        assert "1001" not in page.text  # the page holds no one's data


async def test_more_uploads_than_a_page_come_a_page_at_a_time(
    gallery_bot: Bot, browser: Browser
) -> None:
    bot = gallery_bot
    count = PAGE_SIZE + 2
    # Made through the service itself: a burst in the chat is answered several to a
    # message, and the chat is not what this test is about.
    await asyncio.gather(
        *(
            bot.core.service.upload(
                UploadRequest(
                    user=person(bot.alice),
                    media=MediaInput(
                        ref=f"test:{n}",
                        source=UploadSource.from_bytes(png_bytes(seed=200 + n), f"n{n}.png"),
                    ),
                )
            )
            for n in range(count)
        )
    )
    address = await mini_app_address(bot, bot.alice, bot.alice_chat)

    async with gallery_server(bot.core) as base, gallery_page(browser, base) as shown:
        await shown.open(address)
        first = await shown.wait_for_tiles(PAGE_SIZE)
        more = shown.page.locator("#more")
        assert await more.is_visible()
        # A deletion on the first page moves the rest up by one: none is skipped.
        await shown.page.click(".tile >> nth=0")
        await shown.page.locator("#delete").click()
        await shown.page.locator("#confirm-delete").click()
        await shown.wait_for_notice("Deleted.")
        await more.click()
        everything = await shown.wait_for_tiles(count - 1)
        assert everything[: PAGE_SIZE - 1] == first[1:]
        kept = sorted(f"n{n}" for n in range(count) if f"n{n}" != first[0])
        assert sorted(everything) == kept  # each once
        assert not await more.is_visible()  # nothing further


async def test_a_delete_the_host_does_not_confirm_keeps_the_upload_and_says_so(
    gallery_bot: Bot, browser: Browser
) -> None:
    bot = gallery_bot
    await upload(bot, png_bytes(seed=13), "Harbour")
    (view,) = await bot.core.service.history(person(bot.alice))
    address = await mini_app_address(bot, bot.alice, bot.alice_chat)

    async with gallery_server(bot.core) as base, gallery_page(browser, base) as shown:
        await shown.open(address)
        assert await shown.wait_for_tiles(1) == ["Harbour"]
        await shown.page.click(".tile")
        await bot.host.stop()  # the host is down as the user deletes
        await shown.page.locator("#delete").click()
        await shown.page.locator("#confirm-delete").click()
        said = shown.page.locator("#details #details-error")
        await said.filter(has_text="picloud did not confirm the deletion; try again.").wait_for()
        assert await shown.tiles() == ["Harbour"]  # still shown: still there
        assert await shown.page.locator("#details").is_visible()  # to try again
    assert await bot.core.service.find(view.upload_id) == view  # not marked deleted
