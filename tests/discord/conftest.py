"""The Discord bot as it runs: real discord.py over 127.0.0.1 against the Discord fake,
the real core against the Chevereto emulator."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bots.discord.app import PicloudClient, discord_bot
from core.chevereto.client import RetryPolicy
from core.refs import Platform, UserId, UserRef
from core.runtime import Core, open_core
from tests.db import make_settings
from tests.fakes.chevereto import USER_KEY, CheveretoEmulator
from tests.fakes.discord import TOKEN, DiscordFake
from tests.retry import FAST_RETRY

SERVER_KEY = "chv_8_serverkeySSSSSSSSSSSSSSSSSSSSSSSSSSSS"
MANAGE_MESSAGES = 1 << 13
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5

JSON = dict[str, Any]


@dataclass
class Bot:
    fake: DiscordFake
    host: CheveretoEmulator
    core: Core
    client: PicloudClient
    guild: JSON
    channel: JSON
    alice: JSON
    bob: JSON
    mod: JSON

    def everything_sent(self) -> str:
        """Every body the bot sent to Discord, as text (for secret checks)."""
        return "\n".join(json.dumps(call.json, ensure_ascii=False) for call in self.fake.calls)

    async def answer_to(self, interaction: JSON, timeout: float = 10.0) -> JSON:
        """The interaction's answer: its deferred response once it holds embeds (a first
        follow-up fills it; after a note on a delay, the answer is edited into it)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            original = self.fake.original_response(interaction)
            if original is not None and original.get("embeds"):
                return original
            await asyncio.sleep(0.05)
        raise TimeoutError(f"no answer to {interaction['id']} in {timeout} s")

    async def use(self, user: JSON, name: str, options: Any = None, **kwargs: Any) -> JSON:
        return await self.fake.slash_command(
            self.guild, self.channel, user, name, options, **kwargs
        )


def person(user: JSON) -> UserRef:
    return UserRef(Platform.DISCORD, UserId(str(user["id"])))


def custom_ids(message: JSON) -> list[str]:
    found: list[str] = []
    for row in message.get("components", []):
        for component in row.get("components", []):
            found.append(component.get("custom_id") or component.get("url", ""))
    return found


OpenBot = Callable[..., AbstractAsyncContextManager[Bot]]


@pytest.fixture
async def discord_fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DiscordFake]:
    # The bot sets these class attributes from its settings; put them back afterwards.
    monkeypatch.setattr(Route, "BASE", Route.BASE)
    monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", DiscordWebSocket.DEFAULT_GATEWAY)
    async with DiscordFake() as fake:
        yield fake


@pytest.fixture
async def picloud() -> AsyncIterator[CheveretoEmulator]:
    async with CheveretoEmulator(user_keys=(USER_KEY, SERVER_KEY)) as emulator:
        yield emulator


@pytest.fixture
def open_bot(discord_fake: DiscordFake, picloud: CheveretoEmulator, tmp_path: Path) -> OpenBot:
    """Starts the bot; starting it again on the same data dir is a restart."""
    fake = discord_fake
    alice = fake.user(2001, "alice")
    bob = fake.user(2002, "bob", locale="ru")
    mod = fake.user(2003, "mod")
    guild = fake.guild(3001, "Cats", owner_id=mod["id"])
    channel = fake.channel(3001, 3002, "general")
    fake.member(3001, alice)
    fake.member(3001, bob)
    fake.member(3001, mod, permissions=MANAGE_MESSAGES | MANAGE_CHANNELS | MANAGE_GUILD)

    @asynccontextmanager
    async def opener(retry: RetryPolicy = FAST_RETRY, **overrides: Any) -> AsyncIterator[Bot]:
        values: dict[str, Any] = {
            "api_url": picloud.api_url,
            "discord_bot_token": TOKEN,
            "discord_api_url": fake.api_url,
            "discord_gateway_url": fake.gateway_url,
            "allow_private_urls": True,
            **overrides,
        }
        settings = make_settings(tmp_path / "data", **values)
        async with (
            open_core(settings, retry=retry) as core,
            discord_bot(settings, core) as client,
        ):
            yield Bot(fake, picloud, core, client, guild, channel, alice, bob, mod)

    return opener


@pytest.fixture
async def bot(open_bot: OpenBot) -> AsyncIterator[Bot]:
    async with open_bot() as running:
        yield running


@pytest.fixture
async def keyed_bot(bot: Bot) -> Bot:
    """A bot where Alice has stored her key."""
    await bot.core.service.keys.set_user_key(person(bot.alice), USER_KEY)
    return bot
