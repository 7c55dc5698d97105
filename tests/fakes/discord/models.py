"""The records the Discord fake keeps and hands out (Call, Callback, UploadedFile,
Download, Delivery, ApiError...), a gateway connection and session, and small JSON helpers."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import zlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fakes.discord.constants import _ERRORS, _STATUS_CODES, _STATUS_PHRASES, EPHEMERAL, JSON


class ApiError(Exception):
    """An error answer: HTTP ``status``, Discord's JSON ``code`` and ``message``."""

    def __init__(
        self,
        status: int,
        code: int | None = None,
        message: str | None = None,
        *,
        errors: JSON | None = None,
        retry_after: float | None = None,
        global_: bool = False,
    ) -> None:
        if code is None:
            code = _STATUS_CODES.get(status, 0)
        if message is None:
            message = _STATUS_PHRASES.get(status) if code == 0 else None
            message = message or _ERRORS.get(code, "General error")
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.retry_after = retry_after
        self.global_ = global_

    def body(self) -> JSON:
        if self.status == 429:
            return {
                "message": "You are being rate limited.",
                "retry_after": self.retry_after,
                "global": self.global_,
            }
        body: JSON = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def form_error(path: Iterable[str | int], code: str, message: str) -> ApiError:
    """50035 Invalid Form Body with Discord's nested ``errors`` at ``path``."""
    errors: JSON = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(list(path)):
        errors = {str(key): errors}
    return ApiError(400, 50035, errors=errors)


def too_long(path: Iterable[str | int], limit: int) -> ApiError:
    return form_error(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def bad_length(path: Iterable[str | int], low: int, high: int) -> ApiError:
    return form_error(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request, spooled to ``path`` (kept until stop)."""

    field: str
    filename: str | None
    size: int
    content_type: str | None
    path: Path

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()


@dataclass
class Call:
    """One REST call: ``path`` below the API base (``/channels/1/messages``), the JSON
    body (``payload_json`` for multipart), spooled files, and what was answered."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[UploadedFile]
    time: float
    status: int = 0
    response: Any = None
    error: JSON | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class Callback:
    """An interaction's initial response (``POST /interactions/{id}/{token}/callback``)."""

    interaction_id: str
    type: int
    data: JSON
    files: list[UploadedFile]
    time: float
    message: JSON | None = None  # the message it created or updated, as answered

    @property
    def ephemeral(self) -> bool:
        return bool(int(self.data.get("flags") or 0) & EPHEMERAL)


@dataclass(frozen=True)
class Download:
    """One attachment served by the CDN route (``size`` is the whole file's)."""

    attachment_id: str
    filename: str
    size: int
    time: float


@dataclass(frozen=True)
class Delivery:
    """One dispatch sent to one gateway session: which shard (``[id, count]`` as the
    session identified) got which event; ``data`` is what that session was sent."""

    event: str
    shard: tuple[int, int]
    session_id: str
    data: JSON = field(repr=False)


@dataclass
class _Attachment:
    json: JSON
    content: bytes | Path = field(repr=False)


@dataclass
class _Interaction:
    payload: JSON
    created: float
    callback: Callback | None = None
    acknowledged: bool = False  # set before the callback's work, against double answers
    original: tuple[int, int] | None = None  # (channel id, message id)
    loading: bool = False
    followups: list[int] = field(default_factory=list)


@dataclass
class _Failure:
    method: str
    pattern: re.Pattern[str]
    error: ApiError
    times: int


@dataclass
class _Session:
    id: str
    intents: int
    identify: JSON
    seq: int = 0
    events: list[JSON] = field(default_factory=list)
    connection: _Connection | None = None
    resumable: bool = True
    shard: tuple[int, int] = (0, 1)  # [id, count] from IDENTIFY; none given: [0, 1]

    def has_guild(self, guild_id: int) -> bool:
        """Whether Discord routes this guild's events to this session's shard."""
        shard_id, count = self.shard
        return (guild_id >> 22) % count == shard_id


class _Connection:
    """One gateway WebSocket: its compression stream and (once identified) its session."""

    def __init__(self, ws: web.WebSocketResponse, compress: bool) -> None:
        self.ws = ws
        self._compressor = zlib.compressobj() if compress else None
        self._lock = asyncio.Lock()
        self.session: _Session | None = None
        self.closed_by_server = False

    async def send(self, payload: JSON) -> None:
        text = json.dumps(payload, separators=(",", ":"))
        async with self._lock:
            if self.ws.closed:
                return
            if self._compressor is None:
                await self.ws.send_str(text)
            else:
                data = self._compressor.compress(text.encode())
                data += self._compressor.flush(zlib.Z_SYNC_FLUSH)
                await self.ws.send_bytes(data)

    async def close(self, code: int, message: str) -> None:
        self.closed_by_server = True
        await self.ws.close(code=code, message=message.encode())


@dataclass
class _Request:
    call: Call
    match: dict[str, str]
    uploads: list[UploadedFile]
    auth: str | None

    @property
    def body(self) -> JSON:
        return self.call.json if isinstance(self.call.json, dict) else {}

    def flag(self, name: str) -> bool:
        return self.call.query.get(name, "").lower() in ("1", "true")


_Handler = Callable[[_Request], Awaitable[Any]]


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: _Handler
    bot_auth: bool


class _NoContent:
    """A handler's answer for 204 No Content."""


NO_CONTENT = _NoContent()


# --- small helpers ---------------------------------------------------------------------------


def _sid(value: Any) -> str:
    """A snowflake as Discord writes it in JSON: a string."""
    return str(value)


def _id_of(value: JSON | int | str) -> int:
    return int(value["id"]) if isinstance(value, dict) else int(value)


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat()
