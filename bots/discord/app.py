"""The Discord bot: built from settings and core, every command registered here.

    async with discord_bot(settings, core):
        ...  # connected to the gateway until the block ends

``DISCORD_API_URL`` and ``DISCORD_GATEWAY_URL`` are discord.py class attributes
(``Route.BASE``, ``DiscordWebSocket.DEFAULT_GATEWAY``): one process, one Discord.

With ``DISCORD_SHARD_COUNT`` the client is discord.py's ``AutoShardedClient`` running
``DISCORD_SHARD_IDS`` (all shards when unset), so several instances split the servers:
Discord sends a server's events, its interactions included, only to the connection of
its shard (``(guild_id >> 22) % count``) and DMs to shard 0. Nothing a button, a
command or a resumed upload needs lives in one instance: buttons carry the upload's
id, looked up in the shared database, answers go out over REST, and a key form's
submission is handled by whichever instance gets it (``commands.key_submitted``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Any

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bots.discord.answer_queue import ChannelAnswer, channel_answers
from bots.discord.arrivals import Arrival
from bots.discord.buttons import DYNAMIC_ITEMS, is_ours, unknown_pressed
from bots.discord.commands import COMMANDS, key_submitted
from bots.discord.deps import Deps, about_interaction, channel_ref, language_for
from bots.discord.files import SCHEME, DiscordFiles
from bots.discord.uploading import (
    answered,
    items_of,
    keep,
    replayer,
    resumed_answerer,
    upload_arrival,
)
from core import metrics
from core.chevereto.models import UploadOptions
from core.errors import ConfigurationError
from core.i18n import DEFAULT_LANGUAGE, language_of, translator
from core.logging_setup import about
from core.messages import Hints, api_key_page
from core.reach import reach
from core.refs import Platform
from core.runtime import Core
from core.settings import Settings
from core.signs import Signs

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 60.0
IDENTIFY_INTERVAL_S = 5.0
"""discord.py waits this long before each shard's IDENTIFY after the first (Discord's
identify limit): an instance with many shards gets that much longer to be ready."""
CLOSE_CODES = {4011: "Discord requires sharding for this many servers: set DISCORD_SHARD_COUNT"}
"""Gateway close codes that are the operator's to fix (an invalid shard, 4010, cannot
be configured: the settings refuse it)."""
TYPING_SHOWN_FOR_S = 8.0
UNREACHABLE = (aiohttp.ClientError, OSError, TimeoutError, discord.DiscordServerError)
"""What a login meets while Discord (or the network) is not there yet: waited for."""
"""Discord shows "typing…" for about ten seconds; renewed a little sooner."""


class CatalogTranslator(app_commands.Translator):
    """Command names, descriptions and choices from the same gettext catalogs."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        language = language_of(locale.value)
        if language == DEFAULT_LANGUAGE:
            return None
        translated = translator(language)(string.message)
        return translated if translated != string.message else None


class LoggedTree(app_commands.CommandTree[discord.Client]):
    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        about_interaction(interaction)  # in the task the command then runs in
        return True


class PicloudClient(discord.Client):
    def __init__(self, deps: Deps, *, intents: discord.Intents, **options: Any) -> None:
        super().__init__(intents=intents, http_trace=counting_429s(), **options)
        self.deps = deps
        self.tree = LoggedTree(self)
        self.tree.on_error = self._on_command_error  # type: ignore[method-assign]

    async def setup_hook(self) -> None:
        self.add_dynamic_items(*DYNAMIC_ITEMS)
        for command in COMMANDS:
            self.tree.add_command(command)
        await self.tree.set_translator(CatalogTranslator())
        await self.tree.sync()

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type is discord.InteractionType.modal_submit:
            about_interaction(interaction)
            await key_submitted(interaction)
        elif interaction.type is discord.InteractionType.component:
            data: dict[str, object] = dict(interaction.data or {})
            custom_id = str(data.get("custom_id", ""))
            if not is_ours(custom_id):
                await unknown_pressed(interaction)

    async def on_message(self, message: discord.Message) -> None:
        """Mirroring: every attachment or media link posted in a mirrored channel."""
        if message.author.bot or message.guild is None:
            return
        about(platform=Platform.DISCORD, chat=str(message.channel.id))
        if not await self.deps.profiles.mirrors(channel_ref(message.channel.id)):
            return
        items = items_of(message, self.deps, media_links_only=True)
        if not items:
            return
        spoiler = any(attachment.is_spoiler() for attachment in message.attachments)
        language = await language_for(self.deps, message.author, None)
        arrival = Arrival.of_message(message, items, UploadOptions(nsfw=spoiler), language)
        await keep(self.deps, arrival)
        channel_id = message.channel.id
        async with self.deps.typing.during(channel_id, message.channel):
            with self.deps.answers.coming(channel_id):
                answer = await upload_arrival(self.deps, arrival)
        await self.deps.answers.send(channel_id, ChannelAnswer(message.channel, arrival, answer))
        await answered(self.deps, arrival, answer)

    async def _on_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        reference = secrets.token_hex(3)
        log.error("command failed (ref %s)", reference, exc_info=error)
        _ = translator(interaction.locale.value)
        text = _("Something went wrong on our side (ref {ref}). Try again later.").format(
            ref=reference
        )
        with contextlib.suppress(discord.HTTPException):
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)


