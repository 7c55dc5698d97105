"""What the fake deals in: its constants, the recorded Call, files, downloads, the webhook
and the error answer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

JSON = dict[str, Any]


# 35 characters after the colon, like a real token (the server checks only the shape
# before it answers 401).
TOKEN = "123456789:AAFakeTokenForTestsOnly_01234567890"
BOT_ID = 123456789
BOT_USERNAME = "picloud_test_bot"
BOT_NAME = "picloud test bot"

MIB = 1024 * 1024
READ_CHUNK = 256 * 1024
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
INLINE_QUERY_LIMIT = 256
INLINE_RESULTS_LIMIT = 50
INLINE_ID_LIMIT = 64  # bytes: a result's id, and next_offset
FIRST_UPDATE_ID = 500_000_001

_HTTP_URL = re.compile(r"https?://", re.IGNORECASE)

# kind -> (folder of its file_path, default extension)
_MEDIA_KINDS: dict[str, tuple[str, str]] = {
    "photo": ("photos", "jpg"),
    "document": ("documents", "bin"),
    "video": ("videos", "mp4"),
    "animation": ("animations", "mp4"),
    "audio": ("music", "mp3"),
    "voice": ("voice", "oga"),
    "sticker": ("stickers", "webp"),
}


class ApiError(Exception):
    """An error answer: HTTP status ``code``, ``description``, maybe ``retry_after``."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


class UploadedFile(NamedTuple):
    """A file part of a multipart request, spooled to ``path`` (kept until stop)."""

    filename: str | None
    size: int
    content_type: str | None
    path: Path


@dataclass
class Call:
    """One Bot API call: parameters JSON-decoded, file parts by field name."""

    method: str
    params: JSON
    files: dict[str, UploadedFile]
    time: float
    error_code: int | None = None
    description: str | None = None
    result: Any = None

    @property
    def ok(self) -> bool:
        return self.error_code is None

    def source(self, name: str) -> Literal["upload", "url", "file_id"] | None:
        """How the file parameter ``name`` was given: a multipart upload, a URL, a file_id."""
        value = self.params.get(name)
        if name in self.files or (isinstance(value, str) and value.startswith("attach://")):
            return "upload"
        if not isinstance(value, str):
            return None
        return "url" if _HTTP_URL.match(value) else "file_id"


@dataclass
class FileRef:
    """A file the fake can serve. ``meta`` holds the kind's fields (width, file_name...)."""

    file_id: str
    file_unique_id: str
    file_size: int
    file_path: str
    content: bytes | Path = field(repr=False)
    meta: JSON = field(default_factory=dict)

    def json(self) -> JSON:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
            **self.meta,
        }


@dataclass(frozen=True)
class Download:
    file_id: str
    file_path: str
    size: int
    time: float


@dataclass
class Webhook:
    url: str
    secret_token: str | None
    drop_pending_updates: bool
    max_connections: int
    allowed_updates: list[str] | None
    ip_address: str | None


@dataclass
class _Failure:
    method: str  # lower-cased
    error: ApiError
    times: int
