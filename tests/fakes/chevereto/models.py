"""What every part of the emulator shares: the constants, ``Fault``, the recorded
request, the stored upload and ``ApiError``."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

USER_KEY = "chv_1_testkeyAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
UPLOAD_PATH = "/api/1/upload"

MB = 1000 * 1000  # Chevereto's megabyte
MIB = 1024 * 1024  # PHP's "M" in post_max_size
MINUTE = 60
DAY = 24 * 60 * MINUTE
YEAR = 365 * DAY
SHORTEST_EXPIRY = 5 * MINUTE

READ_CHUNK = 256 * 1024
SNIFF_BYTES = 64 * 1024
TITLE_LIMIT = 100
TAG_LIMIT = 32
MEDIUM_WIDTH = 500
FORMATS = ("json", "txt", "redirect")


class Fault(enum.Enum):
    """A failure from outside the API, applied to the next upload request."""

    HTML_500 = "html_500"
    MAINTENANCE_503 = "maintenance_503"
    BAD_GATEWAY_502 = "bad_gateway_502"
    DELAY = "delay"
    DROP = "drop"
    TRUNCATED_JSON = "truncated_json"
    NOT_JSON = "not_json"


class UploadStage(enum.Enum):
    """Where ``hold_upload`` pauses an upload request."""

    RECEIVING = "receiving"  # the body is on its way: its first chunk was read
    STORED = "stored"  # accepted and in ``uploads``; the answer not sent yet


@dataclass
class RecordedRequest:
    """One request as the emulator received it (any path)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]  # names lower-cased
    fields: dict[str, str] = field(default_factory=dict)
    file_name: str | None = None
    file_content_type: str | None = None
    file_size: int | None = None
    file_md5: str | None = None
    remote: str = ""


@dataclass
class StoredUpload:
    """An accepted upload. ``image`` is the full JSON ``image`` object as built."""

    id_encoded: str
    md5: str
    size: int
    mime: str
    media_type: str  # "image" | "video"
    title: str
    delete_secret: str
    key: str | None
    fields: dict[str, str]  # effective fields, without "key" and "source"
    expiration_seconds: int | None
    remote: str
    uploaded_at: float
    image: dict[str, Any] = field(repr=False)
    deleted: bool = False


class ApiError(Exception):
    """An API error: HTTP 400 with ``error.code`` and ``error.message`` (or text)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
