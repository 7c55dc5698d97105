"""A sign of life in a chat while uploads run there ("sending photo…", "typing…").

A platform shows such a sign for a few seconds, or until the bot posts into the chat.
It is shown once per chat however many uploads run there, renewed while any of them
runs (and at once after the bot posted there), and can be shown ahead of the work (as a
message arrives) without a second request when the work starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Hashable
from typing import Generic, TypeVar

A = TypeVar("A")

MAX_CHATS = 10_000


class Signs(Generic[A]):
    """``send(chat, sign)`` shows ``sign`` in ``chat`` for about ``shown_for_s``; it
    must not raise (a sign of life is nothing more). ``sent_before_work``: the work
    waits until its first sign is sent, so that it is the first thing the platform
    sees of it (else the two go together)."""

    def __init__(
        self,
        send: Callable[[Hashable, A], Coroutine[None, None, None]],
        shown_for_s: float,
        *,
        sent_before_work: bool,
    ) -> None:
        self._send = send
        self._shown_for_s = shown_for_s
        self._sent_before_work = sent_before_work
        self._running: dict[Hashable, int] = {}  # chat -> uploads running there
        self._renewing: dict[Hashable, asyncio.Task[None]] = {}
        self._signs: dict[Hashable, A] = {}  # chat -> the sign its running work shows
        self._sent_at: dict[Hashable, float] = {}
        self._sending: set[asyncio.Task[None]] = set()

    def show(self, chat: Hashable, sign: A) -> None:
        """Show ``sign`` now, without waiting for the platform (unless it shows already)."""
        if self._shown_recently(chat):
            return
        now = time.monotonic()
        if len(self._sent_at) >= MAX_CHATS:  # forget chats whose sign has faded
            fresh = {c: t for c, t in self._sent_at.items() if now - t < self._shown_for_s}
            self._sent_at = fresh
        self._sent_at[chat] = now
        task = asyncio.create_task(self._send(chat, sign))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    @contextlib.asynccontextmanager
    async def during(self, chat: Hashable, sign: A) -> AsyncIterator[None]:
        """Keep ``sign`` shown in ``chat`` while the block runs."""
        self._running[chat] = self._running.get(chat, 0) + 1
        first = False
        if chat not in self._renewing:
            first = self._sent_before_work and not self._shown_recently(chat)
            if first:
                self._sent_at[chat] = time.monotonic()
            self._renewing[chat] = asyncio.create_task(self._renew(chat, sign))
            self._signs[chat] = sign
        try:
            if first:
                await self._send(chat, sign)
            yield
        finally:
            self._running[chat] -= 1
            if not self._running[chat]:
                del self._running[chat]
                self._renewing.pop(chat).cancel()
                del self._signs[chat]

    def cleared(self, chat: Hashable) -> None:
        """The bot posted into ``chat``, which ends the sign there in the platform's
        clients: while work there still runs, it is shown again at once."""
        self._sent_at.pop(chat, None)
        if (sign := self._signs.get(chat)) is not None:
            self.show(chat, sign)

    async def _renew(self, chat: Hashable, sign: A) -> None:
        while True:
            if not self._shown_recently(chat):
                self._sent_at[chat] = time.monotonic()
                await self._send(chat, sign)
            await asyncio.sleep(self._sent_at[chat] + self._shown_for_s - time.monotonic())

    def _shown_recently(self, chat: Hashable) -> bool:
        sent_at = self._sent_at.get(chat)
        if sent_at is not None and time.monotonic() - sent_at >= self._shown_for_s:
            del self._sent_at[chat]  # so that quiet chats are not remembered
            return False
        return sent_at is not None
