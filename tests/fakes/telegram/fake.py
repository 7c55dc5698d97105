"""TelegramFake: the parts put together, with the HTTP side (routes, dispatch, downloads),
the lifecycle, ``fail_next`` and the inspection helpers."""

from __future__ import annotations

import asyncio
import copy
import json
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fakes.server import Hold, abandon
from tests.fakes.telegram.limits import LIMITED_METHODS
from tests.fakes.telegram.messages import MessageMethods
from tests.fakes.telegram.methods import BotMethods
from tests.fakes.telegram.models import (
    _MEDIA_KINDS,
    BOT_USERNAME,
    JSON,
    READ_CHUNK,
    TOKEN,
    ApiError,
    Call,
    Download,
    FileRef,
    _Failure,
)
from tests.fakes.telegram.requests import read_params
from tests.fakes.telegram.state import _wait
from tests.fakes.telegram.updates import UpdateInjection

_TOKEN_SHAPE = re.compile(r"[0-9]+:[A-Za-z0-9_-]{35}")
_BEFORE, _AFTER = "before", "after"  # where a hold stops a call: before its work, or after


def _matching(method: str, where: Callable[[Call], bool] | None) -> Callable[[Call], bool]:
    name = method.lower()
    return lambda call: call.method.lower() == name and (where is None or where(call))


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(error: ApiError) -> web.Response:
    body: JSON = {"ok": False, "error_code": error.code, "description": error.description}
    if error.retry_after is not None:
        body["parameters"] = {"retry_after": error.retry_after}
    return web.json_response(body, status=error.code)


_ERROR_PHRASES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


