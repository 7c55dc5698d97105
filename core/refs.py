"""Platform-neutral names for who and where: what crosses from a front-end into core."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NewType

UserId = NewType("UserId", str)
ChatId = NewType("ChatId", str)
UploadId = NewType("UploadId", str)
"""The opaque public id of an upload: safe in callback data and component ids."""


class Platform(enum.StrEnum):
    TELEGRAM = "telegram"
    DISCORD = "discord"
    CLI = "cli"


@dataclass(frozen=True, slots=True)
class UserRef:
    platform: Platform
    user_id: UserId

    @property
    def qualified(self) -> str:
        """``platform:id``: the user named across platforms (as ``PICLOUD_ADMIN_IDS``
        names operators)."""
        return f"{self.platform.value}:{self.user_id}"


@dataclass(frozen=True, slots=True)
class ChatRef:
    platform: Platform
    chat_id: ChatId
