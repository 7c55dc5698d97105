"""The Bot API methods not about messages: getMe, commands and descriptions, getUpdates and
webhooks, chats and members, chat actions, callback answers and getFile."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

from tests.fakes.telegram.models import (
    _HTTP_URL,
    BOT_NAME,
    INLINE_ID_LIMIT,
    INLINE_RESULTS_LIMIT,
    JSON,
    ApiError,
    Call,
    Webhook,
)
from tests.fakes.telegram.requests import _flag, _int, _required
from tests.fakes.telegram.state import FakeState, _wait

_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")

# Update kinds delivered only when allowed_updates names them.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

_STALE_QUERY = "Bad Request: query is too old and response timeout expired or query ID is invalid"
_POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot "
    "instance is running"
)
_WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook "
    "to delete the webhook first"
)


def _update_kind(update: JSON) -> str:
    return next(key for key in update if key != "update_id")


class BotMethods(FakeState):
    """Handlers for the methods below, each taking the Call and answering its result."""

    # getMe, commands, descriptions

    def _get_me(self, call: Call) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _command_key(self, call: Call) -> tuple[str, str]:
        scope = call.params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(call.params.get("language_code") or "")

    def _set_my_commands(self, call: Call) -> bool:
        commands = _required(call, "commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be an array of at most 100 items")
        for command in commands:
            if not _COMMAND_NAME.fullmatch(str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: command description must be 1-256 characters")
        self._commands[self._command_key(call)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _get_my_commands(self, call: Call) -> list[JSON]:
        return list(self._commands.get(self._command_key(call), []))

    def _delete_my_commands(self, call: Call) -> bool:
        self._commands.pop(self._command_key(call), None)
        return True

    def _bot_text_setter(self, field_name: str) -> Callable[[Call], bool]:
        def setter(call: Call) -> bool:
            language = str(call.params.get("language_code") or "")
            self._bot_texts[(field_name, language)] = str(call.params.get(field_name) or "")
            return True

        return setter

    def _bot_text_getter(self, field_name: str) -> Callable[[Call], JSON]:
        def getter(call: Call) -> JSON:
            language = str(call.params.get("language_code") or "")
            default = BOT_NAME if field_name == "name" else ""
            value = self._bot_texts.get((field_name, language)) or self._bot_texts.get(
                (field_name, ""), default
            )
            return {field_name: value or default}

        return getter

    # updates and webhooks

    async def _get_updates(self, call: Call) -> list[JSON]:
        if self.webhook is not None:
            raise ApiError(409, _WEBHOOK_CONFLICT)
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify_updates()  # an older poll still waiting ends with a conflict
        self._confirm(call.params.get("offset"))
        if "allowed_updates" in call.params:
            self._allowed_updates = list(call.params["allowed_updates"] or [])
        limit = min(max(_int(call, "limit", 100), 1), 100)
        loop = asyncio.get_running_loop()
        try:
            deadline = loop.time() + max(float(call.params.get("timeout") or 0), 0.0)
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: invalid timeout specified") from None
        while True:
            if generation != self._poll_generation:
                raise ApiError(409, _POLL_CONFLICT)
            if self.webhook is not None:
                raise ApiError(409, "Conflict: terminated by setWebhook request")
            ready = self._deliverable()[:limit]
            if ready or self._closing or loop.time() >= deadline:
                return ready
            await _wait(self._updates_changed, deadline - loop.time())

    def _confirm(self, offset: Any) -> None:
        """Forget updates below ``offset``; a negative one keeps only the last -offset."""
        if offset is None:
            return
        offset = int(offset)
        if offset < 0:
            self._pending = self._pending[offset:]
        else:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]

    def _deliverable(self) -> list[JSON]:
        """Pending updates of allowed kinds; the others are dropped, as the server does."""
        allowed = self._allowed_updates

        def wanted(update: JSON) -> bool:
            kind = _update_kind(update)
            return kind in allowed if allowed else kind not in _OPT_IN_UPDATES

        self._pending = [u for u in self._pending if wanted(u)]
        return list(self._pending)

    def _set_webhook(self, call: Call) -> bool:
        url = str(call.params.get("url") or "")
        drop = _flag(call.params.get("drop_pending_updates"))
        if drop:
            self._pending.clear()
        if not url:
            self.webhook = None
            return True
        if not _HTTP_URL.match(url):
            raise ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        secret = call.params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        allowed = call.params.get("allowed_updates")
        if allowed is not None:
            self._allowed_updates = list(allowed)
        self.webhook = Webhook(
            url=url,
            secret_token=None if secret is None else str(secret),
            drop_pending_updates=drop,
            max_connections=_int(call, "max_connections", 40),
            allowed_updates=None if allowed is None else list(allowed),
            ip_address=call.params.get("ip_address"),
        )
        self._notify_updates()  # a waiting getUpdates ends with a conflict
        return True

    def _delete_webhook(self, call: Call) -> bool:
        if _flag(call.params.get("drop_pending_updates")):
            self._pending.clear()
        self.webhook = None
        return True

    def _get_webhook_info(self, call: Call) -> JSON:
        info: JSON = {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook is not None:
            info["url"] = self.webhook.url
            info["max_connections"] = self.webhook.max_connections
            if self.webhook.allowed_updates is not None:
                info["allowed_updates"] = self.webhook.allowed_updates
            if self.webhook.ip_address is not None:
                info["ip_address"] = self.webhook.ip_address
        return info

    # chats and members

    def _get_chat(self, call: Call) -> JSON:
        chat = self._chat(_required(call, "chat_id"))
        gifts = ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription")
        accepted = dict.fromkeys((*gifts, "gifts_from_channels"), True)
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": accepted,
        }

    def _get_chat_member(self, call: Call) -> JSON:
        chat = self._chat(_required(call, "chat_id"))
        user_id = _int(call, "user_id")
        return self._member_json(self._user_json(user_id), self._member_entry(chat["id"], user_id))

    def _get_chat_administrators(self, call: Call) -> list[JSON]:
        chat = self._chat(_required(call, "chat_id"))
        admins = []
        for user_id, entry in self._members.get(chat["id"], {}).items():
            user = self._user_json(user_id)
            # The server leaves bots out of this list.
            if entry["status"] in ("creator", "administrator") and not user["is_bot"]:
                admins.append(self._member_json(user, entry))
        return admins

    def _get_chat_member_count(self, call: Call) -> int:
        chat = self._chat(_required(call, "chat_id"))
        if chat["type"] == "private":
            return 2
        entries = self._members.get(chat["id"], {}).values()
        present = ("creator", "administrator", "member", "restricted")
        return sum(1 for entry in entries if entry["status"] in present)

    # chat actions, callback queries, files

    def _send_chat_action(self, call: Call) -> bool:
        self._sendable_chat(call)
        if call.params.get("action") not in _CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    def _answer_callback_query(self, call: Call) -> bool:
        query_id = str(_required(call, "callback_query_id"))
        if query_id not in self._open_queries:
            raise ApiError(400, _STALE_QUERY)
        self._open_queries.discard(query_id)
        self.callback_answers[query_id] = {
            "text": call.params.get("text"),
            "show_alert": _flag(call.params.get("show_alert")),
            "url": call.params.get("url"),
        }
        return True

    def _answer_inline_query(self, call: Call) -> bool:
        query_id = str(_required(call, "inline_query_id"))
        if query_id not in self._open_queries:
            raise ApiError(400, _STALE_QUERY)
        results = _required(call, "results")
        if isinstance(results, str):
            results = json.loads(results)
        if not isinstance(results, list) or len(results) > INLINE_RESULTS_LIMIT:
            raise ApiError(400, "Bad Request: RESULTS_TOO_MUCH")
        ids = [str(result.get("id", "")) for result in results]
        if len(set(ids)) != len(ids):
            raise ApiError(400, "Bad Request: RESULT_ID_DUPLICATE")
        for result in results:
            _check_inline_result(result)
        next_offset = str(call.params.get("next_offset") or "")
        if len(next_offset.encode()) > INLINE_ID_LIMIT:
            raise ApiError(400, "Bad Request: NEXT_OFFSET_INVALID")
        self._open_queries.discard(query_id)
        self.inline_answers[query_id] = {
            "results": results,
            "next_offset": next_offset,
            "is_personal": _flag(call.params.get("is_personal")),
            "cache_time": _int(call, "cache_time", 300),
            "button": call.params.get("button"),
        }
        return True

    def _get_file(self, call: Call) -> JSON:
        ref = self._files_by_id.get(str(_required(call, "file_id")))
        if ref is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if ref.file_size > self.max_download_bytes:
            raise ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": ref.file_id,
            "file_unique_id": ref.file_unique_id,
            "file_size": ref.file_size,
            "file_path": ref.file_path,
        }


_INLINE_RESULT_FIELDS = {
    "article": ("title", "input_message_content"),
    "photo": ("photo_url", "thumbnail_url"),
    "gif": ("gif_url", "thumbnail_url"),
    "mpeg4_gif": ("mpeg4_url", "thumbnail_url"),
    "video": ("video_url", "mime_type", "thumbnail_url", "title"),
    "document": ("title", "document_url", "mime_type"),
}
"""What each result type sent by URL needs, as the Bot API lists it."""


def _check_inline_result(result: JSON) -> None:
    kind, result_id = result.get("type"), str(result.get("id", ""))
    if not 1 <= len(result_id.encode()) <= INLINE_ID_LIMIT:
        raise ApiError(400, "Bad Request: RESULT_ID_INVALID")
    if kind not in _INLINE_RESULT_FIELDS:
        raise ApiError(400, f"Bad Request: result type {kind!r} is not supported here")
    missing = [name for name in _INLINE_RESULT_FIELDS[kind] if not result.get(name)]
    if missing:
        raise ApiError(400, f"Bad Request: {missing[0]} is empty in result {result_id}")
    if kind == "document" and result["mime_type"] not in ("application/pdf", "application/zip"):
        raise ApiError(400, "Bad Request: only PDF and ZIP documents can be sent by URL")
    for name in ("photo_url", "gif_url", "mpeg4_url", "video_url", "document_url", "thumbnail_url"):
        if name in result and not _HTTP_URL.match(str(result[name])):
            raise ApiError(400, f"Bad Request: wrong HTTP URL in {name}")
