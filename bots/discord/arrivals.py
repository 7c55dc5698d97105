"""What someone asked the Discord bot to upload, kept in the inbox until answered.

Discord never sends a gateway event again, so an upload request (a command or a
mirrored message) is kept in the inbox before the bot's first network call for it
(the defer, the typing indicator) and is done once answered. After a restart, one
that was never done is handled again from what was kept: its items not yet recorded
as jobs are uploaded (the service answers the others), and the answer goes to the
interaction's deferred response while its token is valid, else to the channel.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import discord

from bots.discord.files import SCHEME, AttachmentFile, DiscordFiles
from core.chevereto.models import UploadOptions
from core.service.batch import Item, Link
from core.service.records import options_from_dict, options_to_dict


@dataclass(frozen=True, slots=True)
class Arrival:
    """An upload request as kept: who, where, which items, with which options.

    ``key`` names it in the inbox and its items' origins: ``m<message id>`` for a
    mirrored message (answered as a reply to it), ``i<interaction id>`` for a command
    (answered through ``app_id`` and ``token``, valid 15 minutes from ``created_at``).
    """

    key: str
    user_id: int
    guild_id: int | None
    channel_id: int | None
    language: str
    options: dict[str, Any]
    sources: list[str] = field(default_factory=list)
    """Each item: an attachment's ``discord:`` ref, or a link."""
    message_id: int | None = None
    app_id: int | None = None
    token: str | None = None
    created_at: float = 0.0

    @classmethod
    def of_message(
        cls, message: discord.Message, items: Sequence[Item], options: UploadOptions, language: str
    ) -> Arrival:
        return cls(
            key=f"m{message.id}",
            user_id=message.author.id,
            guild_id=message.guild.id if message.guild else None,
            channel_id=message.channel.id,
            language=language,
            options=options_to_dict(options),
            sources=_sources(items),
            message_id=message.id,
        )

    @classmethod
    def of_interaction(
        cls,
        interaction: discord.Interaction,
        items: Sequence[Item],
        options: UploadOptions,
        language: str,
    ) -> Arrival:
        return cls(
            key=f"i{interaction.id}",
            user_id=interaction.user.id,
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            language=language,
            options=options_to_dict(options),
            sources=_sources(items),
            app_id=interaction.application_id,
            token=interaction.token,
            created_at=interaction.created_at.timestamp(),
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, payload: str) -> Arrival:
        return cls(**json.loads(payload))

    def items(self, files: DiscordFiles) -> list[Item]:
        found: list[Item] = []
        for source in self.sources:
            scheme, _, rest = source.partition(":")
            found.append(files.from_ref(rest) if scheme == SCHEME else Link(source))
        return found

    def origins(self) -> list[str]:
        return [f"{self.key}:{index}" for index in range(len(self.sources))]

    def upload_options(self) -> UploadOptions:
        return options_from_dict(self.options)

    @property
    def user(self) -> discord.Object:
        return discord.Object(self.user_id)


def _sources(items: Sequence[Item]) -> list[str]:
    return [item.ref if isinstance(item, AttachmentFile) else item.name for item in items]