class TelegramFake(UpdateInjection, BotMethods, MessageMethods):
    """The Bot API on 127.0.0.1 for one bot; see the package docstring."""

    def __init__(self, token: str = TOKEN, *, bot_username: str = BOT_USERNAME) -> None:
        super().__init__(token, bot_username=bot_username)
        self._methods = self._method_table()

    # lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._spool_dir = Path(tempfile.mkdtemp(prefix="telegram-fake-"))
        self._closing = False
        await super().start(host, port)

    async def stop(self) -> None:
        # Waiting long polls answer at once instead of holding up the shutdown.
        self._closing = True
        self._notify_updates()
        await super().stop()
        if self._spool_dir is not None:
            shutil.rmtree(self._spool_dir, ignore_errors=True)
            self._spool_dir = None

    @property
    def api_url(self) -> str:
        """PTB's ``base_url``: the token and the method are appended."""
        return f"{self.base_url}/bot"

    @property
    def file_url(self) -> str:
        """PTB's ``base_file_url``: the token and the file path are appended."""
        return f"{self.base_url}/file/bot"

    def env(self) -> dict[str, str]:
        """The bot's environment for this fake (token, Bot API and file bases)."""
        return {
            "TELEGRAM_BOT_TOKEN": self.token,
            "TELEGRAM_API_URL": self.api_url,
            "TELEGRAM_FILE_URL": self.file_url,
        }

    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 31)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        app.router.add_route("*", "/bot{token}/{method}", self._endpoint)
        return app

    # knobs

    def fail_next(
        self,
        method: str,
        error_code: int = 429,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with this error, doing nothing."""
        if error_code == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            description = (
                f"Too Many Requests: retry after {retry_after}"
                if error_code == 429
                else _ERROR_PHRASES.get(error_code, "Internal Server Error")
            )
        error = ApiError(error_code, description, retry_after)
        self._failures.append(_Failure(method.lower(), error, times))

    def hold(self, method: str, where: Callable[[Call], bool] | None = None) -> Hold[Call]:
        """Pause the next call of ``method`` (matching ``where``) before it does anything."""
        return self._add_hold(_BEFORE, f"before {method}", _matching(method, where))

    def hold_after(self, method: str, where: Callable[[Call], bool] | None = None) -> Hold[Call]:
        """Let the next call of ``method`` (matching ``where``) work, then hold its answer."""
        return self._add_hold(_AFTER, f"after {method}", _matching(method, where))

    # inspection

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        return list(self._pending)

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method.lower() == method.lower()]

    def messages(self, chat_id: int) -> list[JSON]:
        """The bot's current messages in a chat, oldest first."""
        stored = self._messages.get(chat_id, {})
        return [m for _, m in sorted(stored.items()) if m["from"]["id"] == self.bot_id]

    def message(self, chat_id: int, message_id: int) -> JSON | None:
        return self._messages.get(chat_id, {}).get(message_id)

    def file(self, file_id: str) -> FileRef | None:
        return self._files_by_id.get(file_id)

    def my_commands(self, language_code: str = "", scope: JSON | None = None) -> list[JSON] | None:
        """The commands set for this scope and language; None when never set."""
        key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language_code)
        return self._commands.get(key)

    async def wait_for(
        self,
        method: str | tuple[str, ...],
        count: int = 1,
        timeout: float = 5.0,
        where: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Wait until ``count`` calls of ``method`` (or of any of several methods),
        matching ``where``, were answered."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        methods = {name.lower() for name in ((method,) if isinstance(method, str) else method)}
        while True:
            found = [
                call
                for call in self.calls
                if call.method.lower() in methods and (where is None or where(call))
            ]
            if len(found) >= count:
                return found
            if loop.time() >= deadline:
                seen = [call.method for call in self.calls]
                raise TimeoutError(
                    f"{len(found)} of {count} {method} calls after {timeout} s; calls: {seen}"
                )
            await _wait(self._calls_changed, deadline - loop.time())

    def _seen(self) -> list[str]:
        return [call.method for call in self.calls]

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._calls_changed.set()
        self._calls_changed = asyncio.Event()

    # HTTP

    async def _endpoint(self, request: web.Request) -> web.StreamResponse:
        token, name = request.match_info["token"], request.match_info["method"]
        if token != self.token:
            await request.release()
            if _TOKEN_SHAPE.fullmatch(token):
                return _error(ApiError(401, "Unauthorized"))
            return _error(ApiError(404, "Not Found"))
        entry = self._methods.get(name.lower())
        call = Call(entry[0] if entry else name, {}, {}, self.clock())
        try:
            assert self._spool_dir is not None
            call.params, call.files = await read_params(
                request, self._spool_dir, self.max_upload_bytes
            )
        except ApiError as error:
            return self._answer(call, error, recorded=False)
        before = self._claim_hold(_BEFORE, call)
        if before is not None and not await before.pause(call):
            return await abandon(request)
        recorded = False
        try:
            if call.method == "getUpdates":
                # Recorded on arrival: its answer may take the whole timeout.
                self._record(call)
                recorded = True
            outcome: Any = await self._run(call)
        except ApiError as error:
            outcome = error
        response = self._answer(call, outcome, recorded=recorded)
        after = self._claim_hold(_AFTER, call)
        if after is not None and not await after.pause(call):
            return await abandon(request)
        return response

    def _answer(self, call: Call, outcome: Any, *, recorded: bool) -> web.Response:
        """Record the call with its outcome (a result or an ApiError) and build the answer."""
        if isinstance(outcome, ApiError):
            call.error_code, call.description = outcome.code, outcome.description
            response = _error(outcome)
        else:
            call.result = copy.deepcopy(outcome)
            response = _ok(outcome)
        if not recorded:
            self._record(call)
        return response

    async def _run(self, call: Call) -> Any:
        for failure in self._failures:
            if failure.method == call.method.lower() and failure.times > 0:
                failure.times -= 1
                raise failure.error
        if call.method == "getUpdates":
            return await self._get_updates(call)
        entry = self._methods.get(call.method.lower())
        if entry is None:
            raise ApiError(404, "Not Found")
        limits = self.rate_limits if call.method in LIMITED_METHODS else None
        if limits is not None:
            chat_id, private = self._limited_chat(call)
            now = self.clock()
            retry_after = self._limiter.retry_after(limits, chat_id, private, now)
            if retry_after is not None:
                self.rate_limited.append(call)
                raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
        try:
            result = entry[1](call)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            # Parameters of the wrong shape: the server answers 400, not 500.
            raise ApiError(400, f"Bad Request: can't parse parameters: {error!r}") from error
        if limits is not None:
            # Only what was actually sent or edited counts (the handlers never await).
            self._limiter.count(limits, chat_id, private, now)
        return result

    def _limited_chat(self, call: Call) -> tuple[int | None, bool]:
        """The chat a limited call sends into and whether it is private; (None, False) for
        inline-message edits and unknown chats (the handler answers those)."""
        if call.method.startswith("edit") and call.params.get("inline_message_id"):
            return None, False
        try:
            chat = self._chat(call.params.get("chat_id"))
        except ApiError:
            return None, False
        return chat["id"], chat["type"] == "private"

    async def _download(self, request: web.Request) -> web.StreamResponse:
        ref = self._files_by_path.get(request.match_info["path"])
        if request.match_info["token"] != self.token or ref is None:
            return _error(ApiError(404, "Not Found"))
        self.downloads.append(Download(ref.file_id, ref.file_path, ref.file_size, self.clock()))
        headers = {"Content-Type": "application/octet-stream"}
        if isinstance(ref.content, Path):
            return web.FileResponse(ref.content, chunk_size=READ_CHUNK, headers=headers)
        return web.Response(body=ref.content, headers=headers)

    def _method_table(self) -> dict[str, tuple[str, Callable[[Call], Any]]]:
        def accept(call: Call) -> bool:
            return True

        table: dict[str, Callable[[Call], Any]] = {
            "getMe": self._get_me,
            "logOut": accept,
            "close": accept,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "sendMediaGroup": self._send_media_group,
            "copyMessage": self._copy_message,
            "forwardMessage": self._forward_message,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "editMessageMedia": self._edit_message_media,
            "deleteMessage": self._delete_message,
            "deleteMessages": self._delete_messages,
            "sendChatAction": self._send_chat_action,
            "answerCallbackQuery": self._answer_callback_query,
            "answerInlineQuery": self._answer_inline_query,
            "getFile": self._get_file,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
            "getChatMemberCount": self._get_chat_member_count,
        }
        for kind in _MEDIA_KINDS:
            table[f"send{kind.capitalize()}"] = self._media_sender(kind)
        for what, field_name in (
            ("Description", "description"),
            ("ShortDescription", "short_description"),
            ("Name", "name"),
        ):
            table[f"setMy{what}"] = self._bot_text_setter(field_name)
            table[f"getMy{what}"] = self._bot_text_getter(field_name)
        for name in (
            "setChatMenuButton",
            "setMyDefaultAdministratorRights",
            "setMessageReaction",
            "pinChatMessage",
            "unpinChatMessage",
            "unpinAllChatMessages",
            "leaveChat",
        ):
            table[name] = accept
        table["getUpdates"] = accept  # dispatched by _run; listed for its canonical name
        return {name.lower(): (name, handler) for name, handler in table.items()}
