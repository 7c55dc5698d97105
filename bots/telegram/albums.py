"""Albums: messages that share a ``media_group_id`` arrive one by one; they are
collected until the album goes quiet, then answered together with ONE message."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from telegram import Message

ALBUM_QUIET_S = 1.0
"""Telegram sends an album's messages within a fraction of a second."""

AlbumHandler = Callable[[list[Message]], Awaitable[None]]


class AlbumCollector:
    def __init__(self, quiet_s: float = ALBUM_QUIET_S) -> None:
        self._quiet_s = quiet_s
        self._albums: dict[tuple[int, str], list[Message]] = {}
        self._timers: dict[tuple[int, str], asyncio.Task[None]] = {}

    def add(self, message: Message, when_complete: AlbumHandler) -> None:
        """Collect ``message``; ``when_complete`` gets the album, in order, once."""
        assert message.media_group_id is not None
        key = (message.chat_id, message.media_group_id)
        self._albums.setdefault(key, []).append(message)
        if timer := self._timers.get(key):
            timer.cancel()
        self._timers[key] = asyncio.create_task(self._complete_later(key, when_complete))

    async def _complete_later(self, key: tuple[int, str], when_complete: AlbumHandler) -> None:
        await asyncio.sleep(self._quiet_s)
        del self._timers[key]
        album = sorted(self._albums.pop(key), key=lambda message: message.message_id)
        await when_complete(album)
