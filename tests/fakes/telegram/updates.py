"""Injecting updates as the users' side would cause them: messages of every kind, button
presses, membership changes, and delivering an update to the webhook."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

from tests.fakes.telegram.models import INLINE_QUERY_LIMIT, JSON, FileRef
from tests.fakes.telegram.state import FakeState, _image_size, _without_reply
from tests.fakes.telegram.text import detect_entities


def _has_button(message: JSON, callback_data: str) -> bool:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return any(button.get("callback_data") == callback_data for row in rows for button in row)


class UpdateInjection(FakeState):
    """``send_text``, ``send_photo``..., ``press_button``, member updates, webhook delivery."""

    def send_text(
        self,
        chat: JSON,
        user: JSON,
        text: str,
        *,
        reply_to: int | JSON | None = None,
        entities: list[JSON] | None = None,
        forward: bool | JSON = False,
    ) -> JSON:
        """A text message from ``user``; entities are detected unless given."""
        found = detect_entities(text) if entities is None else entities
        content: JSON = {"text": text}
        if found:
            content["entities"] = found
        return self._incoming(chat, user, content, reply_to=reply_to, forward=forward)

    def send_photo(
        self,
        chat: JSON,
        user: JSON,
        content: bytes | Path | FileRef,
        *,
        caption: str | None = None,
        has_spoiler: bool = False,
        media_group_id: str | None = None,
        width: int | None = None,
        height: int | None = None,
        reply_to: int | JSON | None = None,
        forward: bool | JSON = False,
    ) -> JSON:
        """A photo: 2-3 PhotoSizes, the largest being ``content``."""
        size = _image_size(content.content if isinstance(content, FileRef) else content)
        natural_width, natural_height = size or (1280, 960)
        meta = {"width": width or natural_width, "height": height or natural_height}
        ref = self._register(content, "photo", meta)
        fields: JSON = {"photo": self._photo_sizes(ref)}
        if has_spoiler:
            fields["has_media_spoiler"] = True
        return self._incoming_media(chat, user, fields, caption, media_group_id, reply_to, forward)

    def send_document(
        self,
        chat: JSON,
        user: JSON,
        content: bytes | Path | FileRef,
        *,
        file_name: str,
        mime_type: str,
        caption: str | None = None,
        media_group_id: str | None = None,
        reply_to: int | JSON | None = None,
        forward: bool | JSON = False,
    ) -> JSON:
        meta = {"file_name": file_name, "mime_type": mime_type}
        ref = self._register(content, "document", meta, Path(file_name).suffix.lstrip("."))
        fields = {"document": ref.json()}
        return self._incoming_media(chat, user, fields, caption, media_group_id, reply_to, forward)

    def send_video(
        self,
        chat: JSON,
        user: JSON,
        content: bytes | Path | FileRef,
        *,
        mime_type: str = "video/mp4",
        duration: int = 3,
        width: int = 640,
        height: int = 360,
        file_name: str | None = None,
        caption: str | None = None,
        has_spoiler: bool = False,
        media_group_id: str | None = None,
        reply_to: int | JSON | None = None,
        forward: bool | JSON = False,
    ) -> JSON:
        meta: JSON = {"width": width, "height": height, "duration": duration}
        meta["mime_type"] = mime_type
        if file_name is not None:
            meta["file_name"] = file_name
        ref = self._register(content, "video", meta)
        fields: JSON = {"video": ref.json()}
        if has_spoiler:
            fields["has_media_spoiler"] = True
        return self._incoming_media(chat, user, fields, caption, media_group_id, reply_to, forward)

    def send_animation(
        self,
        chat: JSON,
        user: JSON,
        content: bytes | Path | FileRef,
        *,
        mime_type: str = "video/mp4",
        file_name: str = "animation.gif.mp4",
        duration: int = 2,
        width: int = 320,
        height: int = 240,
        caption: str | None = None,
        reply_to: int | JSON | None = None,
        forward: bool | JSON = False,
    ) -> JSON:
        """A GIF as clients send it: ``animation`` and ``document`` for the same file."""
        meta: JSON = {"width": width, "height": height, "duration": duration}
        meta.update({"file_name": file_name, "mime_type": mime_type})
        ref = self._register(content, "animation", meta)
        fields = {"animation": ref.json(), "document": self._document_json(ref)}
        return self._incoming_media(chat, user, fields, caption, None, reply_to, forward)

    def send_sticker(
        self,
        chat: JSON,
        user: JSON,
        content: bytes | Path | FileRef,
        *,
        is_animated: bool = False,
        is_video: bool = False,
        emoji: str = "🙂",
        reply_to: int | JSON | None = None,
        forward: bool | JSON = False,
    ) -> JSON:
        meta: JSON = {"type": "regular", "width": 512, "height": 512, "emoji": emoji}
        meta.update({"is_animated": is_animated, "is_video": is_video})
        extension = "tgs" if is_animated else "webm" if is_video else "webp"
        ref = self._register(content, "sticker", meta, extension)
        return self._incoming_media(
            chat, user, {"sticker": ref.json()}, None, None, reply_to, forward
        )

    def send_audio(
        self,
        chat: JSON,
        user: JSON,
        content: bytes | Path | FileRef,
        *,
        duration: int = 5,
        file_name: str = "audio.mp3",
        mime_type: str = "audio/mpeg",
        title: str | None = None,
        performer: str | None = None,
        caption: str | None = None,
        reply_to: int | JSON | None = None,
        forward: bool | JSON = False,
    ) -> JSON:
        meta: JSON = {"duration": duration, "file_name": file_name, "mime_type": mime_type}
        meta.update({k: v for k, v in (("title", title), ("performer", performer)) if v})
        ref = self._register(content, "audio", meta, Path(file_name).suffix.lstrip("."))
        fields = {"audio": ref.json()}
        return self._incoming_media(chat, user, fields, caption, None, reply_to, forward)

    def send_voice(
        self,
        chat: JSON,
        user: JSON,
        content: bytes | Path | FileRef,
        *,
        duration: int = 2,
        mime_type: str = "audio/ogg",
        caption: str | None = None,
        reply_to: int | JSON | None = None,
        forward: bool | JSON = False,
    ) -> JSON:
        ref = self._register(content, "voice", {"duration": duration, "mime_type": mime_type})
        fields = {"voice": ref.json()}
        return self._incoming_media(chat, user, fields, caption, None, reply_to, forward)

    def press_button(
        self, chat: JSON, user: JSON, message_id: int, callback_data: str, *, forged: bool = False
    ) -> JSON:
        """A callback_query for a button that must exist on the bot's message now, unless
        ``forged``: Telegram does not check the data against the buttons, and a modified
        client sends whatever it likes."""
        message = self._messages.get(chat["id"], {}).get(message_id)
        if message is None:
            raise ValueError(f"no message {message_id} in chat {chat['id']}")
        if not forged and not _has_button(message, callback_data):
            markup = message.get("reply_markup")
            raise ValueError(f"message {message_id} has no button {callback_data!r}: {markup}")
        self._remember(chat, user)
        query_id = str(next(self._query_ids))
        self._open_queries.add(query_id)
        query = {
            "id": query_id,
            "from": user,
            "message": copy.deepcopy(message),
            "chat_instance": str(8_000_000_000_000_000_000 + abs(chat["id"])),
            "data": callback_data,
        }
        return self._queue({"callback_query": query})

    def open_web_app(
        self, chat: JSON, user: JSON, message_id: int, *, signed_at: float | None = None
    ) -> str:
        """The address a Telegram client opens for the Mini App button on the bot's
        message: the button's URL with ``#tgWebAppData=`` (the launch data, signed with
        the bot's token as Telegram signs it) and the other launch parameters."""
        message = self._messages.get(chat["id"], {}).get(message_id)
        rows = (message or {}).get("reply_markup", {}).get("inline_keyboard", [])
        apps = [button["web_app"]["url"] for row in rows for button in row if "web_app" in button]
        if not apps:
            raise ValueError(f"message {message_id} in chat {chat['id']} has no Mini App button")
        launch = {
            "user": json.dumps(user, separators=(",", ":"), ensure_ascii=False),
            "chat_instance": str(8_000_000_000_000_000_000 + abs(chat["id"])),
            "chat_type": "sender",
            "auth_date": str(int(time.time() if signed_at is None else signed_at)),
            "signature": "c2lnbmVkIGJ5IFRlbGVncmFtIGZvciB0aGlyZCBwYXJ0aWVz",
        }
        check = "\n".join(f"{key}={launch[key]}" for key in sorted(launch))
        secret = hmac.new(b"WebAppData", self.token.encode(), hashlib.sha256).digest()
        launch["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
        fragment = urlencode(
            {
                "tgWebAppData": urlencode(launch),
                "tgWebAppVersion": "9.1",
                "tgWebAppPlatform": "tdesktop",
            }
        )
        return f"{apps[0]}#{fragment}"

    def post_photo(
        self, channel: JSON, content: bytes | Path | FileRef, *, caption: str | None = None
    ) -> JSON:
        """A photo posted in ``channel``: a ``channel_post`` update, signed by the channel
        (no ``from``), that reaches the bot only if it is a member there."""
        size = _image_size(content.content if isinstance(content, FileRef) else content)
        width, height = size or (1280, 960)
        ref = self._register(content, "photo", {"width": width, "height": height})
        fields: JSON = {"photo": self._photo_sizes(ref), "sender_chat": channel}
        if caption:
            fields["caption"] = caption
            if found := detect_entities(caption):
                fields["caption_entities"] = found
        self.chats.setdefault(channel["id"], channel)
        message_id = self._last_message_id.get(channel["id"], 0) + 1
        self._last_message_id[channel["id"]] = message_id
        post = {"message_id": message_id, "chat": channel, "date": int(self.clock()), **fields}
        self._messages.setdefault(channel["id"], {})[message_id] = post
        member = self._members.get(channel["id"], {}).get(self.bot_id, {})
        visible = member.get("status") in ("administrator", "creator", "member")
        return self._queue({"channel_post": copy.deepcopy(post)}, visible)

    def inline_query(self, user: JSON, query: str, *, offset: str = "") -> JSON:
        """``user`` typed ``@bot query`` in some chat (``offset``: the ``next_offset`` of
        the answer before, when they scrolled on)."""
        if len(query) > INLINE_QUERY_LIMIT:
            raise ValueError(f"an inline query is at most {INLINE_QUERY_LIMIT} characters")
        self.users.setdefault(user["id"], user)
        query_id = str(next(self._query_ids))
        self._open_queries.add(query_id)
        inline = {"id": query_id, "from": user, "query": query, "offset": offset}
        return self._queue({"inline_query": {**inline, "chat_type": "sender"}})

    def my_chat_member(
        self, chat: JSON, user: JSON, *, status: str = "member", old_status: str = "left"
    ) -> JSON:
        """``user`` changed the bot's membership in ``chat`` (added it, promoted it...)."""
        return self._member_update("my_chat_member", chat, user, self.bot_user, status, old_status)

    def chat_member(
        self,
        chat: JSON,
        user: JSON,
        member: JSON,
        *,
        status: str = "member",
        old_status: str = "left",
    ) -> JSON:
        """``member``'s status changed; delivered only if allowed_updates names it."""
        return self._member_update("chat_member", chat, user, member, status, old_status)

    async def deliver_webhook(self, update: JSON, *, secret_token: str | None) -> int:
        """POST ``update`` to the webhook as the server would; answer the HTTP status."""
        if self.webhook is None:
            raise RuntimeError("no webhook is set")
        headers = {} if secret_token is None else {"X-Telegram-Bot-Api-Secret-Token": secret_token}
        timeout = aiohttp.ClientTimeout(total=10)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(self.webhook.url, json=update, headers=headers) as response,
        ):
            status = response.status
        if 200 <= status < 300 and update in self._pending:
            self._pending.remove(update)  # delivered: the server forgets it
        return status

    def _incoming_media(
        self,
        chat: JSON,
        user: JSON,
        fields: JSON,
        caption: str | None,
        media_group_id: str | None,
        reply_to: int | JSON | None,
        forward: bool | JSON,
    ) -> JSON:
        if caption:
            fields["caption"] = caption
            if found := detect_entities(caption):
                fields["caption_entities"] = found
        if media_group_id is not None:
            fields["media_group_id"] = media_group_id
        return self._incoming(chat, user, fields, reply_to=reply_to, forward=forward)

    def _incoming(
        self,
        chat: JSON,
        user: JSON,
        content: JSON,
        *,
        reply_to: int | JSON | None,
        forward: bool | JSON,
    ) -> JSON:
        self._remember(chat, user)
        if reply_to is not None:
            content["reply_to_message"] = self._reply_copy(chat["id"], reply_to)
        if forward:
            content["forward_origin"] = self._origin(forward)
        message = self._new_message(chat, user, content)
        return self._queue({"message": copy.deepcopy(message)}, self._visible(message))

    def _remember(self, chat: JSON, user: JSON) -> None:
        """Register a hand-made chat or user; whoever posts in a group is in it."""
        self.chats.setdefault(chat["id"], chat)
        self.users.setdefault(user["id"], user)
        if chat["type"] in ("group", "supergroup"):
            members = self._members.setdefault(chat["id"], {})
            members.setdefault(self.bot_id, {"status": "member"})
            members.setdefault(user["id"], {"status": "member"})

    def _reply_copy(self, chat_id: int, reply_to: int | JSON) -> JSON:
        """``reply_to`` is a message id, a Message or an Update holding one."""
        if isinstance(reply_to, dict):
            message_id = int(reply_to.get("message", reply_to)["message_id"])
        else:
            message_id = reply_to
        target = self._messages.get(chat_id, {}).get(message_id)
        if target is None:
            raise ValueError(f"no message {message_id} in chat {chat_id} to reply to")
        return _without_reply(target)

    def _origin(self, forward: bool | JSON) -> JSON:
        date = int(self.clock()) - 3600
        if forward is True:
            return {"type": "hidden_user", "sender_user_name": "Someone Else", "date": date}
        assert isinstance(forward, dict)
        if forward.get("type") == "channel":
            return {"type": "channel", "chat": forward, "message_id": 1, "date": date}
        return {"type": "user", "sender_user": forward, "date": date}

    def _visible(self, message: JSON) -> bool:
        """Whether the bot gets this message, privacy mode considered."""
        chat = message["chat"]
        if chat["type"] not in ("group", "supergroup"):
            return True
        status = self._member_entry(chat["id"], self.bot_id)["status"]
        if status in ("left", "kicked"):
            return False
        if not self.privacy_mode or status in ("administrator", "creator"):
            return True
        text = message.get("text") or message.get("caption") or ""
        username = str(self.bot_user["username"]).lower()
        if text.startswith("/"):
            _, _, addressee = text.split(maxsplit=1)[0].partition("@")
            return addressee.lower() in ("", username)
        replied = message.get("reply_to_message")
        if replied is not None and replied.get("from", {}).get("id") == self.bot_id:
            return True
        return f"@{username}" in text.lower()

    def _member_update(
        self, kind: str, chat: JSON, user: JSON, member: JSON, status: str, old_status: str
    ) -> JSON:
        self._remember(chat, user)
        self.set_member(chat["id"], member["id"], status)
        old = self._member_json(member, {"status": old_status})
        update = {
            "chat": chat,
            "from": user,
            "date": int(self.clock()),
            "old_chat_member": old,
            "new_chat_member": self._member_json(member, {"status": status}),
        }
        return self._queue({kind: update})
