"""The web gallery in a real browser: Playwright driving Debian's ``chromium`` against the
gallery served as the bots serve it, on 127.0.0.1.

Where no chromium is installed the browser tests skip, with one line saying so
(``.ci/run`` installs it). ``PICLOUD_TEST_CHROMIUM`` names another binary;
``PICLOUD_TEST_SCREENSHOTS=<dir>`` keeps the screenshots the tests take there (the
README's come from there).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, Response, Route, async_playwright

from bots.gallery.server import gallery_routes
from bots.operations import operations_endpoint
from core.runtime import Core
from tests.fakes.server import free_port

PUBLIC_URL = "https://gallery.example"
"""What the bots are told the gallery's address is; the tests reach it on 127.0.0.1."""
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
WAIT_MS = 10_000
"""What a page is given to show something (Playwright waits 30 s by default)."""
NO_CHROMIUM = "no chromium: the gallery's browser tests need Debian's chromium package"


def chromium_path() -> str | None:
    return os.environ.get("PICLOUD_TEST_CHROMIUM") or shutil.which("chromium")


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    path = chromium_path()
    if path is None:
        pytest.skip(NO_CHROMIUM)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=path)
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def gallery_server(core: Core, port: int | None = None) -> AsyncIterator[str]:
    """The gallery's routes served as ``picloud-bots run`` serves them; yields the base."""
    routes = gallery_routes(core.gallery, core.service, core.settings.telegram_bot_token)
    listen = f"127.0.0.1:{port or free_port()}"
    async with operations_endpoint(listen, {}, routes) as base:
        yield base


@dataclass
class GalleryPage:
    """A browser tab on the gallery, with every answer our server gave it kept."""

    page: Page
    base: str
    answers: list[str] = field(default_factory=list)
    """Every answer our server gave the tab, as it came."""

    async def open(self, public_address: str) -> None:
        """Go where a user's client goes for ``public_address`` (a link or a Mini App's
        address with its launch data), on the local server."""
        await self.page.goto(local(public_address, self.base))

    async def tiles(self) -> list[str]:
        """The captions of the tiles shown, in order."""
        captions: list[str] = await self.page.locator("#grid .tile .caption").all_text_contents()
        return captions

    async def notice(self) -> str:
        return (await self.page.locator("#notice").text_content() or "").strip()

    async def wait_for_tiles(self, count: int) -> list[str]:
        await self.page.wait_for_function(
            "count => document.querySelectorAll('#grid .tile').length === count", arg=count
        )
        return await self.tiles()

    async def wait_for_notice(self, text: str) -> None:
        await self.page.locator("#notice", has_text=text).wait_for()

    async def search(self, words: str, count: int) -> list[str]:
        await self.page.fill("#search", words)
        return await self.wait_for_tiles(count)

    async def drawn_share(self, screenshot: bytes, tile: int) -> float:
        """The share of tile ``tile``'s picture area in ``screenshot`` (a PNG of the
        viewport) that shows its thumbnail's own pixels: the browser decodes both (the
        thumbnail fetched here from the host) and compares them on a canvas."""
        source = await self.page.locator(".tile img").nth(tile).get_attribute("src")
        async with httpx.AsyncClient() as client:
            thumbnail = (await client.get(str(source))).raise_for_status()
        images = [
            _data_url(screenshot, "image/png"),
            _data_url(thumbnail.content, thumbnail.headers["content-type"]),
        ]
        share: float = await self.page.evaluate(_DRAWN_SHARE, [*images, tile])
        return share

    async def screenshot(self, name: str) -> bytes:
        """The viewport as a PNG, also kept as ``<name>.png`` where asked."""
        folder = os.environ.get("PICLOUD_TEST_SCREENSHOTS")
        path = Path(folder) / f"{name}.png" if folder else None
        return await self.page.screenshot(path=path)

    async def clipboard(self) -> str:
        text: str = await self.page.evaluate("() => navigator.clipboard.readText()")
        return text


_DRAWN_SHARE = """async ([shot, thumbnail, index]) => {
    const area = document.querySelectorAll('.tile img')[index].getBoundingClientRect();
    const bitmap = async (url) => {
        const image = new Image();
        image.src = url;
        await image.decode();
        return image;
    };
    const canvas = new OffscreenCanvas(Math.round(area.width), Math.round(area.height));
    const context = canvas.getContext('2d');
    const pixels = () => context.getImageData(0, 0, canvas.width, canvas.height).data;
    context.drawImage(await bitmap(shot), area.x, area.y, area.width, area.height,
                      0, 0, canvas.width, canvas.height);
    const shown = pixels();
    context.drawImage(await bitmap(thumbnail), 0, 0, canvas.width, canvas.height);
    const expected = pixels();
    let close = 0;
    for (let i = 0; i < shown.length; i += 4) {
        const off = [0, 1, 2].reduce((sum, c) => sum + Math.abs(shown[i + c] - expected[i + c]), 0);
        if (off < 48) close += 1;
    }
    return close / (shown.length / 4);
}"""


def _data_url(content: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(content).decode()}"


def local(public_address: str, base: str) -> str:
    return public_address.replace(PUBLIC_URL, base, 1)


@asynccontextmanager
async def gallery_page(
    browser: Browser, base: str, viewport: dict[str, int] = DESKTOP
) -> AsyncIterator[GalleryPage]:
    context = await browser.new_context(
        viewport=viewport,  # type: ignore[arg-type]
        permissions=["clipboard-read", "clipboard-write"],
    )
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    shown = GalleryPage(page, base)

    async def kept(response: Response) -> None:
        if response.url.startswith(base):
            shown.answers.append(await response.text())

    async def offline(route: Route) -> None:
        await route.abort()  # Telegram's own script: no internet here, nor needed

    page.on("response", kept)
    await page.route("https://telegram.org/**", offline)
    try:
        yield shown
    finally:
        await context.close()


async def api(base: str, method: str, path: str, **options: Any) -> httpx.Response:
    """The gallery's API as another program (or a forger) would call it."""
    async with httpx.AsyncClient(base_url=base) as client:
        return await client.request(method, f"/gallery/api/{path}", **options)


async def session_of(base: str, **sign_in: str) -> str:
    answer = await api(base, "POST", "session", content=json.dumps(sign_in))
    assert answer.status_code == 200, answer.text
    session: str = answer.json()["session"]
    return session
