"""Answers paced by a chat's message budget, for every platform.

Telegram takes about one message a second into a private chat and 20 in any minute
into a group; Discord five per five seconds into a channel. An answer that finds its
chat's budget spent waits; the answers that wait together for the same chat go out as
ONE message that lists them all (:class:`AnswerQueue`). On an idle chat nothing waits:
each answer is its own message, at once. A chat past half its budget gathers answers
a moment before each message (:meth:`Budget.gathering_s`), so the rest lasts; a chat
down to its last message before it must wait holds that message a moment for the
answers still on their way (:meth:`AnswerQueue.coming`), so it carries them too.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Hashable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

from core.signs import Signs

T = TypeVar("T")
MAX_CHATS = 512


class Capacity(Protocol):
    @property
    def max_rate(self) -> float: ...

    def has_capacity(self, amount: float = 1) -> bool: ...


L = TypeVar("L", bound=Capacity)


def remembered(limiters: dict[Hashable, L], chat: Hashable, new: Callable[[], L]) -> L:
    """``chat``'s limiter from ``limiters``, made by ``new`` the first time. Idle chats
    are forgotten past ``MAX_CHATS``: a limiter with all its capacity back holds nothing."""
    if len(limiters) > MAX_CHATS:
        for known, limiter in list(limiters.items()):
            if limiter.has_capacity(limiter.max_rate):
                del limiters[known]
    if chat not in limiters:
        limiters[chat] = new()
    return limiters[chat]


class Budget(Protocol):
    def gathering_s(self, chat: Hashable) -> float:
        """How long answers into ``chat`` should gather before its next message."""
        ...

    async def until_room(self, chat: Hashable) -> None:
        """Returns once a message into ``chat`` would go without waiting."""
        ...

    def last_message_s(self, chat: Hashable) -> float:
        """While ``chat`` takes one message more before it must wait: how long answers
        still on their way are worth waiting for, so that this message carries them
        (0 while it takes more)."""
        ...


class RollingWindow:
    """At most ``max_rate`` entries per rolling ``period`` seconds (as Telegram counts
    a group's messages: a leaky bucket, which lets one through every 3 s once its
    burst is spent, is refused under sustained load). ``async with`` waits its turn."""

    def __init__(self, max_rate: int, period: float) -> None:
        self.max_rate = max_rate
        self.period = period
        self._times: deque[float] = deque()
        self._entering = asyncio.Lock()

    def has_capacity(self, amount: float = 1) -> bool:
        """Whether ``amount`` entries would go now (``max_rate``: the window is empty)."""
        return self._wait(time.monotonic(), amount) <= 0

    async def __aenter__(self) -> None:
        async with self._entering:  # first come, first served
            # Nobody else enters meanwhile: after this wait the oldest has left.
            if (wait := self._wait(time.monotonic())) > 0:
                await asyncio.sleep(wait)
            self._times.append(time.monotonic())

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        return None

    async def until_capacity(self) -> None:
        if (wait := self._wait(time.monotonic())) > 0:
            await asyncio.sleep(wait)

    def _wait(self, now: float, amount: float = 1) -> float:
        while self._times and self._times[0] <= now - self.period:
            self._times.popleft()
        over = len(self._times) + int(amount) - self.max_rate
        if over <= 0:
            return 0.0
        return self._times[over - 1] + self.period - now  # when enough have left the window


def has_room_to_spare(limiter: Capacity) -> bool:
    """Whether a message that can wait (progress) leaves room for the answers after it:
    at least two messages, and half the budget, are left."""
    return limiter.has_capacity(max(2, limiter.max_rate // 2))


def last_message_s(limiter: Capacity, period: float) -> float:
    """One message's share of the ``period``, while ``limiter`` lets exactly one more
    message go now: a message sent instead would make the next one wait that long."""
    last = limiter.has_capacity(1) and not limiter.has_capacity(2)
    return period / limiter.max_rate if last else 0.0


def gathering_s(window: RollingWindow) -> float:
    """How long answers should gather before the window's next message, so that one
    message carries them all: none while it has room to spare; past half its budget,
    the time one message's share of the window takes to return."""
    return 0.0 if has_room_to_spare(window) else window.period / window.max_rate


