"""What every fake server shares: an aiohttp app on 127.0.0.1, started and stopped, and
holds: a request paused on purpose at a chosen point until the test releases it."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Generic, Self, TypeVar

from aiohttp import web

T = TypeVar("T")


class Hold(Generic[T]):
    """One request paused at a chosen point (``what``) until the test releases it.

    A fake makes one (``TelegramFake.hold``, ``CheveretoEmulator.hold_upload``...); the
    first request that reaches that point and matches claims it, and only that one waits.
    ``reached`` and ``await wait_reached()`` say it got there (and give what the fake
    holds: a ``Call``, a ``RecordedRequest``); ``release()`` lets it go on as usual;
    ``release(proceed=False)`` ends it there, its connection closed without an answer.
    A hold still waiting when its fake stops ends as ``proceed=False`` does.
    """

    def __init__(
        self,
        what: str,
        seen: Callable[[], list[str]],
        where: Callable[[T], bool] | None = None,
    ) -> None:
        self.what = what
        self._seen = seen
        self._where = where
        self._claimed = False
        self._held: T | None = None
        self._reached = asyncio.Event()
        self._released = asyncio.Event()
        self._proceed = True

    def __repr__(self) -> str:
        state = "released" if self.released else "reached" if self.reached else "waiting"
        return f"<Hold {self.what}: {state}>"

    @property
    def reached(self) -> bool:
        return self._reached.is_set()

    @property
    def released(self) -> bool:
        return self._released.is_set()

    @property
    def held(self) -> T | None:
        """What reached the hold (None until then)."""
        return self._held

    async def wait_reached(self, timeout: float = 10.0) -> T:
        """What reached the hold, once it did; TimeoutError naming what the fake saw."""
        try:
            async with asyncio.timeout(timeout):
                await self._reached.wait()
        except TimeoutError:
            raise TimeoutError(
                f"hold {self.what} not reached after {timeout} s; seen: {self._seen()}"
            ) from None
        assert self._held is not None
        return self._held

    def release(self, *, proceed: bool = True) -> None:
        """Let the held request go on (``proceed=False``: end it there, no answer).

        Releasing before it was reached makes it pass through without stopping.
        """
        if not self.released:
            self._proceed = proceed
            self._released.set()

    # the fakes' side

    def claims(self, subject: T) -> bool:
        """Whether this hold, still free, takes ``subject`` (then it is no longer free)."""
        if self._claimed or (self._where is not None and not self._where(subject)):
            return False
        self._claimed = True
        return True

    async def pause(self, subject: T) -> bool:
        """Stop ``subject`` here until released; True when it should go on."""
        self._held = subject
        self._reached.set()
        await self._released.wait()
        return self._proceed


class LocalServer:
    """Subclasses build their app in ``_make_app``; ``async with`` starts and stops it."""

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._holds: dict[str, list[Hold[Any]]] = {}

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
        # A request still held would hold up the shutdown: it ends without an answer.
        for holds in self._holds.values():
            for hold in holds:
                hold.release(proceed=False)
        self._holds.clear()
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

    # holds

    def _seen(self) -> list[str]:
        """What the fake received so far, for the message of a hold never reached."""
        return []

    def _add_hold(self, point: str, what: str, where: Callable[[T], bool] | None = None) -> Hold[T]:
        hold: Hold[T] = Hold(what, self._seen, where)
        self._holds.setdefault(point, []).append(hold)
        return hold

    def _claim_hold(self, point: str, subject: T) -> Hold[T] | None:
        """The first free hold at ``point`` that takes ``subject``, if any."""
        # Claimed holds stay listed, so that ``stop`` releases one still paused.
        for hold in self._holds.get(point, []):
            if hold.claims(subject):
                return hold
        return None


async def abandon(request: web.Request) -> web.StreamResponse:
    """End a request with no answer: its connection is closed (if still open)."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response()


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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now: for a server the test does
    not start itself (a bot's webhook or health endpoint)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
