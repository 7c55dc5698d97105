"""The fake's state and what every part of it shares: the registries of users, chats,
members, files and messages, their lookups, and the queue of updates."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.fakes import media
from tests.fakes.chevereto import SNIFF_BYTES, dimensions, sniff
from tests.fakes.server import LocalServer
from tests.fakes.telegram.limits import MessageLimiter, RateLimits
from tests.fakes.telegram.models import (
    _MEDIA_KINDS,
    BOT_NAME,
    BOT_USERNAME,
    FIRST_UPDATE_ID,
    JSON,
    MIB,
    TOKEN,
    ApiError,
    Call,
    Download,
    FileRef,
    Webhook,
    _Failure,
)
from tests.fakes.telegram.requests import _required

_MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "restricted", "left", "kicked"})
_ADMIN_RIGHTS: JSON = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
    "can_pin_messages": True,
    "can_manage_topics": False,
}
_RESTRICTIONS: JSON = {
    "is_member": True,
    "can_send_messages": False,
    "can_send_audios": False,
    "can_send_documents": False,
    "can_send_photos": False,
    "can_send_videos": False,
    "can_send_video_notes": False,
    "can_send_voice_notes": False,
    "can_send_polls": False,
    "can_send_other_messages": False,
    "can_add_web_page_previews": False,
    "can_change_info": False,
    "can_invite_users": False,
    "can_pin_messages": False,
    "can_manage_topics": False,
    "can_edit_tag": False,
    "until_date": 0,
}
_THUMB_BOXES = (90, 320)


def _scaled(width: int, height: int, box: int) -> tuple[int, int]:
    scale = box / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _read_head(content: bytes | Path) -> bytes:
    if isinstance(content, bytes):
        return content[:SNIFF_BYTES]
    with content.open("rb") as source:
        return source.read(SNIFF_BYTES)


def _image_size(content: bytes | Path) -> tuple[int, int] | None:
    head = _read_head(content)
    found = sniff(head)
    if found is None or found.kind != "image":
        return None
    return dimensions(found, head)


def _without_reply(message: JSON) -> JSON:
    """A message as nested in another one: the server nests one level only."""
    nested = copy.deepcopy(message)
    nested.pop("reply_to_message", None)
    return nested


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(seconds, 0)):
            await event.wait()


class FakeState(LocalServer):
    """Registries and lookups; the parts of TelegramFake are built on it."""

    def __init__(self, token: str = TOKEN, *, bot_username: str = BOT_USERNAME) -> None:
        super().__init__()
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_user: JSON = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": BOT_NAME,
            "username": bot_username,
        }
        # knobs
        self.privacy_mode = True
        self.blocked_chats: set[int] = set()
        self.max_download_bytes = 20 * MIB
        self.max_upload_bytes = 50 * MIB
        self.clock: Callable[[], float] = time.time
        self.rate_limits: RateLimits | None = None  # None: nothing is rate-limited
        self._limiter = MessageLimiter()
        # registries
        self.users: dict[int, JSON] = {}
        self.chats: dict[int, JSON] = {}
        self._members: dict[int, dict[int, JSON]] = {}
        self._files_by_id: dict[str, FileRef] = {}
        self._files_by_path: dict[str, FileRef] = {}
        self._thumbs: dict[str, list[FileRef]] = {}
        self._file_numbers = itertools.count(1)
        # messages: chat id -> message id -> Message, users' and the bot's
        self._messages: dict[int, dict[int, JSON]] = {}
        self._last_message_id: dict[int, int] = {}
        self._media_groups = itertools.count(13_000_000_000_000_001)
        # updates
        self._pending: list[JSON] = []
        self._update_ids = itertools.count(FIRST_UPDATE_ID)
        self._query_ids = itertools.count(4_000_000_000_000_000_001)
        self._open_queries: set[str] = set()
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._updates_changed = asyncio.Event()
        # bot settings
        self.webhook: Webhook | None = None
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._bot_texts: dict[tuple[str, str], str] = {}
        self._failures: list[_Failure] = []
        # inspection
        self.calls: list[Call] = []
        self.deleted: list[tuple[int, int]] = []
        self.downloads: list[Download] = []
        self.callback_answers: dict[str, JSON] = {}
        self.inline_answers: dict[str, JSON] = {}
        self.withheld: list[JSON] = []
        self.rate_limited: list[Call] = []  # the calls the rate limits answered 429
        self._calls_changed = asyncio.Event()
        # server
        self._spool_dir: Path | None = None
        self._closing = False

    # registries

    def user(
        self,
        id: int,
        first_name: str,
        language_code: str | None = "en",
        username: str | None = None,
        *,
        last_name: str | None = None,
        is_bot: bool = False,
    ) -> JSON:
        user: JSON = {"id": id, "is_bot": is_bot, "first_name": first_name}
        optional = {"last_name": last_name, "username": username, "language_code": language_code}
        user.update({key: value for key, value in optional.items() if value is not None})
        self.users[id] = user
        return user

    def private_chat(self, user: JSON) -> JSON:
        chat: JSON = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        for key in ("last_name", "username"):
            if key in user:
                chat[key] = user[key]
        self.users[user["id"]] = user
        self.chats[chat["id"]] = chat
        return chat

    def group(
        self, chat_id: int, title: str, *, supergroup: bool = True, username: str | None = None
    ) -> JSON:
        chat: JSON = {"id": chat_id, "type": "supergroup" if supergroup else "group"}
        chat["title"] = title
        if username is not None:
            chat["username"] = username
        self.chats[chat_id] = chat
        self._members.setdefault(chat_id, {}).setdefault(self.bot_id, {"status": "member"})
        return chat

    def channel(self, chat_id: int, title: str, *, username: str | None = None) -> JSON:
        """A channel (a negative id); the bot is not in it until ``set_member`` says so."""
        chat: JSON = {"id": chat_id, "type": "channel", "title": title}
        if username is not None:
            chat["username"] = username
        self.chats[chat_id] = chat
        return chat

    def set_member(self, chat_id: int, user_id: int, status: str = "member", **rights: Any) -> None:
        """Set a user's (or, with the bot's id, the bot's) status and rights in a chat."""
        if status not in _MEMBER_STATUSES:
            raise ValueError(f"unknown status {status!r}; one of {sorted(_MEMBER_STATUSES)}")
        self._members.setdefault(chat_id, {})[user_id] = {"status": status, **rights}

    def add_file(
        self,
        content: bytes | Path,
        *,
        file_id: str | None = None,
        unique_id: str | None = None,
        file_path: str | None = None,
    ) -> FileRef:
        """Register a file for getFile and downloads; a Path is streamed, never loaded."""
        number = next(self._file_numbers)
        suffix = content.suffix.lstrip(".") if isinstance(content, Path) else ""
        size = content.stat().st_size if isinstance(content, Path) else len(content)
        ref = FileRef(
            file_id=file_id or f"BQACAgIAAxkBfake{number:06d}",
            file_unique_id=unique_id or f"AgADfake{number:06d}",
            file_size=size,
            file_path=file_path or f"documents/file_{number}.{suffix or 'bin'}",
            content=content,
        )
        self._files_by_id[ref.file_id] = ref
        self._files_by_path[ref.file_path] = ref
        return ref

    def _register(
        self, content: bytes | Path | FileRef, kind: str, meta: JSON, extension: str = ""
    ) -> FileRef:
        """A file for a message of ``kind``: registered under that kind's folder."""
        if isinstance(content, FileRef):
            content.meta.update(meta)
            return content
        folder, default_extension = _MEDIA_KINDS[kind]
        if not extension and isinstance(content, Path):
            extension = content.suffix.lstrip(".")
        number = next(self._file_numbers)
        ref = self.add_file(
            content,
            file_id=f"{kind[:3].upper()}ACAgIAAxkBfake{number:06d}",
            file_path=f"{folder}/file_{number}.{extension or default_extension}",
        )
        ref.meta = dict(meta)
        return ref

    # chats and members

    def _chat(self, chat_id: Any) -> JSON:
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            for chat in self.chats.values():
                if str(chat.get("username", "")).lower() == chat_id[1:].lower():
                    return chat
        else:
            with contextlib.suppress(TypeError, ValueError):
                if (found := self.chats.get(int(chat_id))) is not None:
                    return found
        raise ApiError(400, "Bad Request: chat not found")

    def _sendable_chat(self, call: Call) -> JSON:
        chat_id = _required(call, "chat_id")
        if chat_id in self.users and chat_id not in self.chats:
            # A known user without a private chat never pressed Start.
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        chat = self._chat(chat_id)
        if chat["id"] in self.blocked_chats:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat["type"] in ("group", "supergroup"):
            status = self._member_entry(chat["id"], self.bot_id)["status"]
            if status == "kicked":
                raise ApiError(403, f"Forbidden: bot was kicked from the {chat['type']} chat")
            if status == "left":
                raise ApiError(403, f"Forbidden: bot is not a member of the {chat['type']} chat")
        return chat

    def _member_entry(self, chat_id: int, user_id: int) -> JSON:
        entry = self._members.get(chat_id, {}).get(user_id)
        if entry is not None:
            return entry
        private = self.chats.get(chat_id, {}).get("type") == "private"
        member = private and user_id in (chat_id, self.bot_id)
        return {"status": "member" if member else "left"}

    def _user_json(self, user_id: int) -> JSON:
        if user_id == self.bot_id:
            return self.bot_user
        fallback = {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
        return self.users.get(user_id, fallback)

    def _member_json(self, user: JSON, entry: JSON) -> JSON:
        """A ChatMember object with every field its status requires."""
        rights = {key: value for key, value in entry.items() if key != "status"}
        status = entry["status"]
        member: JSON = {"status": status, "user": user}
        if status == "creator":
            member.update({"is_anonymous": False, **rights})
        elif status == "administrator":
            member.update({**_ADMIN_RIGHTS, **rights})
        elif status == "restricted":
            member.update({**_RESTRICTIONS, **rights})
        elif status == "kicked":
            member.update({"until_date": 0, **rights})
        else:
            member.update(rights)
        return member

    # messages and photos

    def _new_message(self, chat: JSON, sender: JSON, content: JSON) -> JSON:
        message_id = self._last_message_id.get(chat["id"], 0) + 1
        self._last_message_id[chat["id"]] = message_id
        message = {
            "message_id": message_id,
            "from": sender,
            "chat": chat,
            "date": int(self.clock()),
            **content,
        }
        self._messages.setdefault(chat["id"], {})[message_id] = message
        return message

    def _photo_sizes(self, ref: FileRef) -> list[JSON]:
        """PhotoSizes, smallest first, ``ref`` last; the thumbnails are reused per photo."""
        thumbs = self._thumbs.get(ref.file_id)
        if thumbs is None:
            width = int(ref.meta.get("width") or 1)
            height = int(ref.meta.get("height") or 1)
            boxes = [box for box in _THUMB_BOXES if box < max(width, height)]
            sizes = [_scaled(width, height, box) for box in boxes]
            if not sizes:
                sizes = [(max(1, width // 2), max(1, height // 2))]
            thumbs = [
                self._register(media.jpeg_bytes(w, h), "photo", {"width": w, "height": h})
                for w, h in sizes
            ]
            self._thumbs[ref.file_id] = thumbs
        return [thumb.json() for thumb in thumbs] + [ref.json()]

    @staticmethod
    def _document_json(ref: FileRef) -> JSON:
        fields = ("file_id", "file_unique_id", "file_size", "file_name", "mime_type")
        return {key: value for key, value in ref.json().items() if key in fields}

    # the update queue

    def _queue(self, payload: JSON, deliver: bool = True) -> JSON:
        update = {"update_id": next(self._update_ids), **payload}
        if deliver:
            self._pending.append(update)
            self._notify_updates()
        else:
            self.withheld.append(update)
        return update

    def _notify_updates(self) -> None:
        self._updates_changed.set()
        self._updates_changed = asyncio.Event()
