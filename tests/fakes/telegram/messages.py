"""The Bot API methods about messages: sending text and media, media groups, copies and
forwards, edits and deletions."""

from __future__ import annotations

import contextlib
import copy
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tests.fakes import media
from tests.fakes.telegram.models import (
    _HTTP_URL,
    _MEDIA_KINDS,
    CALLBACK_DATA_LIMIT,
    CAPTION_LIMIT,
    JSON,
    TEXT_LIMIT,
    ApiError,
    Call,
    FileRef,
    UploadedFile,
)
from tests.fakes.telegram.requests import _flag, _int, _required
from tests.fakes.telegram.state import FakeState, _image_size, _without_reply
from tests.fakes.telegram.text import EntityParseError, _merge_detected, _strip, parse_html

_BUTTON_URL = re.compile(r"(https?|tg)://", re.IGNORECASE)

_MEDIA_KEYS = tuple(_MEDIA_KINDS)
_CONTENT_KEYS = (*_MEDIA_KEYS, "text", "entities", "caption", "caption_entities")

_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply "
    "markup are exactly the same as a current content and reply markup of the message"
)
_WRONG_FILE = "Bad Request: wrong file identifier/HTTP URL specified"


def _check_inline_keyboard(markup: JSON, *, private: bool) -> None:
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data, url = button.get("callback_data"), button.get("url")
            web_app = button.get("web_app")
            if web_app is not None:
                _check_web_app(web_app, private)
            if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_LIMIT:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            if url is not None and not _BUTTON_URL.match(str(url)):
                raise ApiError(400, f"Bad Request: inline keyboard button URL '{url}' is invalid")
            if len(button) < 2 or "text" not in button:
                raise ApiError(
                    400,
                    "Bad Request: can't parse inline keyboard button: Text buttons are "
                    "unallowed in the inline keyboard",
                )


def _check_web_app(web_app: Any, private: bool) -> None:
    """Mini App buttons: private chats only, and the app's address must be https."""
    if not private:
        raise ApiError(400, "Bad Request: BUTTON_TYPE_INVALID")
    url = str(web_app.get("url", "")) if isinstance(web_app, dict) else ""
    if not url.lower().startswith("https://"):
        raise ApiError(
            400,
            f"Bad Request: inline keyboard button Web App URL '{url}' is invalid: "
            "Only HTTPS links are allowed",
        )


