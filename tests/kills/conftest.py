"""The bot as it really runs, in a process of its own (``python -m bots run``), against the
fakes this test process serves on 127.0.0.1; killed with SIGKILL at a chosen moment and
started again on the same data dir.

A test proves where its kill landed with the fakes' holds (``TelegramFake.hold`` and
``hold_after``, ``CheveretoEmulator.hold_upload``): the bot's request stops at the hold,
the test sees it reached, kills the bot, then releases the hold::

    async def test_kill(bot_process, telegram_fake, picloud):
        await bot_process.store_user_key(1001)
        first = bot_process()                    # a BotProcess, not started yet
        await first.start()
        await first.wait_ready()
        hold = picloud.hold_upload(UploadStage.RECEIVING)
        ...                                      # make the bot upload
        await hold.wait_reached(timeout=30)      # the kill lands in that window
        first.kill()
        hold.release()
        second = bot_process()                   # same data dir, database and secret key
        await second.start()
        ...

Fixtures
    telegram_fake, discord_fake  the platform fakes, started (the bot process gets their
                  addresses by environment)
    picloud       the Chevereto emulator, knowing USER_KEY
    bot_process   a BotProcesses factory: ``bot_process(platform="telegram", **env)``
                  (platform "telegram", "discord" or "both") -> BotProcess, as many as
                  a test wants; ``store_user_key``, ``open_core``, ``settings`` and
                  ``database_url`` (set it before making a process to use PostgreSQL).
                  Teardown kills every process still running, then fails the test if
                  any log holds a secret (a bot token, a stored API key, the secret key).
    on_postgres   ``bot_process`` with ``database_url`` on a fresh PostgreSQL database
                  (skipped without PICLOUD_TEST_DATABASE_URL)
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import pytest
from cryptography.fernet import Fernet

from core.refs import Platform, UserId, UserRef
from core.runtime import Core, open_core
from core.settings import Settings
from tests.bot_process import spawn_bot
from tests.db import make_settings, postgres_database, postgres_server
from tests.fakes.chevereto import USER_KEY, CheveretoEmulator
from tests.fakes.discord import DiscordFake
from tests.fakes.telegram import TelegramFake

ROOT = Path(__file__).resolve().parents[2]
READY_LINES = {
    "telegram": re.compile(r"telegram bot @\S+ is up"),
    "discord": re.compile(r"discord bot .+ is up"),
}
JSON = dict[str, Any]
PlatformName = Literal["telegram", "discord", "both"]
LOG_TAIL_LINES = 40


class BotExited(AssertionError):
    """The bot process ended when the test expected it to run."""


class BotProcess:
    """One ``python -m bots run`` process; its stdout and stderr go to ``log_path``.

    Made by the ``bot_process`` fixture, not started: ``await start()``, ``await
    wait_ready()``, then ``kill()`` (SIGKILL) or ``await terminate()`` (SIGTERM). One
    process per object: a restart is a new BotProcess.
    """

    def __init__(
        self,
        name: str,
        platforms: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        log_path: Path,
    ) -> None:
        self.name = name
        self.platforms = tuple(platforms)
        self.env = dict(env)
        self.cwd = cwd
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"<BotProcess {self.name} pid={self.pid} returncode={self.returncode}>"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def returncode(self) -> int | None:
        """The exit code once it ended (``-9`` after ``kill()``); None before or while it runs."""
        return None if self._process is None else self._process.poll()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    async def start(self) -> None:
        if self._process is not None:
            raise RuntimeError(f"{self.name} was started already: make a new BotProcess")
        self.cwd.mkdir(parents=True, exist_ok=True)
        self._process = spawn_bot(self.env, self.cwd, self.log_path)

    async def wait_ready(self, timeout: float = 20.0) -> None:
        """Until every platform logged its "is up" line (its uploads resumed by then)."""
        if self._process is None:
            raise RuntimeError(f"{self.name} is not started")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            text = self.logs()
            if all(READY_LINES[platform].search(text) for platform in self.platforms):
                return
            code = self.returncode
            if code is not None:
                raise BotExited(
                    f"{self.name} exited with {code} before it was up; log:\n{self.log_tail()}"
                )
            if loop.time() >= deadline:
                raise TimeoutError(f"{self.name} not up after {timeout} s; log:\n{self.log_tail()}")
            await asyncio.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL, and wait until it is gone (reaped: its pid no longer answers)."""
        if self._process is None:
            raise RuntimeError(f"{self.name} is not started")
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
        self._process.wait()  # a killed process ends at once; reaping is what makes it gone

    async def terminate(self, timeout: float = 20.0) -> tuple[int, float]:
        """SIGTERM; ``(exit code, seconds it took)``. TimeoutError (after a SIGKILL) when it
        outlives ``timeout``."""
        if self._process is None:
            raise RuntimeError(f"{self.name} is not started")
        loop = asyncio.get_running_loop()
        began = loop.time()
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
        while (code := self._process.poll()) is None:
            if loop.time() - began >= timeout:
                self.kill()
                raise TimeoutError(
                    f"{self.name} still ran {timeout} s after SIGTERM (killed); "
                    f"log:\n{self.log_tail()}"
                )
            await asyncio.sleep(0.02)
        return code, loop.time() - began

    def logs(self) -> str:
        """Everything the process wrote so far (stdout and stderr, interleaved)."""
        try:
            return self.log_path.read_text("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.logs().splitlines()[-lines:])


class BotProcesses:
    """The ``bot_process`` fixture: makes BotProcesses sharing one data dir, database and
    secret key, and opens that same database in the test process."""

    def __init__(
        self,
        tmp_path: Path,
        telegram: TelegramFake,
        discord: DiscordFake,
        picloud: CheveretoEmulator,
    ) -> None:
        self.telegram = telegram
        self.discord = discord
        self.picloud = picloud
        self.data_dir = tmp_path / "data"
        self.secret_key = Fernet.generate_key().decode()
        self.database_url: str | None = None
        """PICLOUD_DATABASE_URL of every process made from now on (None: SQLite)."""
        self.secrets: dict[str, str] = {
            "PICLOUD_SECRET_KEY": self.secret_key,
            "TELEGRAM_BOT_TOKEN": telegram.token,
            "DISCORD_BOT_TOKEN": discord.token,
        }
        """What no log may hold, by name; ``store_user_key`` adds the keys it stores."""
        self.made: list[BotProcess] = []
        self._cwd = tmp_path / "cwd"  # empty: no .env is read
        self._home = tmp_path / "home"
        self._logs = tmp_path / "logs"
        for directory in (self.data_dir, self._cwd, self._home, self._logs):
            directory.mkdir(parents=True, exist_ok=True)

    def __call__(self, platform: PlatformName = "telegram", **env: str | None) -> BotProcess:
        """A new bot process (not started). ``env`` adds variables; None removes one."""
        platforms = ("telegram", "discord") if platform == "both" else (platform,)
        environment = self.environment(platforms)
        for name, value in env.items():
            if value is None:
                environment.pop(name, None)
            else:
                environment[name] = value
        name = f"bot-{len(self.made) + 1}"
        process = BotProcess(name, platforms, environment, self._cwd, self._logs / f"{name}.log")
        self.made.append(process)
        return process

    def environment(self, platforms: Sequence[str]) -> dict[str, str]:
        """A bot's environment, built from scratch."""
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "HOME": str(self._home),
            "PYTHONPATH": str(ROOT),  # this working tree, whatever is installed
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "LANG": "C.UTF-8",
            "PICLOUD_API_URL": self.picloud.api_url,
            "PICLOUD_DATA_DIR": str(self.data_dir),
            "PICLOUD_SECRET_KEY": self.secret_key,
            "PICLOUD_ALLOW_PRIVATE_URLS": "1",
        }
        if "telegram" in platforms:
            env |= self.telegram.env()
        if "discord" in platforms:
            env |= self.discord.env()
        if self.database_url is not None:
            env["PICLOUD_DATABASE_URL"] = self.database_url
        return env

    def settings(self, **overrides: object) -> Settings:
        """The bots' settings as the test process sees them (same database, same key)."""
        values: dict[str, object] = {
            "api_url": self.picloud.api_url,
            "secret_key": self.secret_key,
            "database_url": self.database_url,
            "allow_private_urls": True,
            **overrides,
        }
        return make_settings(self.data_dir, **values)

    @asynccontextmanager
    async def open_core(self) -> AsyncIterator[Core]:
        """The bots' core, opened in the test process (to store keys, to read rows)."""
        async with open_core(self.settings()) as core:
            yield core

    async def store_user_key(
        self, user_id: int | str, key: str = USER_KEY, platform: Platform = Platform.TELEGRAM
    ) -> None:
        """Store a user's API key as ``/setkey`` would, before a bot starts."""
        self.secrets[f"the API key of {platform.value}:{user_id}"] = key
        async with self.open_core() as core:
            await core.service.keys.set_user_key(UserRef(platform, UserId(str(user_id))), key)

    async def start_for(
        self, user: JSON, platform: PlatformName = "telegram", **env: str | None
    ) -> BotProcess:
        """The first bot of a test: ``user``'s key stored, then a bot started and up."""
        kind = Platform.DISCORD if platform == "discord" else Platform.TELEGRAM
        await self.store_user_key(user["id"], platform=kind)
        return await started(self(platform, **env))

    def leaks(self) -> list[str]:
        """Which secret (by name) is in which process's log."""
        return [
            f"{name} in {process.name}'s log"
            for process in self.made
            for name, secret in self.secrets.items()
            if secret in process.logs()
        ]

    def kill_all(self) -> None:
        for process in self.made:
            if process.running:
                process.kill()


