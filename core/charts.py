"""A small bar chart as a PNG, for ``/stats``: uploads per day. Written here rather than
with a plotting library: one kind of chart, a few dozen lines, no image dependency."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

BAR = (0x2F, 0x6F, 0xEB)
EMPTY_DAY = (0xE4, 0xE8, 0xEE)
BACKGROUND = (0xFF, 0xFF, 0xFF)


def bar_chart_png(
    values: Sequence[int], *, bar_width: int = 14, gap: int = 4, height: int = 160
) -> bytes:
    """One bar per value, left to right, scaled to the largest; a day with none shows
    a thin grey mark so the days stay countable."""
    width = gap + len(values) * (bar_width + gap)
    top = max(values, default=0) or 1
    heights = [max(1, round(value / top * (height - 2 * gap))) if value else 2 for value in values]
    rows = []
    for y in range(height):
        from_bottom = height - gap - y
        row = bytearray(BACKGROUND * gap)
        for value, bar in zip(values, heights, strict=True):
            inside = 0 < from_bottom <= bar
            colour = (BAR if value else EMPTY_DAY) if inside else BACKGROUND
            row += bytes(colour * bar_width) + bytes(BACKGROUND * gap)
        rows.append(b"\x00" + bytes(row))  # filter type 0 for each scanline
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    checksum = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum)
