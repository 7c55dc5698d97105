"""Rate limits that every instance on one PostgreSQL database spends together.

Telegram counts a bot's messages per bot, not per process: two instances that each
keep to a chat's budget would together send twice as much, and meet 429s. So on
PostgreSQL every message is first counted here, in one table all instances share, and
waits while any limit it falls under is spent::

    budget = SharedBudget(engine)
    await budget.spend([Limit("telegram", 30, 1.1), Limit("telegram:-100123", 20, 66)])

Counting happens under one advisory lock, in the database's clock (instances' clocks
may differ; the database has one): a round trip of a few milliseconds per message
(``bench/shared_budget.py``). An instance's own pacing still runs first and decides
how answers are gathered; this only keeps the sum of all instances within the limits.
SQLite means one instance: nothing is shared and nothing is counted here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col

from core.db.tables import MessageSent

log = logging.getLogger(__name__)

BUDGET_LOCK = 0x62_75_64_67_65_74  # "budget": any constant all instances share
"""The PostgreSQL advisory lock held while a message is counted."""
FORGET_AFTER_S = 120.0
"""Sends older than this are deleted: longer than any limit's period."""
UNREACHABLE_SAID_EVERY_S = 60.0


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``max_rate`` messages in any ``period_s`` seconds, counted under ``name``."""

    name: str
    max_rate: int
    period_s: float


class SharedBudget:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._unreachable_said = -UNREACHABLE_SAID_EVERY_S

    async def spend(self, limits: Sequence[Limit]) -> None:
        """Returns once one message more fits every limit, counted in all of them.

        A database that does not answer does not hold messages back: it is said (once
        a minute) and the message goes, paced by its instance alone."""
        while True:
            try:
                wait = await self._try_spending(limits)
            except (OperationalError, DBAPIError, OSError) as error:
                self._say_unreachable(error)
                return
            if wait <= 0:
                return
            await asyncio.sleep(wait)

    async def _try_spending(self, limits: Sequence[Limit]) -> float:
        """0 once counted; else the seconds until the fullest limit has room."""
        async with self._engine.begin() as connection:
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": BUDGET_LOCK}
            )
            now = float(
                (
                    await connection.execute(text("SELECT extract(epoch FROM clock_timestamp())"))
                ).scalar_one()
            )
            waits = [await _wait(connection, limit, now) for limit in limits]
            if (wait := max(waits, default=0.0)) > 0:
                return wait
            await connection.execute(
                insert(MessageSent), [{"budget": limit.name, "sent_at": now} for limit in limits]
            )
            await connection.execute(
                delete(MessageSent).where(col(MessageSent.sent_at) < now - FORGET_AFTER_S)
            )
            return 0.0

    def _say_unreachable(self, error: BaseException) -> None:
        now = time.monotonic()
        if now - self._unreachable_said >= UNREACHABLE_SAID_EVERY_S:
            self._unreachable_said = now
            reason = str(getattr(error, "orig", None) or error).splitlines()[0][:200]
            log.warning(
                "the shared message budget is out of reach (%s): this instance paces its "
                "messages alone until the database answers",
                reason,
            )


async def _wait(connection: AsyncConnection, limit: Limit, now: float) -> float:
    """Seconds until ``limit`` takes one message more (0: it does now)."""
    sent_at = col(MessageSent.sent_at)
    recent: list[float] = list(
        (
            await connection.execute(
                select(sent_at)
                .where(col(MessageSent.budget) == limit.name, sent_at > now - limit.period_s)
                .order_by(sent_at.desc())
                .limit(limit.max_rate)
            )
        ).scalars()
    )
    if len(recent) < limit.max_rate:
        return 0.0
    return recent[-1] + limit.period_s - now  # when the oldest that counts leaves the window
