"""Concurrency limits: a global and a per-user cap on uploads in flight, and a lock per key."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager


class WorkerPool:
    """``async with pool.slot(owner)`` waits for a place under both limits.

    The owner's own limit is taken first, so a user with many files queues behind
    themselves and never holds global places idle while waiting for their own.
    """

    def __init__(self, total: int, per_owner: int) -> None:
        self._total = asyncio.Semaphore(total)
        self._per_owner = per_owner
        self._owners: dict[Hashable, tuple[asyncio.Semaphore, int]] = {}

    @asynccontextmanager
    async def slot(self, owner: Hashable) -> AsyncIterator[None]:
        limit = self._enter(owner)
        try:
            async with limit, self._total:
                yield
        finally:
            self._leave(owner)

    def _enter(self, owner: Hashable) -> asyncio.Semaphore:
        limit, users = self._owners.get(owner, (asyncio.Semaphore(self._per_owner), 0))
        self._owners[owner] = (limit, users + 1)
        return limit

    def _leave(self, owner: Hashable) -> None:
        # Forget idle owners so the table does not grow with every user ever seen.
        limit, users = self._owners[owner]
        if users == 1:
            del self._owners[owner]
        else:
            self._owners[owner] = (limit, users - 1)


class KeyedLock:
    """One lock per key, forgotten when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
