"""Telegram's rate limits, as the bot spends them.

Telegram limits the messages a bot sends: about 30 per second across chats, about one
per second into one chat (short bursts allowed) and 20 in any 60 s into one group. It
answers 429 with ``retry_after`` past them, and limits nothing else a bot does
(getFile, getUpdates, answerCallbackQuery, chat actions). :class:`MessageRateLimiter`
paces exactly the messages, on python-telegram-bot's own ``AIORateLimiter`` (a
private chat by a token bucket, a group by a rolling minute), and treats a 429 as
back-pressure on the call that met it: that call waits and tries again, every other
chat goes on (the stock limiter halts every request of the bot instead). It is also
each chat's budget for the answer queue (``core/pacing.py``): whether a chat has room
now, or to spare for a progress message. With several instances on PostgreSQL, each
message is also counted in the budget they share (``core/shared_budget.py``), and waits
while the whole bot has spent a limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Hashable
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter

from core import metrics
from core.pacing import (
    RollingWindow,
    gathering_s,
    has_room_to_spare,
    last_message_s,
    remembered,
)
from core.shared_budget import Limit, SharedBudget

log = logging.getLogger(__name__)

ESSENTIAL_RETRIES = 1_000
"""``rate_limit_args`` of a call the upload cannot do without (the answer, getFile): the
429s it waits out (each for Telegram's ``retry_after``), in effect until it goes
through. Progress calls get the limiter's default and are skipped beyond it."""

OVERALL_PER_SECOND = 30
GROUP_PER_MINUTE = 20
PRIVATE_BURST = 3
"""Messages into one private chat at once; then one per second..."""
MARGIN = 1.1
"""...paced a tenth slower than Telegram counts: our clock starts when a message leaves,
Telegram's when it arrives, and a message that arrives early is refused."""
OVERALL_PERIOD_S = 1 * MARGIN
PRIVATE_PERIOD_S = PRIVATE_BURST * MARGIN
GROUP_PERIOD_S = 60 * MARGIN

MESSAGE_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendVideo",
        "sendAnimation",
        "sendAudio",
        "sendVoice",
        "sendVideoNote",
        "sendSticker",
        "sendMediaGroup",
        "copyMessage",
        "forwardMessage",
        "editMessageText",
        "editMessageCaption",
        "editMessageMedia",
        "editMessageReplyMarkup",
    }
)

Request = Callable[..., Coroutine[Any, Any, Any]]


