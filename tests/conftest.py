"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser

from tests.browser import NO_CHROMIUM, chromium, chromium_path
from tests.fakes.chevereto import USER_KEY as USER_KEY
from tests.fakes.chevereto import CheveretoEmulator

pytest_plugins = ["tests.db"]


@pytest.fixture
async def chevereto() -> AsyncIterator[CheveretoEmulator]:
    """A started Chevereto emulator with the default user key, stopped afterwards."""
    async with CheveretoEmulator() as emulator:
        yield emulator


@pytest.fixture
async def link_site() -> AsyncIterator[str]:
    """A web server on 127.0.0.1 with a picture (/cat.png) and a page (/page)."""
    from aiohttp import web

    from tests.fakes.media import png_bytes

    async def picture(_request: web.Request) -> web.Response:
        return web.Response(body=png_bytes(seed=20), content_type="image/png")

    async def page(_request: web.Request) -> web.Response:
        return web.Response(text="<html><body>hi</body></html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/cat.png", picture)
    app.router.add_get("/page", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def pytest_report_header() -> str:
    found = chromium_path()
    return f"browser for the gallery's tests: {found}" if found else f"{NO_CHROMIUM}: they skip"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Without chromium, the tests that need it skip before anything starts for them."""
    if chromium_path() is not None:
        return
    skip = pytest.mark.skip(reason=NO_CHROMIUM)
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(skip)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's chromium under Playwright; the test skips where it is not installed."""
    async with chromium() as launched:
        yield launched
