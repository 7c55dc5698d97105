"""Media sniffing from a file's first bytes: the type by magic numbers, width and height
from the header, an MP4's duration, whether a GIF is animated."""

from __future__ import annotations

import struct
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MediaType:
    mime: str
    extension: str
    kind: str  # "image" | "video"


def sniff(head: bytes) -> MediaType | None:
    """The media type of a file from its first bytes, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return MediaType("image/jpeg", "jpg", "image")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return MediaType("image/png", "png", "image")
    if head.startswith((b"GIF87a", b"GIF89a")):
        return MediaType("image/gif", "gif", "image")
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return MediaType("image/webp", "webp", "image")
    if head.startswith(b"BM") and len(head) >= 26:
        return MediaType("image/bmp", "bmp", "image")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return MediaType("video/webm", "webm", "video")
    if head[4:8] == b"ftyp":
        return _sniff_ftyp(head[8:12])
    return None


def _sniff_ftyp(brand: bytes) -> MediaType:
    if brand in (b"avif", b"avis"):
        return MediaType("image/avif", "avif", "image")
    if brand == b"qt  ":
        return MediaType("video/quicktime", "mov", "video")
    return MediaType("video/mp4", "mp4", "video")


def dimensions(found: MediaType, head: bytes) -> tuple[int, int]:
    """Width and height from the header when cheap to read, else 1x1."""
    size: tuple[int, int] | None = None
    if found.mime == "image/png" and len(head) >= 24:
        size = struct.unpack(">II", head[16:24])
    elif found.mime == "image/gif" and len(head) >= 10:
        size = struct.unpack("<HH", head[6:10])
    elif found.mime == "image/bmp":
        width, height = struct.unpack("<ii", head[18:26])
        size = (width, abs(height))
    elif found.mime == "image/jpeg":
        size = _jpeg_dimensions(head)
    return size if size and size[0] > 0 and size[1] > 0 else (1, 1)


def _jpeg_dimensions(head: bytes) -> tuple[int, int] | None:
    """Walk the JPEG segments up to the first SOFn marker."""
    pos = 2
    while pos + 9 < len(head) and head[pos] == 0xFF:
        marker = head[pos + 1]
        (length,) = struct.unpack(">H", head[pos + 2 : pos + 4])
        # SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", head[pos + 5 : pos + 9])
            return width, height
        pos += 2 + length
    return None


def mp4_duration(head: bytes) -> int:
    """Seconds from an ``mvhd`` box in the first bytes, else 0 (moov at the end)."""
    at = head.find(b"mvhd")
    if at < 0:
        return 0
    body = head[at + 4 :]
    if body[:1] == b"\x01" and len(body) >= 32:
        timescale, duration = struct.unpack(">IQ", body[20:32])
    elif len(body) >= 20:
        timescale, duration = struct.unpack(">II", body[12:20])
    else:
        return 0
    return round(duration / timescale) if timescale else 0


def is_animated(found: MediaType, head: bytes) -> bool:
    return found.mime == "image/gif" and b"NETSCAPE2.0" in head
