"""Local files as upload sources: chunked reads off the event loop, type sniffing."""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import AsyncIterator
from pathlib import Path

import filetype

FILE_CHUNK_SIZE = 256 * 1024
SNIFF_BYTES = 8192


async def read_file_chunks(path: Path, chunk_size: int = FILE_CHUNK_SIZE) -> AsyncIterator[bytes]:
    """Yield the file's bytes chunk by chunk; each read runs in a worker thread."""
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, chunk_size):
            yield chunk
    finally:
        await asyncio.to_thread(handle.close)


def sniff_content_type(head: bytes) -> str | None:
    """The MIME type the first bytes of a file reveal, if any."""
    kind = filetype.guess(head)
    return kind.mime if kind is not None else None


def guess_content_type(path: Path) -> str:
    """Sniffed from the content first (names lie), then from the extension."""
    with path.open("rb") as handle:
        sniffed = sniff_content_type(handle.read(SNIFF_BYTES))
    if sniffed:
        return sniffed
    by_name, _ = mimetypes.guess_type(path.name)
    return by_name or "application/octet-stream"
