"""``picloud-bots run``: every front-end whose token is set, in one asyncio process."""

from __future__ import annotations

import sys

from core.settings import Settings

EXIT_CONFIG = 2


async def run_bots(settings: Settings) -> int:
    enabled = [
        name
        for name, token in (
            ("Telegram", settings.telegram_bot_token),
            ("Discord", settings.discord_bot_token),
        )
        if token is not None
    ]
    if not enabled:
        print(
            "picloud-bots: no bot token is set: set TELEGRAM_BOT_TOKEN and/or "
            "DISCORD_BOT_TOKEN (in the environment or in .env) to start a bot",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    print(
        f"picloud-bots: the {' and '.join(enabled)} front-end is not part of this version yet",
        file=sys.stderr,
    )
    return EXIT_CONFIG
