"""Per-user preferences and per-chat switches, as neutral values for front-ends.

Every update reads them (the language of the answer, whether a group mirrors), so
they are remembered for a few seconds (``core.remembered``).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.db.repository import Repository
from core.expiry import Expiry, parse_optional_expiry
from core.i18n import LANGUAGES
from core.refs import ChatRef, UserRef
from core.remembered import Remembered


@dataclass(frozen=True, slots=True)
class Preferences:
    language: str | None
    """None: follow the chat client's language."""
    default_expiry: Expiry | None
    nsfw: bool
    album_id: str | None


@dataclass(frozen=True, slots=True)
class ChatSwitches:
    mirroring: bool
    has_key: bool
    mirrored_by: str | None = None
    """The user id of whoever switched mirroring on (a channel's uploads are theirs)."""


class Profiles:
    def __init__(self, repo: Repository) -> None:
        self._repo = repo
        self._preferences = Remembered[UserRef, Preferences]()
        self._chats = Remembered[ChatRef, ChatSwitches]()

    async def preferences(self, user: UserRef) -> Preferences:
        return await self._preferences.get(user, lambda: self._read_preferences(user))

    async def _read_preferences(self, user: UserRef) -> Preferences:
        row = await self._repo.get_prefs(user)
        return Preferences(
            language=row.language,
            default_expiry=parse_optional_expiry(row.default_expiry),
            nsfw=row.nsfw,
            album_id=row.album_id,
        )

    async def set_language(self, user: UserRef, language: str | None) -> None:
        if language is not None and language not in LANGUAGES:
            raise ValueError(f"unsupported language {language!r}")
        await self._repo.update_prefs(user, language=language)
        self._preferences.forget(user)

    async def set_default_expiry(self, user: UserRef, expiry: Expiry | None) -> None:
        await self._repo.update_prefs(user, default_expiry=expiry.iso if expiry else None)
        self._preferences.forget(user)

    async def set_nsfw(self, user: UserRef, nsfw: bool) -> None:
        await self._repo.update_prefs(user, nsfw=nsfw)
        self._preferences.forget(user)

    async def set_album(self, user: UserRef, album_id: str | None) -> None:
        await self._repo.update_prefs(user, album_id=album_id or None)
        self._preferences.forget(user)

    async def mirrors(self, chat: ChatRef) -> bool:
        """Whether ``chat`` mirrors: asked of every message in a group, so remembered."""
        return (await self.switches(chat)).mirroring

    async def switches(self, chat: ChatRef) -> ChatSwitches:
        """``chat``'s switches, remembered a moment (see ``mirrors``)."""
        return await self._chats.get(chat, lambda: self.chat(chat))

    async def chat(self, chat: ChatRef) -> ChatSwitches:
        """The chat's switches as stored now."""
        row = await self._repo.get_chat_settings(chat)
        if row is None:
            return ChatSwitches(mirroring=False, has_key=False)
        return ChatSwitches(
            mirroring=row.mirror_enabled,
            has_key=row.key_ciphertext is not None,
            mirrored_by=row.mirror_set_by,
        )

    async def set_mirroring(self, chat: ChatRef, enabled: bool, by: UserRef) -> None:
        await self._repo.set_mirroring(chat, enabled, by)
        self._chats.forget(chat)
