"""Tiny media files built in code, for tests and the Chevereto emulator.

Each builder returns bytes that a magic-number sniffer (and the emulator) takes for
the real format. PNG, GIF and JPEG are complete, decodable images; MP4 and WebM are
only their container headers (enough to be sniffed, not to be played). ``seed``
changes the content, hence the md5, so tests can dodge the host's duplicate check.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"IEND"
_WRITE_CHUNK = 1024 * 1024


def _seed_bytes(seed: int, length: int) -> bytes:
    """``length`` pseudo-random bytes that depend only on ``seed``."""
    block = hashlib.sha256(str(seed).encode()).digest()
    return (block * (length // len(block) + 1))[:length]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _png_head(width: int, height: int, seed: int) -> bytes:
    """A PNG up to (not including) its IEND chunk: an RGB image of seeded pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = _seed_bytes(seed, width * 3)
    # Filter byte 0 (None) before every row; the same row repeated compresses to little.
    raw = (b"\x00" + row) * height
    return _PNG_SIGNATURE + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(raw))


def png_bytes(width: int = 2, height: int = 2, seed: int = 0) -> bytes:
    """A valid ``width`` x ``height`` RGB PNG; a different ``seed`` gives other bytes."""
    return _png_head(width, height, seed) + _png_chunk(_PNG_IEND, b"")


def big_png_file(path: Path, size_bytes: int, seed: int = 0) -> Path:
    """Write a valid PNG of exactly ``size_bytes`` to ``path`` and return the path.

    The bulk is a private ancillary chunk (``paDd``) that decoders skip. It is
    written in 1 MiB pieces with a running CRC, so the file never sits in memory.
    """
    head = _png_head(2, 2, seed)
    overhead = len(head) + 12 + 12  # the padding chunk's and IEND's length+type+crc
    padding = size_bytes - overhead
    if padding < 0:
        raise ValueError(f"a PNG needs at least {overhead} bytes, not {size_bytes}")
    zeros = bytes(_WRITE_CHUNK)
    with path.open("wb") as out:
        out.write(head)
        out.write(struct.pack(">I", padding) + b"paDd")
        crc = zlib.crc32(b"paDd")
        left = padding
        while left:
            piece = zeros[: min(left, _WRITE_CHUNK)]
            out.write(piece)
            crc = zlib.crc32(piece, crc)
            left -= len(piece)
        out.write(struct.pack(">I", crc))
        out.write(_png_chunk(_PNG_IEND, b""))
    return path


def gif_bytes() -> bytes:
    """A valid 1x1 GIF89a (one white pixel)."""
    header = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0)
    palette = b"\xff\xff\xff\x00\x00\x00"
    image = b"," + struct.pack("<HHHHB", 0, 0, 1, 1, 0)
    # LZW minimum code size 2, one sub-block encoding "clear, index 0, end".
    data = b"\x02\x02\x44\x01\x00"
    return header + palette + image + data + b";"


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def jpeg_bytes(width: int = 8, height: int = 8) -> bytes:
    """A valid baseline JPEG, ``width`` x ``height``, flat mid-grey.

    Huffman tables with a single one-bit code each: the whole scan is "DC diff 0,
    end of block", i.e. the bits ``00`` padded with ones.
    """
    quant = _jpeg_segment(0xDB, b"\x00" + b"\x01" * 64)
    frame = _jpeg_segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
    one_code = b"\x01" + b"\x00" * 15 + b"\x00"  # one code of length 1, for symbol 0
    huffman = _jpeg_segment(0xC4, b"\x00" + one_code) + _jpeg_segment(0xC4, b"\x10" + one_code)
    scan_header = _jpeg_segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    blocks = ((width + 7) // 8) * ((height + 7) // 8)
    scan = _jpeg_scan(blocks)
    return b"\xff\xd8" + quant + frame + huffman + scan_header + scan + b"\xff\xd9"


def _jpeg_scan(blocks: int) -> bytes:
    """Two zero bits per block ("DC diff 0", "EOB"), padded with ones to a byte."""
    bits = "00" * blocks
    bits += "1" * (-len(bits) % 8)
    return bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8))


def _mp4_box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload) + 8) + kind + payload


def mp4_bytes(seed: int = 0, duration_s: int = 3) -> bytes:
    """An MP4 header (``ftyp``, ``moov/mvhd`` with the duration, a seeded ``free`` box).

    Not playable: there is no track. Enough for sniffing and duration reading.
    """
    ftyp = _mp4_box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2mp41")
    timescale = 1000
    mvhd = _mp4_box(
        b"mvhd",
        struct.pack(">B3xIIII", 0, 0, 0, timescale, duration_s * timescale) + bytes(80),
    )
    free = _mp4_box(b"free", _seed_bytes(seed, 32))
    return ftyp + _mp4_box(b"moov", mvhd) + free


def _ebml(element_id: bytes, payload: bytes) -> bytes:
    """An EBML element with a one-byte size (payloads under 127 bytes)."""
    return element_id + bytes([0x80 | len(payload)]) + payload


def webm_bytes(seed: int = 0) -> bytes:
    """A WebM EBML header (DocType ``webm``) and a seeded, empty-ish segment."""
    header = _ebml(
        b"\x1a\x45\xdf\xa3",
        _ebml(b"\x42\x86", b"\x01")  # EBMLVersion
        + _ebml(b"\x42\xf7", b"\x01")  # EBMLReadVersion
        + _ebml(b"\x42\x82", b"webm")  # DocType
        + _ebml(b"\x42\x87", b"\x04")  # DocTypeVersion
        + _ebml(b"\x42\x85", b"\x02"),  # DocTypeReadVersion
    )
    segment = _ebml(b"\x18\x53\x80\x67", _ebml(b"\xec", _seed_bytes(seed, 16)))  # Void
    return header + segment