class ShardedPicloudClient(PicloudClient, discord.AutoShardedClient):
    """The same bot on some of the shards (``shard_count``, ``shard_ids`` options)."""


def counting_429s() -> aiohttp.TraceConfig:
    """Discord's 429s, counted for /metrics: discord.py waits each out by itself and
    says only some of them (a sub-limit's, not at all)."""

    async def ended(
        _session: aiohttp.ClientSession, _context: object, request: aiohttp.TraceRequestEndParams
    ) -> None:
        if request.response.status == HTTPStatus.TOO_MANY_REQUESTS:
            metrics.PLATFORM_429S.labels(Platform.DISCORD).inc()

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(ended)
    return trace


def point_at(settings: Settings) -> None:
    """Aim discord.py at DISCORD_API_URL and DISCORD_GATEWAY_URL (tests, proxies)."""
    Route.BASE = settings.discord_api_url.rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def make_deps(settings: Settings, core: Core) -> Deps:
    hints = Hints(set_key="/key set", settings_url=api_key_page(settings.api_url))
    # A mirrored message's first call is its typing (see tests/kills).
    typing = Signs(_typing, TYPING_SHOWN_FOR_S, sent_before_work=True)
    return Deps(
        service=core.service,
        profiles=core.profiles,
        files=DiscordFiles(core.http),
        links=core.links,
        hints=hints,
        sharex=core.sharex,
        statistics=core.statistics,
        gallery=core.gallery,
        answers=channel_answers(hints, typing),
        typing=typing,
    )


async def _typing(_channel_id: Hashable, channel: discord.abc.Messageable) -> None:
    with contextlib.suppress(discord.HTTPException):  # a sign of life, nothing more
        await channel.typing()


@asynccontextmanager
async def discord_bot(settings: Settings, core: Core) -> AsyncIterator[PicloudClient]:
    """Connect (falling back to no Message Content intent if Discord refuses it)."""
    assert settings.discord_bot_token is not None
    point_at(settings)
    deps = make_deps(settings, core)
    core.service.register_opener(SCHEME, deps.files.reopen)
    token = settings.discord_bot_token.get_secret_value()
    client, running = await _connect(deps, token, settings, message_content=True)
    if client is None:
        deps.message_content = False
        log.warning("Discord refused the Message Content intent: mirroring is unavailable")
        client, running = await _connect(deps, token, settings, message_content=False)
    if client is None or running is None:
        raise ConfigurationError("Discord refused the bot's connection")
    resumed = await core.service.resume(
        Platform.DISCORD, resumed_answerer(client, deps), replayer(client, deps)
    )
    log.info(
        "discord bot %s is up%s; %d uploads resumed", client.user, _shards_of(settings), resumed
    )
    try:
        yield client
    finally:
        await client.close()
        with contextlib.suppress(Exception):
            await running


def _shards_of(settings: Settings) -> str:
    """`` (shards 0, 1 of 4)``: what this instance runs; nothing when unsharded."""
    shards = settings.discord_shards
    if shards is None:
        return ""
    listed = ", ".join(str(shard) for shard in shards)
    return f" (shards {listed} of {settings.discord_shard_count})"


def _client(deps: Deps, settings: Settings, intents: discord.Intents) -> PicloudClient:
    if settings.discord_shard_count is None:
        return PicloudClient(deps, intents=intents)
    return ShardedPicloudClient(
        deps,
        intents=intents,
        shard_count=settings.discord_shard_count,
        shard_ids=list(settings.discord_shards or ()),
    )


async def _connect(
    deps: Deps, token: str, settings: Settings, *, message_content: bool
) -> tuple[PicloudClient | None, asyncio.Task[None] | None]:
    """The client once every shard of this instance is ready (or None when Discord
    refused the Message Content intent)."""
    intents = discord.Intents.default()
    intents.message_content = message_content
    client = _client(deps, settings, intents)
    shards = len(settings.discord_shards or (0,))
    try:
        await reach("Discord", lambda: client.login(token), UNREACHABLE)
    except discord.LoginFailure:
        await client.close()
        raise ConfigurationError("DISCORD_BOT_TOKEN was refused by Discord") from None
    running = asyncio.create_task(client.connect(reconnect=True))
    ready = asyncio.create_task(client.wait_until_ready())
    timeout = READY_TIMEOUT_S + IDENTIFY_INTERVAL_S * (shards - 1)
    done, _pending = await asyncio.wait(
        {running, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
    )
    if ready in done:
        return client, running
    ready.cancel()
    await client.close()
    failure = running.exception() if running in done else None
    if isinstance(failure, discord.PrivilegedIntentsRequired):
        return None, None
    if isinstance(failure, discord.ConnectionClosed) and failure.code in CLOSE_CODES:
        raise ConfigurationError(CLOSE_CODES[failure.code])
    raise ConfigurationError("could not connect to the Discord gateway")
