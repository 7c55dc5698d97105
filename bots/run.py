"""``picloud-bots run``: every front-end whose token is set, in one asyncio process,
until SIGINT or SIGTERM.

A stop is bounded: new work stops at once, uploads in flight may finish for
``PICLOUD_STOP_GRACE_S``, then the rest is cut off (recorded, it resumes at the next
start) and the process exits 0, within Docker's ten seconds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

from bots.gallery.server import gallery_routes
from bots.operations import Check, operations_endpoint
from core.runtime import open_core
from core.settings import Settings

EXIT_OK = 0
EXIT_CONFIG = 2
CLOSE_S = 1.5
"""After the grace: time to close connections before the process leaves regardless."""

log = logging.getLogger(__name__)


async def run_bots(settings: Settings) -> int:
    if settings.telegram_bot_token is None and settings.discord_bot_token is None:
        print(
            "picloud-bots: no bot token is set: set TELEGRAM_BOT_TOKEN and/or "
            "DISCORD_BOT_TOKEN (in the environment or in .env) to start a bot",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    up, stopping = asyncio.Event(), asyncio.Event()
    serving = asyncio.create_task(_serve(settings, up, stopping))
    stopped = asyncio.create_task(_stop_signal())
    await asyncio.wait({serving, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if serving.done():
        stopped.cancel()
        serving.result()  # a start-up failure (ConfigurationError...) ends here, loudly
        return EXIT_OK
    if not up.is_set():
        # Stopped mid-start: leaving the contexts closes what was opened.
        serving.cancel()
    log.info("stopping: uploads in flight get %.0f s to finish", settings.stop_grace_s)
    stopping.set()
    try:
        async with asyncio.timeout(settings.stop_grace_s + CLOSE_S):
            with contextlib.suppress(asyncio.CancelledError):
                await serving
    except TimeoutError:
        log.warning("stopped before every connection closed; nothing is lost")
    return EXIT_OK


async def _serve(settings: Settings, up: asyncio.Event, stopping: asyncio.Event) -> None:
    async with open_core(settings) as core, AsyncExitStack() as bots:
        intake: list[Callable[[], Awaitable[None]]] = []
        checks: dict[str, Check] = {"database": core.repo.answers}
        if settings.telegram_bot_token is not None:
            from bots.telegram.app import stop_updates, telegram_bot

            application = await bots.enter_async_context(telegram_bot(settings, core))
            intake.append(lambda: stop_updates(application))
            updater = application.updater
            checks["telegram"] = lambda: _now(updater is not None and updater.running)
        if settings.discord_bot_token is not None:
            from bots.discord.app import discord_bot

            client = await bots.enter_async_context(discord_bot(settings, core))
            checks["discord"] = lambda: _now(client.is_ready() and not client.is_closed())
        if settings.http_listen is not None:
            gallery = (
                gallery_routes(core.gallery, core.service, settings.telegram_bot_token)
                if core.gallery.enabled
                else []
            )
            await bots.enter_async_context(
                operations_endpoint(settings.http_listen, checks, gallery)
            )
        up.set()
        await stopping.wait()
        for stop_intake in intake:
            await stop_intake()
        cut_off = await core.service.drain(settings.stop_grace_s)
        if cut_off:
            log.info("%d uploads cut off by the stop resume at the next start", cut_off)


async def _now(value: bool) -> bool:
    return value


async def _stop_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
