"""Database fixtures: every storage test runs on SQLite, and on PostgreSQL too when
``PICLOUD_TEST_DATABASE_URL`` names a server (CI sets it).

PostgreSQL outlives a test run, so each test gets a database of its own, created
here and dropped afterwards: no run depends on what an earlier one left.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from core.settings import Settings

POSTGRES_ENV = "PICLOUD_TEST_DATABASE_URL"


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings for a test: no .env file, a private data dir, explicit values only."""
    values: dict[str, object] = {"data_dir": data_dir, **overrides}
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    async with postgres_database(postgres_server()) as url:
        yield url


def postgres_server() -> str:
    """The PostgreSQL server the tests may use; the test is skipped without one."""
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    return server


class postgres_database:  # named like the function it reads as: async with postgres_database(url)
    """A fresh, uniquely named database on the server, dropped on exit."""

    def __init__(self, server_url: str) -> None:
        self._server = make_url(server_url)
        self._name = f"picloud_test_{uuid.uuid4().hex[:12]}"

    async def __aenter__(self) -> str:
        await self._execute(f'CREATE DATABASE "{self._name}"')
        return self._server.set(database=self._name).render_as_string(hide_password=False)

    async def __aexit__(self, *_exc: object) -> None:
        await self._execute(f'DROP DATABASE IF EXISTS "{self._name}" WITH (FORCE)')

    async def _execute(self, statement: str) -> None:
        engine = create_async_engine(self._server, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                await connection.execute(text(statement))
        finally:
            await engine.dispose()
