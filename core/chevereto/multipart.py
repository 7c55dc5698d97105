"""A ``multipart/form-data`` body streamed from an :class:`UploadSource`.

httpx builds multipart bodies only from sync files (``files=``); our sources are
async iterators (a chat platform's download, a file read off the event loop). So
the body is built here: the small text parts are encoded up front, the file part
is passed through chunk by chunk, never copied whole, and the exact
``Content-Length`` is known before the first byte goes out: PHP behind some
servers cannot read a chunked request body at all.

Layout (RFC 7578), every line ending in CRLF::

    --BOUNDARY
    Content-Disposition: form-data; name="title"

    My holiday
    --BOUNDARY
    Content-Disposition: form-data; name="source"; filename="beach.jpg"
    Content-Type: image/jpeg

    <file bytes>
    --BOUNDARY--
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Sequence

from core.chevereto.models import ProgressCallback, UploadSource
from core.errors import InputError

CRLF = b"\r\n"
FILE_FIELD = "source"
BATCH_BYTES = 256 * 1024
FALLBACK_FILENAME = "upload"
FALLBACK_CONTENT_TYPE = "application/octet-stream"

# type "/" subtype, each an RFC 9110 token; anything else could smuggle a header.
_MIME_TYPE = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+/[A-Za-z0-9!#$%&'*+.^_`|~-]+")
# What browsers escape in names and filenames (HTML's form-data encoding):
# PHP reads the raw UTF-8 that remains as it is.
_NAME_ESCAPES = str.maketrans({'"': "%22", "\r": "%0D", "\n": "%0A"})


class MultipartBody:
    """One ``multipart/form-data`` body: text fields, then an optional file part.

    The body can be streamed any number of times (each :meth:`stream` re-opens the
    source), so a retry sends the same request again without keeping it around.
    """

    def __init__(
        self,
        fields: Sequence[tuple[str, str]],
        file: UploadSource | None = None,
        *,
        file_field: str = FILE_FIELD,
        boundary: str | None = None,
    ) -> None:
        self.boundary = boundary or secrets.token_hex(16)
        self.file = file
        delimiter = b"--" + self.boundary.encode("ascii")
        head = b"".join(delimiter + CRLF + _text_part(name, value) for name, value in fields)
        if file is not None:
            head += delimiter + CRLF + _file_part_headers(file_field, file)
        self._head = head
        # The CRLF that ends the file's bytes belongs to the delimiter after it.
        self._tail = (CRLF if file is not None else b"") + delimiter + b"--" + CRLF
        self.content_length = len(self._head) + self.file_size + len(self._tail)

    @property
    def file_size(self) -> int:
        return self.file.size if self.file is not None else 0

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": self.content_type, "Content-Length": str(self.content_length)}

    async def stream(self, progress: ProgressCallback | None = None) -> AsyncIterator[bytes]:
        """Yield the body; ``progress(sent, total)`` is called as each chunk is taken.

        A chunk counts as sent once the HTTP client asks for the next one, that is
        after it has written this one out. The file's chunks pass through as they
        come, so memory holds one chunk at a time whatever the file's size.
        """
        sent = 0

        def advance(chunk: bytes) -> None:
            nonlocal sent
            sent += len(chunk)
            if progress is not None:
                progress(sent, self.content_length)

        if self._head:
            yield self._head
            advance(self._head)
        if self.file is not None:
            # One generator, not nested ones: closing it closes the source at once
            # (a file handle, a download) instead of whenever the GC gets to it.
            chunks = self.file.open()
            try:
                received = 0
                batch = _Batch()
                async for chunk in chunks:
                    received += len(chunk)
                    if received > self.file.size:
                        # Stop before the extra bytes go out: they would overrun
                        # the Content-Length.
                        raise _size_mismatch(self.file, more=True)
                    if full := batch.add(chunk):
                        yield full
                        advance(full)
                if rest := batch.take():
                    yield rest
                    advance(rest)
            finally:
                await _close(chunks)
            if received < self.file.size:
                # The body now falls short of its Content-Length: the request fails
                # and the host discards it, so no truncated file is ever stored.
                raise _size_mismatch(self.file, more=False)
        yield self._tail
        advance(self._tail)


class _Batch:
    """Joins small chunks into writes of about ``BATCH_BYTES``.

    Sources hand over whatever their reader gives (often 16-64 KiB); one socket
    write per chunk costs more than the copy that joins them, and memory stays
    bounded by one batch.
    """

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._size = 0

    def add(self, chunk: bytes) -> bytes | None:
        self._parts.append(chunk)
        self._size += len(chunk)
        return self.take() if self._size >= BATCH_BYTES else None

    def take(self) -> bytes | None:
        if not self._size:
            return None
        joined = self._parts[0] if len(self._parts) == 1 else b"".join(self._parts)
        self._parts, self._size = [], 0
        return joined


def _text_part(name: str, value: str) -> bytes:
    disposition = f'Content-Disposition: form-data; name="{_escape(name)}"'
    return _encode(disposition) + CRLF + CRLF + _encode(value) + CRLF


def _file_part_headers(name: str, file: UploadSource) -> bytes:
    # A part without a filename is a text field to PHP, and an empty filename is
    # "no file uploaded": there must always be one.
    filename = _escape(file.filename) or FALLBACK_FILENAME
    lines = (
        f'Content-Disposition: form-data; name="{_escape(name)}"; filename="{filename}"',
        f"Content-Type: {part_content_type(file.content_type)}",
    )
    return b"".join(_encode(line) + CRLF for line in lines) + CRLF


def part_content_type(content_type: str) -> str:
    """The file part's type: the source's, without parameters, if well formed."""
    bare = content_type.split(";", 1)[0].strip()
    return bare if _MIME_TYPE.fullmatch(bare) else FALLBACK_CONTENT_TYPE


def _escape(name: str) -> str:
    return name.translate(_NAME_ESCAPES)


def _encode(text: str) -> bytes:
    # "replace" turns a lone surrogate (an undecodable file name) into "?" instead
    # of failing mid-request; the length is computed from these same bytes.
    return text.encode("utf-8", "replace")


async def _close(chunks: AsyncIterator[bytes]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()


def _size_mismatch(file: UploadSource, *, more: bool) -> InputError:
    # Not transient: the same source would disagree again. The caller may build a
    # fresh source (download again) and retry.
    how = "more" if more else "fewer"
    return InputError(
        f"the file gave {how} bytes than the {file.size} announced; it may have changed "
        "while being read: try again"
    )
