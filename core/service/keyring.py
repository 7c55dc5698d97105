"""Which key an upload uses, and storing keys: the user's own, then the chat's,
then the operator's guest key."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pydantic import SecretStr

from core.db.repository import Repository, UploadContext
from core.errors import MissingKey
from core.keys import mask_api_key, normalize_api_key
from core.refs import ChatRef, UserRef

REMOVE_WORDS = frozenset({"off", "none", "-"})


class KeyOrigin(enum.StrEnum):
    GIVEN = "given"
    USER = "user"
    CHAT = "chat"
    OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class ResolvedKey:
    key: SecretStr
    origin: KeyOrigin


class KeyRing:
    def __init__(self, repo: Repository, operator_key: SecretStr | None) -> None:
        self._repo = repo
        self._operator_key = operator_key

    async def resolve(
        self, user: UserRef, chat: ChatRef | None = None, given: SecretStr | None = None
    ) -> ResolvedKey:
        if given is not None:
            return self.choose(None, given=given)
        return self.choose(await self._repo.upload_context(user, chat))

    def choose(
        self, stored: UploadContext | None, *, given: SecretStr | None = None
    ) -> ResolvedKey:
        """The key to use: one given for this upload, the user's, the chat's, the operator's."""
        if given is not None:
            return ResolvedKey(normalize_api_key(given.get_secret_value()), KeyOrigin.GIVEN)
        if stored is not None and stored.user_key:
            return ResolvedKey(stored.user_key, KeyOrigin.USER)
        if stored is not None and stored.chat_key:
            return ResolvedKey(stored.chat_key, KeyOrigin.CHAT)
        if self._operator_key is not None:
            return ResolvedKey(self._operator_key, KeyOrigin.OPERATOR)
        raise MissingKey("no API key: set your own picloud API key first")

    async def set_user_key(self, user: UserRef, text: str) -> str:
        """Store the key; return it masked for the confirmation."""
        key = normalize_api_key(text)
        await self._repo.set_user_key(user, key.get_secret_value())
        return mask_api_key(key)

    async def remove_user_key(self, user: UserRef) -> bool:
        return await self._repo.delete_user_key(user)

    async def user_key(self, user: UserRef) -> SecretStr | None:
        """The user's own key, whole: only for what goes to that user alone (a ShareX
        uploader), never for a message."""
        return await self._repo.get_user_key(user)

    async def show_user_key(self, user: UserRef) -> str | None:
        key = await self._repo.get_user_key(user)
        return mask_api_key(key) if key else None

    async def set_chat_key(self, chat: ChatRef, text: str, set_by: UserRef) -> str | None:
        """Store a chat's (or server's) shared key; return it masked. ``off`` removes it
        (and returns None): an admin must be able to take a shared key back."""
        if text.strip().lower() in REMOVE_WORDS:
            await self._repo.set_chat_key(chat, None, set_by)
            return None
        key = normalize_api_key(text)
        await self._repo.set_chat_key(chat, key.get_secret_value(), set_by)
        return mask_api_key(key)

    def fingerprint(self, key: SecretStr) -> str:
        return self._repo.box.fingerprint(key.get_secret_value())
