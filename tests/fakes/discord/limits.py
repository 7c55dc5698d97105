"""Discord's per-channel message rate limit, for the opt-in ``rate_limits`` knob: the
numbers and the buckets (fixed windows, as Discord's ``X-RateLimit-*`` headers describe
them) that decide when ``POST /channels/{id}/messages`` gets 429."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RateLimits:
    """The numbers behind ``DiscordFake.rate_limits``."""

    messages_per_channel: int = 5  # messages the bot may create in one channel...
    per_seconds: float = 5.0  # ...per window, which starts at the first of them


@dataclass
class _Window:
    start: float
    used: int


class ChannelBuckets:
    """One bucket per channel: ``messages_per_channel`` slots, all freed when the window
    that the first of them opened ends."""

    def __init__(self) -> None:
        self._windows: dict[int, _Window] = {}

    def take(self, limits: RateLimits, channel_id: int, now: float) -> float | None:
        """Take a slot: None when one was free, else the seconds until the bucket resets."""
        window = self._current(limits, channel_id, now)
        if window.used >= limits.messages_per_channel:
            return max(window.start + limits.per_seconds - now, 0.001)
        window.used += 1
        return None

    def give_back(self, limits: RateLimits, channel_id: int, now: float) -> None:
        """Return a slot taken for a message that was not created after all."""
        window = self._windows.get(channel_id)
        if window is not None and now < window.start + limits.per_seconds and window.used:
            window.used -= 1

    def state(self, limits: RateLimits, channel_id: int, now: float) -> tuple[int, float]:
        """(slots remaining, seconds until the bucket resets), for the headers."""
        window = self._current(limits, channel_id, now)
        remaining = max(limits.messages_per_channel - window.used, 0)
        return remaining, window.start + limits.per_seconds - now

    def _current(self, limits: RateLimits, channel_id: int, now: float) -> _Window:
        window = self._windows.get(channel_id)
        if window is None or now >= window.start + limits.per_seconds:
            window = self._windows[channel_id] = _Window(now, 0)
        return window