@dataclass(eq=False)
class _Waiting(Generic[T]):
    answer: T
    sent: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class AnswerQueue(Generic[T]):
    """Sends each chat's answers in the order they come, as the chat's ``budget``
    allows, several in one message when they had to wait: ``send(chat, answers)``
    sends one message carrying ``answers`` (their ``size`` at most ``max_size`` in
    all, unless one alone is bigger)."""

    def __init__(
        self,
        send: Callable[[Hashable, list[T]], Awaitable[None]],
        budget: Budget | None,
        *,
        size: Callable[[T], int],
        max_size: int,
        signs: Signs[Any] | None = None,
    ) -> None:
        self._send = send
        self._budget = budget
        # A message from the bot ends its sign of life in the clients: shown again
        # while work in that chat still runs.
        self._signs = signs
        self._size = size
        self._max_size = max_size
        self._waiting: dict[Hashable, list[_Waiting[T]]] = {}
        self._senders: dict[Hashable, asyncio.Task[None]] = {}
        self._coming: Counter[Hashable] = Counter()
        self._arrived: dict[Hashable, asyncio.Event] = {}

    @contextlib.contextmanager
    def coming(self, chat: Hashable) -> Iterator[None]:
        """An answer into ``chat`` is being made (its upload runs) and is sent once this
        ends: a chat down to its last message before it must wait holds it for this one
        (at most :meth:`Budget.last_message_s`)."""
        self._coming[chat] += 1
        try:
            yield
        finally:
            self._coming[chat] -= 1
            if not self._coming[chat]:
                del self._coming[chat]
            if (arrived := self._arrived.get(chat)) is not None:
                arrived.set()

    async def send(self, chat: Hashable, answer: T) -> None:
        """Returns once the message carrying ``answer`` was sent; raises what sending
        it raised."""
        waiting = _Waiting(answer)
        self._waiting.setdefault(chat, []).append(waiting)
        if chat not in self._senders:
            self._senders[chat] = asyncio.create_task(self._send_all(chat))
        try:
            await asyncio.shield(waiting.sent)
        except asyncio.CancelledError:
            with contextlib.suppress(ValueError):  # not taken yet: nobody wants it now
                self._waiting.get(chat, []).remove(waiting)
            raise

    async def _send_all(self, chat: Hashable) -> None:
        try:
            while batch := await self._next_batch(chat):
                try:
                    await self._send(chat, [waiting.answer for waiting in batch])
                except Exception as error:  # every waiter hears what became of its answer
                    for waiting in batch:
                        waiting.sent.set_exception(error)
                else:
                    if self._signs is not None:
                        self._signs.cleared(chat)
                    for waiting in batch:
                        waiting.sent.set_result(None)
        finally:
            del self._senders[chat]
            if not self._waiting.get(chat):
                self._waiting.pop(chat, None)

    async def _next_batch(self, chat: Hashable) -> list[_Waiting[T]]:
        """The answers waiting once the chat has room for a message: as many as one
        message carries (at least one, whatever its size)."""
        if not self._waiting.get(chat):
            return []
        if self._budget is not None:
            await asyncio.sleep(self._budget.gathering_s(chat))
            await self._budget.until_room(chat)
            await self._until_arrived(chat, self._budget.last_message_s(chat))
        waiting = self._waiting[chat]
        batch = [waiting.pop(0)]
        size = self._size(batch[0].answer)
        while waiting and size + self._size(waiting[0].answer) <= self._max_size:
            size += self._size(waiting[0].answer)
            batch.append(waiting.pop(0))
        return batch

    async def _until_arrived(self, chat: Hashable, patience_s: float) -> None:
        """Until no answer into ``chat`` is still being made, or ``patience_s`` passed."""
        deadline = time.monotonic() + patience_s
        arrived = self._arrived.setdefault(chat, asyncio.Event())
        try:
            while self._coming[chat] and (left := deadline - time.monotonic()) > 0:
                arrived.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(arrived.wait(), left)
                await asyncio.sleep(0)  # the one that just arrived joins the queue
        finally:
            del self._arrived[chat]
