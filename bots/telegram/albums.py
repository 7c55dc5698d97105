"""Albums: messages that share a ``media_group_id`` arrive one by one, as updates of
their own; they are collected until the album goes quiet, then answered together with
ONE message.

Every part's handler waits until the album is handled: an update counts as done
(in the inbox) only when its handler returns, so no part is forgotten if the
process dies while the album is collected or uploaded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from telegram import Update

ALBUM_QUIET_S = 1.0
"""Telegram sends an album's messages within a fraction of a second."""

AlbumHandler = Callable[[list[Update]], Awaitable[None]]


@dataclass
class _Album:
    parts: list[Update] = field(default_factory=list)
    handled: asyncio.Event = field(default_factory=asyncio.Event)
    last_part_at: float = field(default_factory=time.monotonic)


class AlbumCollector:
    def __init__(self, quiet_s: float = ALBUM_QUIET_S) -> None:
        self._quiet_s = quiet_s
        self._albums: dict[tuple[int, str], _Album] = {}

    async def collect(self, update: Update, handle: AlbumHandler) -> None:
        """Add ``update``'s message to its album and return once the album is handled;
        ``handle`` gets the album's updates in message order, once."""
        message = update.effective_message
        assert message is not None and message.media_group_id is not None
        key = (message.chat_id, message.media_group_id)
        album = self._albums.get(key)
        if album is not None:
            album.parts.append(update)
            album.last_part_at = time.monotonic()
            await album.handled.wait()
            return
        album = self._albums[key] = _Album([update])
        try:
            await self._until_quiet(album)
            del self._albums[key]
            await handle(sorted(album.parts, key=_message_id))
        finally:
            self._albums.pop(key, None)
            album.handled.set()

    async def _until_quiet(self, album: _Album) -> None:
        """Until ``quiet_s`` passed since the album's last part arrived."""
        # Each part moves the deadline: sleep until the latest one, once it stays put.
        while (left := album.last_part_at + self._quiet_s - time.monotonic()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(left)


def _message_id(update: Update) -> int:
    message = update.effective_message
    return message.message_id if message else 0
