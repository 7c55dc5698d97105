"""What every fake server shares: an aiohttp app on 127.0.0.1, started and stopped."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from aiohttp import web


class LocalServer:
    """Subclasses build their app in ``_make_app``; ``async with`` starts and stops it."""

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    def _make_app(self) -> web.Application:
        raise NotImplementedError

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        # Binding our own socket gives the real port back when port is 0.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        # A short shutdown: a request held open on purpose must not hold up a test.
        self._runner = web.AppRunner(self._make_app(), access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        bound_host, bound_port = sock.getsockname()[:2]
        self._base_url = f"http://{bound_host}:{bound_port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError(f"the {type(self).__name__} is not started")
        return self._base_url


class Spool:
    """One upload a fake received, written to a file in its temporary directory."""

    def __init__(self, directory: Path) -> None:
        handle, name = tempfile.mkstemp(prefix="upload-", dir=directory)
        self.path = Path(name)
        self._out: IO[bytes] = os.fdopen(handle, "wb")
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._out.write(chunk)
        self.size += len(chunk)

    def close(self) -> None:
        self._out.close()
