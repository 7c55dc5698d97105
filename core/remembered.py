"""Values read lately, remembered for a few seconds: what every update asks (a user's
preferences, whether a group mirrors, which key an upload uses) costs one read per
burst, not one per message.

A change made through this instance is forgotten at once (the writer calls
``forget``); another instance on the same database sees it within ``REMEMBER_S``.
Readers that ask while a read is on its way share that read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

REMEMBER_S = 10.0
MAX_REMEMBERED = 10_000

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Remembered(Generic[K, V]):
    """Values by key, each for ``REMEMBER_S`` after it was read."""

    def __init__(self) -> None:
        self._values: dict[K, tuple[float, asyncio.Future[V]]] = {}

    async def get(self, key: K, read: Callable[[], Awaitable[V]]) -> V:
        now = time.monotonic()
        found = self._values.get(key)
        if found is None or now - found[0] >= REMEMBER_S:
            if len(self._values) >= MAX_REMEMBERED:
                self._drop_old(now)
            found = (now, asyncio.ensure_future(read()))
            found[1].add_done_callback(lambda reading: self._drop_failed(key, reading))
            self._values[key] = found
        # Shielded: one reader given up on does not cancel the read the others wait for.
        return await asyncio.shield(found[1])

    def forget(self, key: K) -> None:
        self._values.pop(key, None)

    def forget_where(self, matches: Callable[[K], bool]) -> None:
        for key in [key for key in self._values if matches(key)]:
            del self._values[key]

    def _drop_old(self, now: float) -> None:
        self._values = {k: v for k, v in self._values.items() if now - v[0] < REMEMBER_S}

    def _drop_failed(self, key: K, reading: asyncio.Future[V]) -> None:
        # A failed read is not remembered: the next reader tries again.
        failed = reading.cancelled() or reading.exception() is not None
        if failed and (found := self._values.get(key)) is not None and found[1] is reading:
            del self._values[key]
