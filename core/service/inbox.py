"""The inbox: what a platform handed the bot, kept until it is handled.

A platform sends an event once: Telegram forgets an update once the next
``getUpdates`` offset confirms it (or a webhook answered 200), Discord never sends a
gateway event again. So a front-end keeps each event here *before* it confirms it,
marks it done once handled, and after a restart (or when an instance died) the
events not done are handed to it again. Handling must then be idempotent: uploads
are, through their origin (one job per origin); a message a handler sent can be
noted on its event, to be reused instead of sent twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from core.db.repository import Repository
from core.errors import DatabaseUnavailable
from core.refs import Platform, UploadId
from core.service.leases import Lease, is_gone

log = logging.getLogger(__name__)

STORE_RETRY_MAX_S = 5.0
MAX_DONE_REMEMBERED = 4096

Replay = Callable[[str, str], Awaitable[None]]
"""Handles a kept event again: ``(event_key, payload)``."""


@dataclass(eq=False)
class _Keeping:
    platform: Platform
    event_key: str
    payload: str
    on_delay: Callable[[], Awaitable[None]] | None
    kept: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Inbox:
    def __init__(self, repo: Repository, lease: Lease) -> None:
        self._repo = repo
        self._lease = lease
        self._keeping: list[_Keeping] = []
        self._keeper: asyncio.Task[None] | None = None
        self._done: dict[tuple[Platform, str], None] = {}

    async def keep(
        self,
        platform: Platform,
        event_key: str,
        payload: str,
        on_delay: Callable[[], Awaitable[None]] | None = None,
    ) -> bool:
        """Store an event before the platform is told we have it; False if kept before.

        Events kept at the same moment (a burst of commands, each in its own task) go
        in one transaction. While the database is unavailable this waits and tries
        again (``on_delay`` is awaited at the first wait): the platform then waits too
        (the next poll, the webhook's answer), and nothing is lost.
        """
        keeping = _Keeping(platform, event_key, payload, on_delay)
        self._keeping.append(keeping)
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.create_task(self._keep_together())
        return await asyncio.shield(keeping.kept)

    async def _keep_together(self) -> None:
        await asyncio.sleep(0)  # the others of this moment join in
        while self._keeping:
            batch, self._keeping = self._keeping, []
            for platform in {each.platform for each in batch}:
                await self._keep_batch([each for each in batch if each.platform == platform])

    async def _keep_batch(self, batch: list[_Keeping]) -> None:
        delays = [each.on_delay for each in batch if each.on_delay is not None]

        async def on_delay() -> None:
            for delay in delays:
                await delay()

        events = [(each.event_key, each.payload) for each in batch]
        try:
            kept = await self._store(batch[0].platform, events, on_delay if delays else None)
        except Exception as error:  # each caller hears it
            for each in batch:
                each.kept.set_exception(error)
            return
        for each in batch:
            each.kept.set_result(each.event_key in kept)

    async def _store(
        self,
        platform: Platform,
        events: Sequence[tuple[str, str]],
        on_delay: Callable[[], Awaitable[None]] | None,
    ) -> set[str]:
        """Events ``(key, payload)`` stored in one transaction, waiting out an
        unavailable database; the keys stored now."""
        wait = 0.1
        while True:
            try:
                return await self._repo.store_events(platform, events, self._lease)
            except DatabaseUnavailable as error:
                log.warning("events wait for the database: %s", error.message)
                if on_delay is not None:
                    await on_delay()
                    on_delay = None
                await asyncio.sleep(wait)
                wait = min(wait * 2, STORE_RETRY_MAX_S)

    async def done(
        self, platform: Platform, event_key: str, answered: Sequence[UploadId] = ()
    ) -> None:
        """The event is handled, and the jobs it asked for are ``answered`` (the
        platform took their answer): both recorded in one transaction. Said again
        for the same event (a front-end's own bookkeeping once its handler returned),
        it costs nothing."""
        if (platform, event_key) in self._done:
            return
        await self._repo.mark_answered(answered, event=(platform, event_key))
        if len(self._done) >= MAX_DONE_REMEMBERED:
            del self._done[next(iter(self._done))]
        self._done[(platform, event_key)] = None

    async def note(self, platform: Platform, event_key: str, note: str) -> None:
        await self._repo.note_event(platform, event_key, note)

    async def noted(self, platform: Platform, event_key: str) -> str | None:
        return await self._repo.event_note(platform, event_key)

    async def take_over(self, platform: Platform) -> list[tuple[str, str]]:
        """Events not done whose lease ran out or whose instance is gone, oldest first."""
        gone = [owner for owner in await self._repo.lease_owners(platform) if is_gone(owner)]
        return await self._repo.claim_events(platform, self._lease, gone)
