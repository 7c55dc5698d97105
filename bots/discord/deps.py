"""What every command and component needs, built once in ``app.py``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import discord

from bots.discord.files import DiscordFiles
from core.i18n import Translator, language_of, translator
from core.links import LinkFetcher
from core.logging_setup import about
from core.messages import Hints
from core.refs import ChatId, ChatRef, Platform, UserId, UserRef
from core.service.gallery import GalleryPasses
from core.service.profiles import Profiles
from core.service.stats import Statistics
from core.service.uploads import UploadService
from core.sharex import ShareX
from core.signs import Signs

if TYPE_CHECKING:  # the queue's answers carry the buttons, whose callbacks need Deps
    from bots.discord.answer_queue import ChannelAnswer
    from core.pacing import AnswerQueue


@dataclass(slots=True)
class Deps:
    service: UploadService
    profiles: Profiles
    files: DiscordFiles
    links: LinkFetcher
    hints: Hints
    sharex: ShareX
    statistics: Statistics
    gallery: GalleryPasses
    answers: AnswerQueue[ChannelAnswer]
    """Answers posted into channels, paced by each channel's budget."""
    typing: Signs[discord.abc.Messageable]
    """"typing…" in a channel while its mirrored uploads run, once per channel."""
    message_content: bool = True
    """Whether the gateway granted the message content intent (mirroring needs it)."""
    background: set[asyncio.Task[None]] = field(default_factory=set)
    """Work started outside any event (uploads handled again after a restart)."""


def user_ref(user: discord.abc.Snowflake) -> UserRef:
    return UserRef(Platform.DISCORD, UserId(str(user.id)))


def server_ref(guild_id: int | None) -> ChatRef | None:
    """Uploads and the shared key belong to the server; mirroring is per channel."""
    return ChatRef(Platform.DISCORD, ChatId(str(guild_id))) if guild_id else None


def channel_ref(channel_id: int) -> ChatRef:
    return ChatRef(Platform.DISCORD, ChatId(f"channel:{channel_id}"))


async def language_for(deps: Deps, user: discord.abc.User, locale: discord.Locale | None) -> str:
    """The user's chosen language if they set one, else their Discord client's."""
    prefs = await deps.profiles.preferences(user_ref(user))
    return language_of(prefs.language or (locale.value if locale else None))


async def translator_for(
    deps: Deps, user: discord.abc.User, locale: discord.Locale | None
) -> Translator:
    return translator(await language_for(deps, user, locale))


def deps_of(interaction: discord.Interaction) -> Deps:
    found: Deps = interaction.client.deps  # type: ignore[attr-defined]
    return found


def about_interaction(interaction: discord.Interaction) -> None:
    """Every line logged while ``interaction`` is handled (in its own task, as discord.py
    runs each) names its platform and channel."""
    about(platform=Platform.DISCORD, chat=str(interaction.channel_id or "-"))
