"""Concurrency limits: a global and a per-user cap on uploads in flight, and a lock per key."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

T = TypeVar("T")


class _PerKey(Generic[T]):
    """One ``T`` per key, made on first use and forgotten when its last user leaves,
    so the table does not grow with every user or upload ever seen."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._entries: dict[Hashable, tuple[T, int]] = {}

    def peek(self, key: Hashable) -> T | None:
        entry = self._entries.get(key)
        return entry[0] if entry else None

    @asynccontextmanager
    async def using(self, key: Hashable) -> AsyncIterator[T]:
        entry, users = self._entries.get(key) or (self._make(), 0)
        self._entries[key] = (entry, users + 1)
        try:
            yield entry
        finally:
            entry, users = self._entries[key]
            if users == 1:
                del self._entries[key]
            else:
                self._entries[key] = (entry, users - 1)


class WorkerPool:
    """``async with pool.slot(owner)`` waits for a place under both limits.

    The owner's own limit is taken first, so a user with many files queues behind
    themselves and never holds global places idle while waiting for their own.
    """

    def __init__(self, total: int, per_owner: int) -> None:
        self._total = asyncio.Semaphore(total)
        self._per_owner = _PerKey(lambda: asyncio.Semaphore(per_owner))
        self.waiting = 0
        self.running = 0

    def has_room(self, owner: Hashable) -> bool:
        """Whether ``slot(owner)`` would be granted without waiting, right now."""
        own = self._per_owner.peek(owner)
        return not self._total.locked() and (own is None or not own.locked())

    @asynccontextmanager
    async def slot(self, owner: Hashable) -> AsyncIterator[None]:
        """A place under both limits; ``waiting`` and ``running`` count the slots."""
        self.waiting += 1
        granted = False
        try:
            async with self._per_owner.using(owner) as own, own, self._total:
                self.waiting, self.running, granted = self.waiting - 1, self.running + 1, True
                try:
                    yield
                finally:
                    self.running -= 1
        finally:
            if not granted:  # given up while waiting (cancelled)
                self.waiting -= 1


class KeyedLock:
    """A lock per key: work on one key waits, work on others does not."""

    def __init__(self) -> None:
        self._locks = _PerKey(asyncio.Lock)

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        async with self._locks.using(key) as lock, lock:
            yield