START_TIMEOUT = 40.0
"""Generous: two cores, a slow CI, and a Python process that takes seconds to start."""
STEP_TIMEOUT = 30.0
SETTLE_S = 1.5
"""After an answer: time for a second one to show up, were the bot to send one."""


async def started(process: BotProcess) -> BotProcess:
    await process.start()
    await process.wait_ready(timeout=START_TIMEOUT)
    return process


async def settled_messages(fake: TelegramFake, chat: JSON) -> list[JSON]:
    """The bot's messages in a Telegram chat once one is an answer (not "Uploading…"),
    and after a pause in which a second answer would have shown up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STEP_TIMEOUT
    while all(m.get("text", "").startswith("Uploading") for m in fake.messages(chat["id"])):
        if loop.time() >= deadline:
            seen = [(c.method, c.params.get("text")) for c in fake.calls]
            raise TimeoutError(f"no answer after {STEP_TIMEOUT} s; calls: {seen}")
        await asyncio.sleep(0.1)
    await asyncio.sleep(SETTLE_S)
    return fake.messages(chat["id"])


@pytest.fixture
def alice(telegram_fake: TelegramFake) -> JSON:
    """A Telegram user with a private chat."""
    return telegram_fake.user(1001, "Alice", "en", "alice")


@pytest.fixture
async def telegram_fake() -> AsyncIterator[TelegramFake]:
    async with TelegramFake() as fake:
        yield fake


@pytest.fixture
async def discord_fake() -> AsyncIterator[DiscordFake]:
    async with DiscordFake() as fake:
        yield fake


@pytest.fixture
async def picloud() -> AsyncIterator[CheveretoEmulator]:
    async with CheveretoEmulator(user_keys=(USER_KEY,)) as emulator:
        yield emulator


@pytest.fixture
async def on_postgres(bot_process: BotProcesses) -> AsyncIterator[BotProcesses]:
    """``bot_process`` on a PostgreSQL database of the test's own (skipped without
    PICLOUD_TEST_DATABASE_URL): several instances share it as in production."""
    server = postgres_server()
    async with postgres_database(server) as url:
        bot_process.database_url = url
        yield bot_process


@pytest.fixture
def bot_process(
    tmp_path: Path,
    telegram_fake: TelegramFake,
    discord_fake: DiscordFake,
    picloud: CheveretoEmulator,
) -> Iterator[BotProcesses]:
    processes = BotProcesses(tmp_path, telegram_fake, discord_fake, picloud)
    try:
        yield processes
    finally:
        processes.kill_all()
        for process in processes.made:
            # Shown with a failing test's report (captured output of the teardown).
            print(f"----- {process.name} (exit {process.returncode}): {process.log_path}")
            print(process.log_tail(200))
    leaks = processes.leaks()
    assert not leaks, f"secrets in the bot logs: {leaks}"
