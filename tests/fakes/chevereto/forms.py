"""Reading an upload's body in chunks, as PHP fills ``$_POST`` and ``$_FILES``: the text
fields, and the ``source`` file part hashed and measured with only its head kept."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import BodyPartReader, web

from tests.fakes.chevereto.models import READ_CHUNK, SNIFF_BYTES, RecordedRequest


@dataclass(slots=True)
class Source:
    """The upload source after the body was read: metadata and the first bytes."""

    filename: str
    content_type: str | None
    size: int
    md5: str
    head: bytes
    resource: str  # "file" | "url" | "base64"

    @classmethod
    def from_bytes(cls, data: bytes, filename: str, resource: str) -> Source:
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        return cls(filename, None, len(data), md5, data[:SNIFF_BYTES], resource)


FirstChunk = Callable[[], Awaitable[None]]
"""Awaited once the first chunk of the file part is read (``hold_upload(RECEIVING)``)."""


async def _nothing() -> None:
    return None


async def read_file_part(part: BodyPartReader, first_chunk: FirstChunk = _nothing) -> Source:
    """Hash and measure a file part chunk by chunk, keeping only its head."""
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    head = bytearray()
    while chunk := await part.read_chunk(READ_CHUNK):
        if size == 0:
            await first_chunk()
        digest.update(chunk)
        size += len(chunk)
        if len(head) < SNIFF_BYTES:
            head += chunk[: SNIFF_BYTES - len(head)]
    content_type = part.headers.get("Content-Type")
    return Source(part.filename or "", content_type, size, digest.hexdigest(), bytes(head), "file")


async def read_form(
    request: web.Request, first_chunk: FirstChunk = _nothing
) -> tuple[dict[str, str], Source | None]:
    """Text fields and the ``source`` file part, as PHP fills $_POST and $_FILES."""
    if request.method != "POST":
        # PHP parses no other body; a query string never gets here (it is a 301).
        await request.release()
        return {}, None
    if request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        return {name: value for name, value in form.items() if isinstance(value, str)}, None
    if request.content_type != "multipart/form-data":
        await request.release()
        return {}, None
    fields: dict[str, str] = {}
    source: Source | None = None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            await part.release()  # a nested multipart: PHP ignores it too
        elif part.filename is None:
            fields[part.name or ""] = await part.text()
        elif part.name == "source":
            source = await read_file_part(part, first_chunk)
        else:
            await part.release()
    return fields, source


def record_form(record: RecordedRequest, fields: dict[str, str], source: Source | None) -> None:
    record.fields = dict(fields)
    if source is not None:
        record.file_name = source.filename
        record.file_content_type = source.content_type
        record.file_size = source.size
        record.file_md5 = source.md5
