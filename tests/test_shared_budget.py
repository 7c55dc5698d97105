"""The message budget several instances share on PostgreSQL (``core/shared_budget.py``):
spent together, never past a limit; a database out of reach holds no message back."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from core.db.database import create_engine, upgrade
from core.shared_budget import Limit, SharedBudget
from tests.db import postgres_database, postgres_server
from tests.fakes.server import free_port

LIMIT = Limit("telegram:42", 3, 1.0)
OVERALL = Limit("telegram", 30, 1.1)


@pytest.fixture
async def database() -> AsyncIterator[str]:
    server = postgres_server()
    async with postgres_database(server) as url:
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()
        yield url


async def test_two_instances_never_spend_past_a_limit_together(database: str) -> None:
    engines = [create_engine(database) for _ in range(2)]
    budgets = [SharedBudget(engine) for engine in engines]
    began = time.monotonic()
    spent: list[float] = []

    async def send(budget: SharedBudget) -> None:
        await budget.spend([OVERALL, LIMIT])
        spent.append(time.monotonic() - began)

    try:
        await asyncio.gather(*(send(budget) for budget in budgets for _ in range(5)))
        async with engines[0].connect() as connection:
            counted = (
                await connection.execute(
                    text("SELECT budget, count(*) FROM messages_sent GROUP BY budget")
                )
            ).all()
    finally:
        for engine in engines:
            await engine.dispose()

    spent.sort()
    print("spent at", [f"{moment:.2f}" for moment in spent])
    assert dict(counted) == {"telegram": 10, "telegram:42": 10}
    assert spent[2] < LIMIT.period_s  # the first three at once...
    # ...and never a fourth within a period of the first (a few ms for the clocks).
    assert all(
        later - earlier >= LIMIT.period_s - 0.02
        for earlier, later in zip(spent, spent[3:], strict=False)
    )


async def test_a_database_out_of_reach_holds_no_message_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = create_engine(f"postgresql+asyncpg://picloud:hunter2@127.0.0.1:{free_port()}/x")
    budget = SharedBudget(engine)
    began = time.monotonic()
    try:
        with caplog.at_level(logging.WARNING, logger="core.shared_budget"):
            for _ in range(5):
                await budget.spend([OVERALL, LIMIT])  # past the limit, were it counted
    finally:
        await engine.dispose()

    assert time.monotonic() - began < 5
    (said,) = [record.getMessage() for record in caplog.records]  # once, not per message
    assert "paces its messages alone" in said
    assert "hunter2" not in said
