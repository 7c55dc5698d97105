"""The streamed multipart body on its own: exact length, parseable, bounded memory."""

from __future__ import annotations

import email.policy
import tracemalloc
from collections.abc import AsyncIterator
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from core.chevereto.models import CHUNK_SIZE, UploadSource
from core.chevereto.multipart import BATCH_BYTES, MultipartBody, part_content_type
from core.errors import InputError

MB = 1024 * 1024


async def collect(body: MultipartBody, progress: list[tuple[int, int]] | None = None) -> bytes:
    def record(sent: int, total: int) -> None:
        assert progress is not None
        progress.append((sent, total))

    callback = record if progress is not None else None
    return b"".join([chunk async for chunk in body.stream(callback)])


def parse(body: MultipartBody, raw: bytes) -> list[EmailMessage]:
    """Parse the body back with the stdlib's MIME parser (no extra dependency)."""
    head = f"Content-Type: {body.content_type}\r\n\r\n".encode()
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    assert isinstance(message, EmailMessage)
    assert message.is_multipart()
    assert not message.defects
    return list(message.iter_parts())  # type: ignore[arg-type]


def field_name(part: EmailMessage) -> str | None:
    name = part.get_param("name", header="content-disposition")
    return name if isinstance(name, str) else None


def stream_source(
    chunks: list[bytes], *, size: int, closed: list[bool] | None = None
) -> UploadSource:
    async def opener() -> AsyncIterator[bytes]:
        try:
            for chunk in chunks:
                yield chunk
        finally:
            if closed is not None:
                closed.append(True)

    return UploadSource.from_stream(opener, size=size, filename="f.bin")


@pytest.mark.parametrize(
    ("title", "filename"),
    [
        ("holiday", "beach.png"),
        ("Ünïcödé ✓ 日本語 🦡", "фото-日本.png"),
        ("a" * 300, "x" * 200 + ".png"),
    ],
)
async def test_length_is_exact_and_body_parses_back(title: str, filename: str) -> None:
    data = bytes(range(256)) * 1000 + b"\r\n--not-a-boundary\r\n"
    source = UploadSource.from_bytes(data, filename, "image/png")
    body = MultipartBody([("title", title), ("tags", "a,b")], source)

    raw = await collect(body)

    assert len(raw) == body.content_length
    assert body.headers == {
        "Content-Type": f"multipart/form-data; boundary={body.boundary}",
        "Content-Length": str(len(raw)),
    }
    title_part, tags_part, file_part = parse(body, raw)
    assert field_name(title_part) == "title"
    assert title_part.get_payload(decode=True) == title.encode()
    assert field_name(tags_part) == "tags"
    assert tags_part.get_payload(decode=True) == b"a,b"
    assert field_name(file_part) == "source"
    assert file_part.get_filename() == filename
    assert file_part.get_content_type() == "image/png"
    assert file_part.get_payload(decode=True) == data


async def test_filename_quotes_and_line_breaks_are_escaped_like_browsers() -> None:
    source = UploadSource.from_bytes(b"x", 'a"b\r\nX-Injected: 1\r\n.png', "image/png")
    body = MultipartBody([], source)

    raw = await collect(body)

    assert b'filename="a%22b%0D%0AX-Injected: 1%0D%0A.png"' in raw
    (part,) = parse(body, raw)
    assert part.get("X-Injected") is None
    assert part.get_payload(decode=True) == b"x"


async def test_empty_filename_gets_a_placeholder_so_php_sees_a_file() -> None:
    body = MultipartBody([], UploadSource.from_bytes(b"x", "", "image/png"))

    (part,) = parse(body, await collect(body))

    assert part.get_filename() == "upload"


@pytest.mark.parametrize(
    ("declared", "sent"),
    [
        ("video/mp4", "video/mp4"),
        ("image/png; charset=binary", "image/png"),
        ("image/png\r\nX-Injected: 1", "application/octet-stream"),
        ("not a type", "application/octet-stream"),
        ("", "application/octet-stream"),
    ],
)
def test_part_content_type_is_the_sources_when_well_formed(declared: str, sent: str) -> None:
    assert part_content_type(declared) == sent


async def test_body_without_file_holds_only_text_fields() -> None:
    body = MultipartBody([("source", "https://example.com/a.png"), ("format", "json")])

    raw = await collect(body)

    assert len(raw) == body.content_length
    source, fmt = parse(body, raw)
    assert source.get_filename() is None
    assert source.get_payload(decode=True) == b"https://example.com/a.png"
    assert fmt.get_payload(decode=True) == b"json"


async def test_each_stream_reopens_the_source() -> None:
    source = UploadSource.from_bytes(b"abc" * 50_000, "a.png", "image/png")
    body = MultipartBody([("title", "t")], source)

    first, second = await collect(body), await collect(body)

    assert first == second
    assert len(first) == body.content_length


async def test_fewer_bytes_than_announced_fails_and_closes_the_source() -> None:
    closed: list[bool] = []
    body = MultipartBody([], stream_source([b"a" * 10], size=11, closed=closed))

    with pytest.raises(InputError, match="fewer bytes"):
        await collect(body)
    assert closed == [True]


async def test_more_bytes_than_announced_fail_before_the_excess_goes_out() -> None:
    closed: list[bool] = []
    body = MultipartBody([], stream_source([b"a" * 6, b"b" * 6], size=10, closed=closed))
    out: list[bytes] = []

    async def drain() -> None:
        async for chunk in body.stream():
            out.append(chunk)

    with pytest.raises(InputError, match="more bytes"):
        await drain()

    assert b"b" not in b"".join(out[1:])  # after the head: none of the excess went out
    assert closed == [True]


async def test_abandoned_stream_closes_the_source() -> None:
    closed: list[bool] = []
    body = MultipartBody([], stream_source([b"a"] * 5, size=5, closed=closed))

    stream = body.stream()
    assert isinstance(stream, AsyncIterator)
    await anext(stream)  # head
    await anext(stream)  # first file byte
    await stream.aclose()  # type: ignore[attr-defined]

    assert closed == [True]


async def test_progress_is_monotonic_and_reaches_the_total() -> None:
    source = UploadSource.from_bytes(b"z" * (5 * CHUNK_SIZE + 7), "a.png", "image/png")
    body = MultipartBody([("title", "t")], source)
    progress: list[tuple[int, int]] = []

    await collect(body, progress)

    sent = [done for done, _ in progress]
    assert sent == sorted(sent)
    assert {total for _, total in progress} == {body.content_length}
    assert progress[-1] == (body.content_length, body.content_length)
    # head, the file in batches of BATCH_BYTES (its six chunks make two), tail
    assert len(progress) == 1 + 2 + 1


async def test_a_50_mb_stream_passes_through_chunk_by_chunk() -> None:
    size = 50 * MB
    count, rest = divmod(size, CHUNK_SIZE)
    assert rest == 0

    async def generated() -> AsyncIterator[bytes]:
        for index in range(count):
            yield bytes([index % 251]) * CHUNK_SIZE  # a fresh object every time

    body = MultipartBody(
        [("title", "big")], UploadSource.from_stream(generated, size=size, filename="big.bin")
    )
    largest = total = 0
    tracemalloc.start()
    try:
        async for chunk in body.stream():
            largest = max(largest, len(chunk))
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert total == body.content_length == size + (body.content_length - size)
    assert largest == BATCH_BYTES  # chunks are joined into bounded batches, no more
    assert peak < 4 * MB  # a few chunks alive at once, not the file