class MessageRateLimiter(AIORateLimiter):
    def __init__(self, max_retries: int = 3, shared: SharedBudget | None = None) -> None:
        super().__init__(
            overall_max_rate=OVERALL_PER_SECOND,
            overall_time_period=1,
            group_max_rate=0,  # groups are paced here, by a rolling minute (chat_limiter)
            max_retries=max_retries,
        )
        self._retries = max_retries
        self._shared = shared
        self._private: dict[Hashable, AsyncLimiter] = {}
        self._groups: dict[Hashable, RollingWindow] = {}

    async def process_request(
        self,
        callback: Request,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        retries = rate_limit_args or self._retries
        for attempt in range(retries + 1):
            try:
                if endpoint in MESSAGE_METHODS:
                    return await self._paced(data.get("chat_id"), callback, args, kwargs)
                return await callback(*args, **kwargs)
            except RetryAfter as refusal:
                metrics.PLATFORM_429S.labels("telegram").inc()
                if attempt == retries:
                    log.warning(
                        "Telegram still asked to wait after %d tries of %s; giving it up",
                        attempt + 1,
                        endpoint,
                    )
                    raise
                await asyncio.sleep(_seconds(refusal) + 0.1)
        raise AssertionError("unreachable")

    async def _paced(self, chat_id: object, callback: Request, args: Any, kwargs: Any) -> Any:
        assert self._base_limiter is not None
        async with self.chat_limiter(chat_id), self._base_limiter:
            if self._shared is not None:
                await self._shared.spend(shared_limits(chat_id))
            return await callback(*args, **kwargs)

    def chat_limiter(self, chat_id: object) -> ChatLimiter:
        """The pace of messages into one chat: private chats by token bucket, groups,
        supergroups and channels (by id or @name) by a rolling minute."""
        key, private = _chat(chat_id)
        if private:
            return remembered(self._private, key, _private_limiter)
        return remembered(self._groups, key, _group_window)

    def has_room(self, chat_id: object) -> bool:
        """Whether a message into ``chat_id`` would go now, without waiting."""
        return self.chat_limiter(chat_id).has_capacity()

    def has_room_to_spare(self, chat_id: object) -> bool:
        return has_room_to_spare(self.chat_limiter(chat_id))

    def gathering_s(self, chat_id: object) -> float:
        # A private chat's budget returns within a second: waiting for room is enough.
        limiter = self.chat_limiter(chat_id)
        return gathering_s(limiter) if isinstance(limiter, RollingWindow) else 0.0

    def last_message_s(self, chat_id: object) -> float:
        limiter = self.chat_limiter(chat_id)
        period = limiter.period if isinstance(limiter, RollingWindow) else limiter.time_period
        return last_message_s(limiter, period)

    async def until_room(self, chat_id: object, poll_s: float = 0.1) -> None:
        """Returns once a message into ``chat_id`` would go without waiting."""
        # aiolimiter tells no one when capacity returns: look again shortly.
        while not self.has_room(chat_id):  # noqa: ASYNC110
            await asyncio.sleep(poll_s)


ChatLimiter = AsyncLimiter | RollingWindow


def shared_limits(chat_id: object) -> list[Limit]:
    """The limits a message into ``chat_id`` counts in across instances: the bot's
    overall rate, and the chat's own (an inline message has no chat). A private chat's
    token bucket is counted as a rolling window of the same burst and period, which
    never lets more through."""
    limits = [Limit("telegram", OVERALL_PER_SECOND, OVERALL_PERIOD_S)]
    if chat_id is None:
        return limits
    key, private = _chat(chat_id)
    burst, period = (
        (PRIVATE_BURST, PRIVATE_PERIOD_S) if private else (GROUP_PER_MINUTE, GROUP_PERIOD_S)
    )
    return [*limits, Limit(f"telegram:{key}", burst, period)]


def _chat(chat_id: object) -> tuple[str, bool]:
    """``chat_id`` as one key however it was given (``123``, ``"123"``, ``"@name"``), and
    whether it is a private chat (a user's id is positive)."""
    with contextlib.suppress(TypeError, ValueError):
        return str(int(str(chat_id))), int(str(chat_id)) > 0
    return str(chat_id), False


def _private_limiter() -> AsyncLimiter:
    return AsyncLimiter(PRIVATE_BURST, PRIVATE_PERIOD_S)


def _group_window() -> RollingWindow:
    return RollingWindow(GROUP_PER_MINUTE, GROUP_PERIOD_S)


def _seconds(refusal: RetryAfter) -> float:
    # The typed value, as python-telegram-bot's own limiter reads it: the public
    # ``retry_after`` warns until PTB 23 changes its type.
    return refusal._retry_after.total_seconds()


class OncePer:
    """Lets one thing through per key per ``seconds``: a hint answered to a flood of
    stray messages goes once, not once per message (each would spend the chat's budget)."""

    def __init__(self, seconds: float, max_keys: int = 10_000) -> None:
        self._seconds = seconds
        self._max_keys = max_keys
        self._last: dict[object, float] = {}

    def allow(self, key: object) -> bool:
        now = time.monotonic()
        if now - self._last.get(key, -self._seconds) < self._seconds:
            return False
        if len(self._last) >= self._max_keys:
            self._last = {k: t for k, t in self._last.items() if now - t < self._seconds}
        self._last[key] = now
        return True
