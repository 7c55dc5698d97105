"""``picloud-bots run`` as an operator starts it: both bots in one process, from the
environment only, stopped by SIGTERM, with no secret in what it prints."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.fakes.chevereto import USER_KEY, CheveretoEmulator
from tests.fakes.discord import TOKEN as DISCORD_TOKEN
from tests.fakes.discord import DiscordFake
from tests.fakes.media import png_bytes
from tests.fakes.telegram import TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram import TelegramFake

ROOT = Path(__file__).resolve().parent.parent


async def test_run_starts_both_bots_and_stops_cleanly(
    chevereto: CheveretoEmulator, tmp_path: Path
) -> None:
    async with TelegramFake() as telegram, DiscordFake() as discord:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "PICLOUD_DATA_DIR": str(tmp_path),
            "PICLOUD_API_URL": chevereto.api_url,
            "PICLOUD_API_KEY": USER_KEY,
            "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            "TELEGRAM_API_URL": telegram.api_url,
            "TELEGRAM_FILE_URL": telegram.file_url,
            "DISCORD_BOT_TOKEN": DISCORD_TOKEN,
            "DISCORD_API_URL": discord.api_url,
            "DISCORD_GATEWAY_URL": discord.gateway_url,
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bots",
            "run",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await telegram.wait_for("getUpdates", timeout=30)
            await discord.wait_for("PUT", r"/commands$", timeout=30)
            # The operator's guest key serves a user with none of their own.
            alice = telegram.user(1, "Alice")
            sent = telegram.send_photo(telegram.private_chat(alice), alice, png_bytes(seed=1))
            await telegram.wait_for(
                "sendMessage",
                where=lambda call: "Viewer" in str(call.params.get("text")),
                timeout=20,
            )
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(process.communicate(), timeout=30)

    assert process.returncode == 0, err.decode()
    assert sent["message"]["message_id"]
    printed = (out + err).decode()
    for secret in (TELEGRAM_TOKEN, DISCORD_TOKEN, USER_KEY, TELEGRAM_TOKEN.split(":")[1]):
        assert secret not in printed
    assert len(chevereto.uploads) == 1
