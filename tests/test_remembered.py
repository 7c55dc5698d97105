"""Values remembered for a few seconds (core/remembered.py): one read per burst."""

from __future__ import annotations

import asyncio

import pytest

from core.remembered import Remembered


async def test_readers_at_the_same_moment_share_one_read() -> None:
    remembered = Remembered[str, int]()
    reads = 0

    async def read() -> int:
        nonlocal reads
        reads += 1
        await asyncio.sleep(0.01)
        return reads

    assert await asyncio.gather(*(remembered.get("a", read) for _ in range(5))) == [1] * 5
    assert await remembered.get("a", read) == 1
    assert await remembered.get("b", read) == 2
    assert reads == 2


async def test_a_forgotten_or_failed_read_is_read_again() -> None:
    remembered = Remembered[str, int]()
    values = iter([ValueError("database busy"), 1, 2])

    async def read() -> int:
        value = next(values)
        if isinstance(value, Exception):
            raise value
        return value

    with pytest.raises(ValueError, match="database busy"):
        await remembered.get("a", read)
    assert await remembered.get("a", read) == 1
    remembered.forget_where(lambda key: key.startswith("a"))
    assert await remembered.get("a", read) == 2


async def test_a_reader_given_up_on_does_not_cancel_the_read_others_wait_for() -> None:
    remembered = Remembered[str, str]()
    release = asyncio.Event()

    async def read() -> str:
        await release.wait()
        return "value"

    impatient = asyncio.create_task(remembered.get("a", read))
    patient = asyncio.create_task(remembered.get("a", read))
    await asyncio.sleep(0)
    impatient.cancel()
    release.set()
    assert await patient == "value"
    assert impatient.cancelled()
