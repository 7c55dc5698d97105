"""The Bot API's message rate limits, for the opt-in ``rate_limits`` knob: what counts,
the numbers, and the per-bot bookkeeping that decides when a call gets 429."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from tests.fakes.telegram.models import _MEDIA_KINDS

# The calls that send or edit a message; everything else (getFile, sendChatAction,
# answerCallbackQuery, deleteMessage...) is never counted.
LIMITED_METHODS = frozenset(
    {
        "sendMessage",
        "sendMediaGroup",
        "copyMessage",
        "forwardMessage",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
        "editMessageMedia",
        *(f"send{kind.capitalize()}" for kind in _MEDIA_KINDS),
    }
)

_SECOND, _MINUTE = 1.0, 60.0
_EPSILON = 1e-9  # float noise must not turn a wait of exactly 2 s into "retry after 3"


@dataclass
class RateLimits:
    """The numbers behind ``TelegramFake.rate_limits`` (Telegram's documented guidance)."""

    per_second: int = 30  # messages per rolling second, all chats together
    private_burst: int = 3  # a private chat's token bucket: capacity...
    private_per_second: float = 1.0  # ...and refill rate (1 message/s sustained)
    group_per_minute: int = 20  # messages per rolling 60 s into one group or supergroup


class MessageLimiter:
    """The bot's sent and edited messages so far, as the limits see them."""

    def __init__(self) -> None:
        self._overall: deque[float] = deque()
        self._private: dict[int, tuple[float, float]] = {}  # chat -> (tokens, as of time)
        self._groups: dict[int, deque[float]] = {}

    def retry_after(
        self, limits: RateLimits, chat_id: int | None, private: bool, now: float
    ) -> int | None:
        """Whole seconds (at least 1) until a message may go, or None when it may go now."""
        waits = [_window_wait(self._overall, limits.per_second, _SECOND, now)]
        if chat_id is not None and private:
            tokens = self._tokens(limits, chat_id, now)
            waits.append(0.0 if tokens >= 1 else (1 - tokens) / limits.private_per_second)
        elif chat_id is not None:
            times = self._groups.get(chat_id, deque())
            waits.append(_window_wait(times, limits.group_per_minute, _MINUTE, now))
        wait = max(waits)
        if wait <= 0:
            return None
        return max(1, math.ceil(wait - _EPSILON))

    def count(self, limits: RateLimits, chat_id: int | None, private: bool, now: float) -> None:
        """One message went (call only after ``retry_after`` said None)."""
        self._overall.append(now)
        if chat_id is not None and private:
            self._private[chat_id] = (self._tokens(limits, chat_id, now) - 1, now)
        elif chat_id is not None:
            self._groups.setdefault(chat_id, deque()).append(now)

    def _tokens(self, limits: RateLimits, chat_id: int, now: float) -> float:
        tokens, since = self._private.get(chat_id, (float(limits.private_burst), now))
        refilled = tokens + max(now - since, 0.0) * limits.private_per_second
        return min(float(limits.private_burst), refilled)


def _window_wait(times: deque[float], limit: int, window: float, now: float) -> float:
    """Seconds until fewer than ``limit`` of ``times`` lie in the ``window`` before now."""
    while times and times[0] <= now - window:
        times.popleft()
    if len(times) < limit:
        return 0.0
    return times[len(times) - limit] + window - now
