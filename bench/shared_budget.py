"""What counting every Telegram message in the shared budget costs (several instances
on PostgreSQL, ``core/shared_budget.py``), beside an instance's own pacing alone.

    python -m bench.shared_budget [--database postgresql+asyncpg://…] [--count N]

Each message goes into a chat of its own, so no limit makes anything wait: what is
measured is the bookkeeping. ``own`` enters the instance's rolling window for the chat
(all an instance on SQLite does); ``shared, 1`` and ``shared, 2`` spend the shared
budget from one engine, and from two engines at once (two instances), in a fresh
database. Prints the time per message (p50, p99) and messages per second. Nothing is
asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable

from bench.common import percentile
from core.db.database import create_engine, upgrade
from core.pacing import RollingWindow
from core.shared_budget import Limit, SharedBudget
from tests.db import POSTGRES_ENV, postgres_database

DEFAULT_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


async def timed(count: int, spend: Callable[[int], Awaitable[None]]) -> list[float]:
    times = []
    for number in range(count):
        began = time.perf_counter()
        await spend(number)
        times.append(time.perf_counter() - began)
    return times


def limits(instance: int, number: int) -> list[Limit]:
    return [Limit("telegram", 10**9, 1.1), Limit(f"telegram:{instance}-{number}", 20, 66.0)]


async def own(count: int) -> list[float]:
    windows: dict[int, RollingWindow] = {}

    async def spend(number: int) -> None:
        async with windows.setdefault(number, RollingWindow(20, 66.0)):
            pass

    return await timed(count, spend)


async def shared(url: str, count: int, instances: int) -> tuple[list[float], float]:
    engines = [create_engine(url) for _ in range(instances)]
    budgets = [SharedBudget(engine) for engine in engines]
    try:
        await upgrade(engines[0])
        for budget in budgets:  # connections opened before the clock starts
            await budget.spend(limits(-1, id(budget)))
        began = time.perf_counter()
        runs = await asyncio.gather(
            *(timed(count, spender(budget, index)) for index, budget in enumerate(budgets))
        )
        return [each for run in runs for each in run], time.perf_counter() - began
    finally:
        for engine in engines:
            await engine.dispose()


def spender(budget: SharedBudget, instance: int) -> Callable[[int], Awaitable[None]]:
    async def spend(number: int) -> None:
        await budget.spend(limits(instance, number))

    return spend


def row(name: str, times: list[float], wall_s: float) -> str:
    p50, p99 = (1000 * (percentile(times, q) or 0) for q in (50, 99))
    return f"{name:<12} {p50:8.2f} {p99:8.2f} {len(times) / wall_s:12.0f}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=os.environ.get(POSTGRES_ENV, DEFAULT_SERVER))
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()

    began = time.perf_counter()
    baseline = await own(args.count)
    rows = [row("own", baseline, time.perf_counter() - began)]
    for instances in (1, 2):
        async with postgres_database(args.database) as url:
            times, wall_s = await shared(url, args.count, instances)
        rows.append(row(f"shared, {instances}", times, wall_s))
    print(f"{'messages':<12} {'p50 ms':>8} {'p99 ms':>8} {'messages/s':>12}")
    print("\n".join(rows))


if __name__ == "__main__":
    asyncio.run(main())
