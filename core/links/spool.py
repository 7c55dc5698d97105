"""A downloaded body, counted as it comes: in memory while small, on disk beyond.

Memory stays bounded whatever the size: past ``memory_limit`` the bytes go to a
temporary file in batches, and the upload reads that file back in chunks (each
``open()`` a fresh reader, so a retry can send it again). The file is deleted by
:meth:`SpoolFile.discard`, and in any case when the last object that could read
it is garbage-collected, so a failed or abandoned upload leaves nothing behind. A
process killed outright leaves its files: each is named after its process, and
:func:`sweep` removes those whose process is gone (at the next start).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import tempfile
import weakref
from pathlib import Path
from typing import BinaryIO

from core.chevereto.files import read_file_chunks
from core.chevereto.models import ByteStream
from core.errors import TooBig
from core.processes import is_running

MEMORY_LIMIT = 1024 * 1024
"""Bodies up to this size stay in memory; larger ones are spooled to disk."""
_MIB = 1024 * 1024
_PREFIX = "picloud-link-"
_NAMED = re.compile(rf"{_PREFIX}(?P<pid>[0-9]+)-.*\.part")


def too_big(max_bytes: int) -> TooBig:
    max_mb = max_bytes // _MIB
    limit = f"{max_mb} MB" if max_bytes % _MIB == 0 else f"{max_bytes} bytes"
    return TooBig(f"the linked file is larger than {limit}", max_mb=max_mb)


class SpoolFile:
    """One spooled body on disk; calling it opens a fresh chunked reader."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Runs once: on discard(), on garbage collection, or at interpreter exit.
        self._finalizer = weakref.finalize(self, _unlink_quietly, path)

    def __call__(self) -> ByteStream:
        return read_file_chunks(self.path)

    @property
    def exists(self) -> bool:
        return self._finalizer.alive

    def discard(self) -> None:
        self._finalizer()


class Spool:
    """Takes a body chunk by chunk; refuses it with :class:`TooBig` past ``max_bytes``."""

    def __init__(
        self, *, max_bytes: int, directory: Path | None = None, memory_limit: int = MEMORY_LIMIT
    ) -> None:
        self.size = 0
        self._max_bytes = max_bytes
        self._directory = directory
        self._memory_limit = memory_limit
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._buffer = bytearray()
        self._handle: BinaryIO | None = None
        self._file: SpoolFile | None = None

    @property
    def md5(self) -> str:
        return self._md5.hexdigest()

    async def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self._max_bytes:
            raise too_big(self._max_bytes)
        self._md5.update(chunk)
        self._buffer += chunk
        if len(self._buffer) >= self._memory_limit:
            await self._flush()

    async def finish(self) -> bytes | SpoolFile:
        """The whole body: bytes if it stayed small, else the closed spool file."""
        if self._file is None:
            return bytes(self._buffer)
        await self._flush()
        assert self._handle is not None
        await asyncio.to_thread(self._handle.close)
        return self._file

    def discard(self) -> None:
        """Throw away whatever was written (the download failed or was refused)."""
        # A new buffer, not clear(): a cancelled write may still hold the old one.
        self._buffer = bytearray()
        if self._handle is not None:
            self._handle.close()
        if self._file is not None:
            self._file.discard()

    async def _flush(self) -> None:
        if self._file is None:
            self._handle, self._file = await asyncio.to_thread(self._create)
        assert self._handle is not None
        # Writes leave the event loop in batches of about memory_limit bytes.
        await asyncio.to_thread(self._handle.write, self._buffer)
        self._buffer.clear()

    def _create(self) -> tuple[BinaryIO, SpoolFile]:
        prefix = f"{_PREFIX}{os.getpid()}-"
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=".part", dir=self._directory)
        spool_file = SpoolFile(Path(name))
        return os.fdopen(fd, "wb"), spool_file


def sweep(directory: Path | None = None) -> int:
    """Remove the spool files of processes that are gone (killed before they could);
    how many there were. Files of running processes, other instances' too, stay."""
    found = Path(directory or tempfile.gettempdir())
    swept = 0
    for path in found.glob(f"{_PREFIX}*.part"):
        named = _NAMED.fullmatch(path.name)
        if named is not None and not is_running(int(named["pid"])):
            _unlink_quietly(path)
            swept += 1
    return swept


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
