"""What goes to the host and what comes back, as plain typed values."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pydantic import SecretStr

from core.expiry import Expiry

ApiKey = SecretStr
"""An API key; ``str()`` and ``repr()`` show only asterisks."""

CHUNK_SIZE = 64 * 1024
TITLE_LIMIT = 100

ByteStream = AsyncIterator[bytes]
ProgressCallback = Callable[[int, int], None]
"""Called with (bytes sent, total bytes) as the body goes out."""
DelayCallback = Callable[[Exception], None]
"""Called when a passing failure (the host busy or down, the database locked) makes an
upload wait and try again, so the person waiting can be told."""


@dataclass(frozen=True, slots=True)
class UploadSource:
    """Bytes to upload, re-openable so that a retry can send them again.

    ``open`` returns a fresh async iterator over the whole content each call; it is
    read in chunks, so a source never needs to fit in memory. ``size`` must be
    exact: the multipart body is sent with a Content-Length computed from it.
    ``ready``, if any, is awaited once before the host is asked: a source that
    fetches its bytes from elsewhere checks there first (and may refuse), so the
    host never sees a body that was never going to arrive.
    """

    filename: str
    size: int
    open: Callable[[], ByteStream] = field(repr=False)
    content_type: str = "application/octet-stream"
    ready: Callable[[], Awaitable[None]] | None = field(default=None, repr=False)

    @classmethod
    def from_bytes(
        cls, data: bytes, filename: str, content_type: str = "application/octet-stream"
    ) -> UploadSource:
        async def chunks() -> ByteStream:
            for start in range(0, len(data), CHUNK_SIZE):
                yield data[start : start + CHUNK_SIZE]

        return cls(filename=filename, size=len(data), open=chunks, content_type=content_type)

    @classmethod
    def from_path(
        cls, path: Path, filename: str | None = None, content_type: str | None = None
    ) -> UploadSource:
        from core.chevereto.files import guess_content_type, read_file_chunks

        def chunks() -> ByteStream:
            return read_file_chunks(path)

        return cls(
            filename=filename or path.name,
            size=path.stat().st_size,
            open=chunks,
            content_type=content_type or guess_content_type(path),
        )

    @classmethod
    def from_stream(
        cls,
        opener: Callable[[], ByteStream],
        *,
        size: int,
        filename: str,
        content_type: str = "application/octet-stream",
        ready: Callable[[], Awaitable[None]] | None = None,
    ) -> UploadSource:
        return cls(
            filename=filename, size=size, open=opener, content_type=content_type, ready=ready
        )


@dataclass(frozen=True, slots=True)
class RemoteUrl:
    """A URL the host fetches itself (admin keys only on V4 sites)."""

    url: str


@dataclass(frozen=True, slots=True)
class UploadOptions:
    """The optional fields of the upload call. Empty values are never sent."""

    title: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    album_id: str | None = None
    category_id: str | None = None
    width: int | None = None
    expiration: Expiry | None = None
    nsfw: bool = False


class MediaType(enum.StrEnum):
    IMAGE = "image"
    VIDEO = "video"


@dataclass(frozen=True, slots=True)
class UploadedMedia:
    """The fields of a successful answer that the bots use.

    The URL fields are ``None`` while the upload awaits moderation
    (``is_approved`` false). ``delete_url`` is a secret: any visit deletes.
    """

    id_encoded: str
    media_type: MediaType
    mime: str
    size: int
    delete_url: SecretStr = field(repr=False)
    is_approved: bool = True
    url_viewer: str | None = None
    url: str | None = None
    thumb_url: str | None = None
    medium_url: str | None = None
    display_url: str | None = None
    width: int | None = None
    height: int | None = None
    title: str | None = None
    checksum: str | None = None
    duration: float | None = None
    expires_at: datetime | None = None


class DeleteOutcome(enum.StrEnum):
    DELETED = "deleted"
    ALREADY_GONE = "already_gone"
    FAILED = "failed"


Source = UploadSource | RemoteUrl
