"""Discord's real per-channel limit (five messages per five seconds), enforced by the
fake: a burst in a mirrored channel is answered whole, in fewer messages than uploads,
without provoking a 429."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bots.discord.deps import channel_ref, server_ref
from tests.discord.conftest import SERVER_KEY, Bot, person
from tests.fakes.discord.limits import RateLimits
from tests.fakes.media import png_bytes

JSON = dict[str, Any]


async def test_a_burst_in_a_mirrored_channel_is_answered_whole_without_a_429(bot: Bot) -> None:
    """30 images from 3 members within 10 s."""
    by = person(bot.mod)
    server = server_ref(int(bot.guild["id"]))
    assert server is not None
    await bot.core.service.keys.set_chat_key(server, SERVER_KEY, by)
    await bot.core.profiles.set_mirroring(channel_ref(int(bot.channel["id"])), True, by)
    bot.fake.rate_limits = RateLimits()
    members = [bot.alice, bot.bob, bot.mod]

    started = time.monotonic()
    for n in range(30):
        photo = bot.fake.add_attachment(png_bytes(seed=400 + n), f"{n}.png", "image/png")
        await bot.fake.post_message(bot.guild, bot.channel, members[n % 3], "", attachments=[photo])
        await asyncio.sleep(1 / 3)
    viewers = await _viewers_shown(bot, count=30, timeout=100)
    answered_s = time.monotonic() - started

    assert len(bot.host.uploads) == 30
    assert viewers == {upload.image["url_viewer"] for upload in bot.host.uploads.values()}
    sent = bot.fake.bot_messages(int(bot.channel["id"]))
    print(f"30 images answered in {answered_s:.1f} s with {len(sent)} messages")
    assert len(sent) < 30  # several answers went together
    assert bot.fake.rate_limited == []
    # "Typing…" for the channel while its uploads run, not once per image: once,
    # renewed every 8 s, and again after each answer message (which ends it).
    assert len(bot.fake.calls_to("POST", r"/typing$")) <= len(sent) + 5


async def _viewers_shown(bot: Bot, count: int, timeout: float) -> set[str]:
    """The viewer links of the bot's embeds in the channel, once there are ``count``."""

    def shown() -> set[str]:
        return {
            embed["url"]
            for message in bot.fake.bot_messages(int(bot.channel["id"]))
            for embed in message.get("embeds", [])
            if embed.get("url")
        }

    for _ in range(int(timeout * 10)):
        if len(shown()) >= count:
            return shown()
        await asyncio.sleep(0.1)
    raise AssertionError(f"{len(shown())} of {count} links shown after {timeout} s")