class MessageMethods(FakeState):
    """Handlers for the methods below, each taking the Call and answering its result."""

    # text, captions, keyboards, replies

    def _formatted(
        self, raw: Any, parse_mode: Any, entities: Any, limit: int, too_long: str
    ) -> tuple[str, list[JSON]]:
        """Text and entities after parse_mode, trimming and the server's own detection."""
        text = "" if raw is None else str(raw)
        found: list[JSON] = []
        if str(parse_mode or "").lower() == "html":
            try:
                text, found = parse_html(text)
            except EntityParseError as error:
                raise ApiError(400, f"Bad Request: can't parse entities: {error}") from None
        elif isinstance(entities, list):
            found = list(entities)
        text, found = _strip(text, found)
        if len(text) > limit:
            raise ApiError(400, too_long)
        return text, _merge_detected(text, found) if text else []

    def _text_fields(self, call: Call) -> JSON:
        text, entities = self._formatted(
            call.params.get("text"),
            call.params.get("parse_mode"),
            call.params.get("entities"),
            TEXT_LIMIT,
            "Bad Request: message is too long",
        )
        if not text:
            raise ApiError(400, "Bad Request: message text is empty")
        return {"text": text, "entities": entities or None}

    def _caption_fields(self, source: JSON) -> JSON:
        caption, entities = self._formatted(
            source.get("caption"),
            source.get("parse_mode"),
            source.get("caption_entities"),
            CAPTION_LIMIT,
            "Bad Request: message caption is too long",
        )
        return {"caption": caption or None, "caption_entities": entities or None}

    def _inline_markup(self, call: Call) -> JSON | None:
        markup = call.params.get("reply_markup")
        if not isinstance(markup, dict) or "inline_keyboard" not in markup:
            return None  # reply keyboards are not part of the Message object
        chat_id = str(call.params.get("chat_id", ""))
        known = self.chats.get(int(chat_id)) if chat_id.lstrip("-").isdigit() else None
        _check_inline_keyboard(markup, private=(known or {}).get("type") == "private")
        return markup

    def _reply_target(self, call: Call, chat_id: int) -> JSON | None:
        parameters = call.params.get("reply_parameters")
        if parameters is None and call.params.get("reply_to_message_id") is not None:
            parameters = {
                "message_id": call.params["reply_to_message_id"],
                "allow_sending_without_reply": call.params.get("allow_sending_without_reply"),
            }
        if not isinstance(parameters, dict):
            return None
        target_chat = self._chat(parameters.get("chat_id", chat_id))["id"]
        target = self._messages.get(target_chat, {}).get(int(parameters["message_id"]))
        if target is not None:
            return _without_reply(target)
        if _flag(parameters.get("allow_sending_without_reply")):
            return None
        raise ApiError(400, "Bad Request: message to be replied not found")

    def _post(self, call: Call, chat: JSON, content: JSON) -> JSON:
        """Store a new bot message with the call's reply and keyboard; answer a copy."""
        extra = {
            "reply_to_message": self._reply_target(call, chat["id"]),
            "reply_markup": self._inline_markup(call),
            "link_preview_options": call.params.get("link_preview_options"),
        }
        fields = {k: v for k, v in {**content, **extra}.items() if v is not None}
        return copy.deepcopy(self._new_message(chat, self.bot_user, fields))

    # sending

    def _send_message(self, call: Call) -> JSON:
        chat = self._sendable_chat(call)
        return self._post(call, chat, self._text_fields(call))

    def _media_sender(self, kind: str) -> Callable[[Call], JSON]:
        def send(call: Call) -> JSON:
            chat = self._sendable_chat(call)
            content = self._media_fields(call, kind, call.params.get(kind), call.params)
            if kind != "sticker":
                content.update(self._caption_fields(call.params))
            return self._post(call, chat, content)

        return send

    def _media_fields(self, call: Call, kind: str, value: Any, source: JSON) -> JSON:
        """The message fields for a file given as upload, attach://, URL or file_id."""
        if kind not in _MEDIA_KINDS:
            raise ApiError(400, f"Bad Request: unsupported media type {kind!r}")
        ref = self._input_file(call, kind, value, source)
        fields: JSON = {kind: self._photo_sizes(ref) if kind == "photo" else ref.json()}
        if kind == "animation":
            fields["document"] = self._document_json(ref)
        if _flag(source.get("has_spoiler")):
            fields["has_media_spoiler"] = True
        return fields

    def _input_file(self, call: Call, kind: str, value: Any, source: JSON) -> FileRef:
        upload = call.files.get(kind) if value is None else None
        if isinstance(value, str) and value.startswith("attach://"):
            upload = call.files.get(value.removeprefix("attach://"))
            if upload is None:
                raise ApiError(400, _WRONG_FILE)
        if upload is not None:
            meta = self._upload_meta(kind, upload, source)
            extension = Path(upload.filename or "").suffix.lstrip(".")
            return self._register(upload.path, kind, meta, extension)
        if isinstance(value, str) and _HTTP_URL.match(value):
            # Not fetched: a placeholder stands for whatever the URL holds.
            placeholder = media.jpeg_bytes(800, 600) if kind == "photo" else bytes(1024)
            return self._register(placeholder, kind, self._upload_meta(kind, None, source))
        if isinstance(value, str) and value in self._files_by_id:
            return self._files_by_id[value]
        if value is None:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        raise ApiError(400, _WRONG_FILE)

    def _upload_meta(self, kind: str, upload: UploadedFile | None, source: JSON) -> JSON:
        """What the server reports of a file the bot sent: sizes, names, durations."""
        if kind == "photo":
            size = _image_size(upload.path) if upload is not None else None
            width, height = size or (800, 600)
            return {"width": width, "height": height}
        meta: JSON = {}
        if kind in ("video", "animation"):
            meta = {key: int(source.get(key) or 0) for key in ("width", "height", "duration")}
        elif kind in ("audio", "voice"):
            meta = {"duration": int(source.get("duration") or 0)}
            meta.update({k: source[k] for k in ("title", "performer") if source.get(k)})
        elif kind == "sticker":
            meta = {"type": "regular", "width": 512, "height": 512}
            meta.update({"is_animated": False, "is_video": False})
        if kind != "sticker" and upload is not None:
            if upload.filename:
                meta["file_name"] = upload.filename
            meta["mime_type"] = upload.content_type or "application/octet-stream"
        return meta

    def _send_media_group(self, call: Call) -> list[JSON]:
        chat = self._sendable_chat(call)
        items = _required(call, "media")
        if not isinstance(items, list) or not 1 <= len(items) <= 10:
            raise ApiError(400, "Bad Request: media must be an array of 1-10 items")
        group_id = str(next(self._media_groups))
        contents = []
        for item in items:  # everything is checked before anything is sent
            content = self._media_fields(call, str(item.get("type")), item.get("media"), item)
            content.update(self._caption_fields(item))
            contents.append({**content, "media_group_id": group_id})
        return [self._post(call, chat, content) for content in contents]

    def _source_message(self, call: Call, missing: str) -> JSON:
        from_chat = self._chat(_required(call, "from_chat_id"))
        message = self._messages.get(from_chat["id"], {}).get(_int(call, "message_id"))
        if message is None:
            raise ApiError(400, missing)
        return message

    def _copy_message(self, call: Call) -> JSON:
        chat = self._sendable_chat(call)
        source = self._source_message(call, "Bad Request: message to copy not found")
        content = {key: copy.deepcopy(source[key]) for key in _CONTENT_KEYS if key in source}
        if "caption" in call.params:
            content.update(self._caption_fields(call.params))
        return {"message_id": self._post(call, chat, content)["message_id"]}

    def _forward_message(self, call: Call) -> JSON:
        chat = self._sendable_chat(call)
        source = self._source_message(call, "Bad Request: message to forward not found")
        content = {key: copy.deepcopy(source[key]) for key in _CONTENT_KEYS if key in source}
        origin = {"type": "user", "sender_user": source["from"], "date": source["date"]}
        content["forward_origin"] = source.get("forward_origin", origin)
        # A forward carries no reply and no keyboard of its own.
        message = self._new_message(chat, self.bot_user, content)
        return copy.deepcopy(message)

    # edits and deletions

    def _editable(self, call: Call) -> JSON | None:
        """The bot message an edit targets; None for inline messages (not stored)."""
        if call.params.get("inline_message_id"):
            return None
        chat = self._chat(_required(call, "chat_id"))
        message = self._messages.get(chat["id"], {}).get(_int(call, "message_id"))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if chat["type"] == "channel":
            # An admin bot that may edit messages edits any post of the channel.
            rights = self._members.get(chat["id"], {}).get(self.bot_id, {})
            if rights.get("status") not in ("administrator", "creator") or not rights.get(
                "can_edit_messages", True
            ):
                raise ApiError(400, "Bad Request: message can't be edited")
            return message
        if message.get("from", {}).get("id") != self.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    def _apply_edit(self, message: JSON, keys: Iterable[str], new: JSON) -> JSON:
        """Replace ``keys`` with ``new`` (None drops a key); refuse an edit that changes nothing."""
        keys = tuple(keys)
        before = {key: message[key] for key in keys if key in message}
        after = {key: value for key, value in new.items() if value is not None}
        if before == after:
            raise ApiError(400, _NOT_MODIFIED)
        for key in keys:
            message.pop(key, None)
        message.update(after)
        message["edit_date"] = int(self.clock())
        return copy.deepcopy(message)

    def _edit_message_text(self, call: Call) -> JSON | bool:
        message = self._editable(call)
        if message is None:
            return True
        if "text" not in message:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        new = {**self._text_fields(call), "reply_markup": self._inline_markup(call)}
        new["link_preview_options"] = call.params.get("link_preview_options")
        return self._apply_edit(message, new, new)

    def _edit_message_caption(self, call: Call) -> JSON | bool:
        message = self._editable(call)
        if message is None:
            return True
        if not any(key in message for key in _MEDIA_KEYS):
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        new = {**self._caption_fields(call.params), "reply_markup": self._inline_markup(call)}
        return self._apply_edit(message, new, new)

    def _edit_message_reply_markup(self, call: Call) -> JSON | bool:
        message = self._editable(call)
        if message is None:
            return True
        new = {"reply_markup": self._inline_markup(call)}
        return self._apply_edit(message, new, new)

    def _edit_message_media(self, call: Call) -> JSON | bool:
        message = self._editable(call)
        item = _required(call, "media")
        if not isinstance(item, dict):
            raise ApiError(400, "Bad Request: can't parse InputMedia")
        new = self._media_fields(call, str(item.get("type")), item.get("media"), item)
        if message is None:
            return True
        if not any(key in message for key in _MEDIA_KEYS):
            raise ApiError(400, "Bad Request: there is no media in the message to edit")
        new.update(self._caption_fields(item))
        new["reply_markup"] = self._inline_markup(call)
        keys = (*_MEDIA_KEYS, "caption", "caption_entities", "has_media_spoiler", "reply_markup")
        return self._apply_edit(message, keys, new)

    def _may_delete(self, chat: JSON, message: JSON) -> bool:
        if message["from"]["id"] == self.bot_id or chat["type"] == "private":
            return True
        entry = self._member_entry(chat["id"], self.bot_id)
        if entry["status"] == "creator":
            return True
        # In a basic group any admin may delete; a supergroup needs the right.
        return entry["status"] == "administrator" and (
            chat["type"] == "group" or entry.get("can_delete_messages", True) is not False
        )

    def _delete(self, chat: JSON, message_id: int) -> None:
        message = self._messages.get(chat["id"], {}).get(message_id)
        if message is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        if not self._may_delete(chat, message):
            raise ApiError(400, "Bad Request: message can't be deleted")
        del self._messages[chat["id"]][message_id]
        self.deleted.append((chat["id"], message_id))

    def _delete_message(self, call: Call) -> bool:
        chat = self._chat(_required(call, "chat_id"))
        self._delete(chat, _int(call, "message_id"))
        return True

    def _delete_messages(self, call: Call) -> bool:
        chat = self._chat(_required(call, "chat_id"))
        for message_id in _required(call, "message_ids"):
            # Messages that cannot be found or deleted are skipped, as documented.
            with contextlib.suppress(ApiError):
                self._delete(chat, int(message_id))
        return True
