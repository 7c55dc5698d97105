"""``picloud-bots run``: every front-end whose token is set, in one asyncio process,
until SIGINT or SIGTERM. Work in flight stays recorded and resumes at next start."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from contextlib import AsyncExitStack

from core.runtime import open_core
from core.settings import Settings

EXIT_OK = 0
EXIT_CONFIG = 2

log = logging.getLogger(__name__)


async def run_bots(settings: Settings) -> int:
    if settings.telegram_bot_token is None and settings.discord_bot_token is None:
        print(
            "picloud-bots: no bot token is set: set TELEGRAM_BOT_TOKEN and/or "
            "DISCORD_BOT_TOKEN (in the environment or in .env) to start a bot",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    serving = asyncio.create_task(_serve(settings))
    stopped = asyncio.create_task(_stop_signal())
    await asyncio.wait({serving, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if serving.done():
        stopped.cancel()
        serving.result()  # a start-up failure (ConfigurationError...) ends here, loudly
        return EXIT_OK
    # Stopped, maybe mid-start: leaving the contexts closes bots and core cleanly, and
    # uploads in flight stay recorded for the next start.
    log.info("stopping: uploads in flight resume at the next start")
    serving.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await serving
    return EXIT_OK


async def _serve(settings: Settings) -> None:
    async with open_core(settings) as core, AsyncExitStack() as bots:
        if settings.telegram_bot_token is not None:
            from bots.telegram.app import telegram_bot

            await bots.enter_async_context(telegram_bot(settings, core))
        if settings.discord_bot_token is not None:
            from bots.discord.app import discord_bot

            await bots.enter_async_context(discord_bot(settings, core))
        await asyncio.Event().wait()  # until cancelled


async def _stop_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
