"""Statistics from our own records, for ``/stats``: uploads, bytes and top uploaders
over 7 and 30 days, uploads per day for the chart, and (for the operator) failures by
kind. An upload counts once made, even if deleted since."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.db.repository import JobSummary, Repository
from core.db.tables import JobStatus, as_utc, utcnow
from core.refs import ChatRef, Platform, UserId, UserRef

PERIODS_DAYS = (7, 30)
TOP = 3


@dataclass(frozen=True, slots=True)
class PeriodStats:
    days: int
    uploads: int
    bytes: int
    top: list[tuple[UserRef, int]]
    """The most active uploaders, most first (at most ``TOP``)."""


@dataclass(frozen=True, slots=True)
class Stats:
    periods: list[PeriodStats]
    """One for each of ``PERIODS_DAYS``."""
    daily: list[int]
    """Uploads on each of the last 30 days, oldest first, today last."""
    errors: dict[str, int] = field(default_factory=dict)
    """Failures by kind over 30 days, most first (everything's statistics only)."""


class Statistics:
    def __init__(self, repo: Repository, operators: Collection[str] = ()) -> None:
        self._repo = repo
        self._operators = frozenset(operators)

    def is_operator(self, user: UserRef) -> bool:
        """Whether ``user`` is one of the operators (``PICLOUD_ADMIN_IDS``), who may see
        everything's statistics."""
        return user.qualified in self._operators

    async def of_chat(self, chat: ChatRef) -> Stats:
        """A group's (Telegram) or a server's (Discord) uploads."""
        return await self._stats(chat, with_errors=False)

    async def of_everything(self) -> Stats:
        """Every platform and chat, with failures by kind: the operator's view."""
        return await self._stats(None, with_errors=True)

    async def _stats(self, chat: ChatRef | None, *, with_errors: bool) -> Stats:
        now = utcnow()
        longest = max(PERIODS_DAYS)
        rows = await self._repo.jobs_since(now - timedelta(days=longest), chat)
        made = [row for row in rows if row.status in (JobStatus.DONE, JobStatus.DELETED)]
        periods = [_period(made, now, days) for days in PERIODS_DAYS]
        today = now.date()
        per_day = Counter(as_utc(row.created_at).date() for row in made)
        daily = [per_day[today - timedelta(days=back)] for back in reversed(range(longest))]
        errors: dict[str, int] = {}
        if with_errors:
            failed = Counter(
                row.last_error or "error" for row in rows if row.status == JobStatus.FAILED
            )
            errors = dict(failed.most_common())
        return Stats(periods, daily, errors)


def _period(made: list[JobSummary], now: datetime, days: int) -> PeriodStats:
    since = now - timedelta(days=days)
    inside = [row for row in made if as_utc(row.created_at) >= since]
    uploaders = Counter((row.platform, row.user_id) for row in inside)
    top = [
        (UserRef(Platform(platform), UserId(user_id)), count)
        for (platform, user_id), count in uploaders.most_common(TOP)
    ]
    size = sum(row.size or 0 for row in inside)
    return PeriodStats(days, len(inside), size, top)
