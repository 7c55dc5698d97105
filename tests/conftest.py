"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.chevereto import USER_KEY as USER_KEY
from tests.fakes.chevereto import CheveretoEmulator

pytest_plugins = ["tests.db"]


@pytest.fixture
async def chevereto() -> AsyncIterator[CheveretoEmulator]:
    """A started Chevereto emulator with the default user key, stopped afterwards."""
    async with CheveretoEmulator() as emulator:
        yield emulator
