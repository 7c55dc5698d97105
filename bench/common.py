"""What the whole-bot benchmarks share: bench/telegram.py and bench/discord.py.

Not run by itself: ``python -m bench.telegram`` and ``python -m bench.discord`` say how
to run them and what each figure means. Here are the pieces they have in common:

- who sends what: ``Side`` (the bot's or the bare loop's users and photo seeds), ``Post``
  (one message a user sends), ``Photos`` (valid PNGs of distinct bytes on disk);
- what each message got back: ``Sent`` (its first sign and its answer, in seconds after
  it was sent), ``Viewers`` (each photo's viewer URL at the host, found by the md5 of its
  bytes, and whether a text holds that URL), ``deliver_on_schedule``, ``wait_answered``;
- the bot process: ``python -m bots run`` (``BotProcess``) in a place of its own
  (``bot_place``: data dir, database, secret key), and ``running_bot``, which starts
  it, waits until it is up and measures its CPU and memory over the burst (``Meter``);
- the bare side: a child process running a plain httpx loop (``run_bare_child`` in the
  parent, ``serve_bare`` in the child), its CPU and memory measured in the child;
- the figures (``SideResult``, ``percentile``) and the report (``photo_rows``,
  ``print_report``).

The fakes and the core are imported where they are used: the bare child loads only httpx.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import httpx

if TYPE_CHECKING:
    from core.refs import ChatRef, UserRef
    from core.settings import Settings
    from tests.fakes.chevereto import CheveretoEmulator

JSON = dict[str, Any]
ROOT = Path(__file__).resolve().parents[1]
MS = 1000.0

BOT_START_TIMEOUT_S = 60.0
BOT_STOP_TIMEOUT_S = 30.0  # its grace for uploads in flight is 8 s
SETTLE_S = 1.0
"""After the bot is up (its start-up calls done) and after the answers (late extras)."""
POLL_S = 0.1
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (?P<level>[A-Z]+) (?P<rest>.*)$")
VIEWER_END = r"(?![A-Za-z0-9_-])"  # a viewer URL ends there, not inside a longer one


# -- who sends what ---------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """A bot run or the bare loop: its users, chats and photo seeds never meet another's.
    ``env``: bot variables (``NAME=VALUE``) this run adds to ``--bot-env``."""

    name: str
    base: int  # user ids and photo seeds start here
    env: tuple[str, ...] = ()


BOT, BARE = Side("bot", 10_000), Side("bare", 20_000)


@dataclass(frozen=True)
class Post:
    """One message a user sends into ``chat`` (a Telegram chat, a Discord channel),
    ``offset`` seconds after the scenario starts."""

    chat: JSON
    user: JSON
    offset: float
    role: str  # what the scenario makes of it: "photo", "junk", "command"...
    photo: Path | None = None
    md5: str | None = None
    text: str = ""
    key: str = ""  # the API key its upload uses
    album: str | None = None  # Telegram's media_group_id


class Photos:
    """Valid PNGs of ``size`` bytes on disk, each of distinct bytes (the fakes stream them)."""

    def __init__(self, directory: Path, size: int, side: Side) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._directory = directory
        self._size = size
        self._seeds = iter(range(side.base, side.base + 10_000))

    def make(self) -> tuple[Path, str]:
        from tests.fakes.media import big_png_file

        seed = next(self._seeds)
        path = big_png_file(self._directory / f"photo-{seed}.png", self._size, seed=seed)
        return path, hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def api_key(side: Side, number: int) -> str:
    return f"chv_{side.base + number}_bench" + "K" * 24


def keys_of(posts: Iterable[Post], user_keys: dict[int, str]) -> set[str]:
    """Every API key a cast uses: the host must know them all."""
    return {post.key for post in posts if post.key} | set(user_keys.values())


# -- what each message got back ---------------------------------------------------------


@dataclass
class Sent:
    """A post as sent: its id (message or interaction), when (time.time()), and what came
    back."""

    post: Post
    message_id: int
    at: float
    first_sign: float | None = None  # seconds after ``at``
    answer: float | None = None
    answered_in: set[int] = field(default_factory=set)  # message ids holding its viewer URL
    showing_since: float | None = None
    """When the sign of life that already showed as this post arrived was sent."""

    def signed(self, when: float) -> None:
        """A call at ``when`` is about this post: its first sign, unless it had one."""
        if self.first_sign is None and when >= self.at:
            self.first_sign = when - self.at

    def sign_sent(self, when: float, lasts_s: float) -> None:
        """A sign of life (chat action, typing) sent at ``when`` shows for ``lasts_s``
        (as the platform's clients show it): if this post arrived meanwhile, it was
        answered by a sign at once."""
        if when <= self.at < when + lasts_s:
            self.showing_since = when

    def message_sent(self, when: float) -> None:
        """The bot's message at ``when`` into this post's chat: clients stop showing a
        sign of life then, so one sent before it did not show when this post came."""
        if self.showing_since is not None and self.showing_since < when <= self.at:
            self.showing_since = None

    @property
    def sign_after(self) -> float | None:
        """Seconds from sending until a sign of life showed: 0 if one showed already."""
        return 0.0 if self.showing_since is not None else self.first_sign

    def answered(self, when: float) -> None:
        if self.answer is None:
            self.answer = when - self.at


class Viewers:
    """Each photo's viewer URL at the host, by the md5 of its bytes, and whether a text
    holds one (the whole URL, not the start of a longer one)."""

    def __init__(self, host: CheveretoEmulator) -> None:
        self._host = host
        self._patterns: dict[str, re.Pattern[str]] = {}

    def by_md5(self) -> dict[str, str]:
        return {u.md5: str(u.image.get("url_viewer") or "") for u in self._host.uploads.values()}

    def held(self, sent: Iterable[Sent], text: str, by_md5: dict[str, str]) -> list[Sent]:
        """The photos among ``sent`` whose viewer URL ``text`` holds."""
        found = []
        for one in sent:
            viewer = by_md5.get(one.post.md5 or "")
            if viewer and self._pattern(viewer).search(text):
                found.append(one)
        return found

    def _pattern(self, viewer: str) -> re.Pattern[str]:
        if viewer not in self._patterns:
            self._patterns[viewer] = re.compile(re.escape(viewer) + VIEWER_END)
        return self._patterns[viewer]


CallT = TypeVar("CallT")


class NewCalls(Generic[CallT]):
    """A fake's calls from index ``since``, each handed out once."""

    def __init__(self, calls: list[CallT], since: int) -> None:
        self._calls = calls
        self._next = since

    def __call__(self) -> list[CallT]:
        fresh = self._calls[self._next :]
        self._next += len(fresh)
        return fresh


class Tracking(Protocol):
    def scan(self) -> None: ...

    def waiting(self) -> list[Sent]: ...


async def deliver_on_schedule(
    posts: Sequence[Post], deliver: Callable[[Post], Awaitable[Sent]]
) -> list[Sent]:
    """Each post at its offset; those due together are sent with no pause between."""
    started = time.time()
    sent = []
    for post in sorted(posts, key=lambda p: p.offset):
        delay = started + post.offset - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        sent.append(await deliver(post))
    return sent


async def wait_answered(tracker: Tracking, deadline: float) -> None:
    while True:
        tracker.scan()
        if not tracker.waiting() or time.time() >= deadline:
            return
        await asyncio.sleep(POLL_S)


# -- the bot process --------------------------------------------------------------------


def own_cpu_s() -> float:
    """CPU seconds this process (the fakes) used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def fakes_note(cpu_s: float, wall_s: float) -> str:
    share = cpu_s / wall_s * 100 if wall_s > 0 else 0.0
    used = f"{cpu_s * MS:.0f} ms CPU over the burst ({share:.0f}% of a core)"
    return f"the fakes (this process) used {used}"


def memory_kb(pid: int | str, name: str) -> int:
    """A memory figure of /proc/<pid>/status in kB: ``VmRSS`` now, ``VmHWM`` its peak.

    Not getrusage's ru_maxrss: Linux carries that across fork and exec, so a child of
    this process would report this process's size."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    return 0


class BotProcess:
    """``python -m bots run`` in a process of its own, its output in ``log_path``; up once
    its log matches ``ready``."""

    def __init__(
        self, env: dict[str, str], cwd: Path, log_path: Path, ready: re.Pattern[str]
    ) -> None:
        self.env = env
        self.cwd = cwd
        self.log_path = log_path
        self.ready = ready
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self) -> None:
        from tests.bot_process import spawn_bot

        self._process = spawn_bot(self.env, self.cwd, self.log_path)

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + BOT_START_TIMEOUT_S
        while not self.ready.search(self.log()):
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"the bot exited with {self._process.returncode}:\n{self.log()}")
            if time.monotonic() >= deadline:
                waited = BOT_START_TIMEOUT_S
                raise TimeoutError(f"the bot was not up after {waited} s:\n{self.log()}")
            await asyncio.sleep(0.05)

    def cpu_s(self) -> float:
        """User + system CPU seconds so far (every thread), from /proc/<pid>/stat."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        utime, stime = int(fields[11]), int(fields[12])
        return (utime + stime) / os.sysconf("SC_CLK_TCK")

    async def stop(self) -> tuple[int | None, float]:
        """SIGTERM, then wait (SIGKILL past BOT_STOP_TIMEOUT_S): (exit code, seconds it took)."""
        assert self._process is not None
        began = time.monotonic()
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
        while self._process.poll() is None:
            if time.monotonic() - began >= BOT_STOP_TIMEOUT_S:
                self._process.kill()
                self._process.wait()
                break
            await asyncio.sleep(0.05)
        return self._process.returncode, time.monotonic() - began

    def log(self) -> str:
        try:
            return self.log_path.read_text("utf-8", errors="replace")
        except FileNotFoundError:
            return ""


@dataclass(frozen=True)
class BotPlace:
    """Where the bot lives: its directories, database and secret key."""

    root: Path
    secret_key: str
    database: str | None = None
    """A PostgreSQL database's URL; None: SQLite in the data dir."""

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def database_url(self) -> str:
        return self.database or f"sqlite+aiosqlite:///{self.data_dir / 'picloud-bots.db'}"

    def environment(
        self, platform: dict[str, str], host: CheveretoEmulator, extra: dict[str, str]
    ) -> dict[str, str]:
        """A bot's environment from scratch, as tests/kills builds it; ``platform`` holds
        the fake's variables (its token and URLs)."""
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "HOME": str(self.root / "home"),
            "PYTHONPATH": str(ROOT),  # this working tree, whatever is installed
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "LANG": "C.UTF-8",
            "PICLOUD_API_URL": host.api_url,
            "PICLOUD_DATA_DIR": str(self.data_dir),
            "PICLOUD_DATABASE_URL": self.database_url,
            "PICLOUD_SECRET_KEY": self.secret_key,
            "PICLOUD_ALLOW_PRIVATE_URLS": "1",
            **platform,
        }
        return env | extra

    def bot(
        self,
        platform: dict[str, str],
        host: CheveretoEmulator,
        extra: dict[str, str],
        ready: re.Pattern[str],
    ) -> BotProcess:
        env = self.environment(platform, host, extra)
        return BotProcess(env, self.root / "cwd", self.root / "log", ready)

    def settings(self, host: CheveretoEmulator) -> Settings:
        """The bot's settings, for storing keys in its database before it starts."""
        from core.settings import Settings

        return Settings(
            _env_file=None,
            PICLOUD_API_URL=host.api_url,
            PICLOUD_DATA_DIR=self.data_dir,
            PICLOUD_DATABASE_URL=self.database_url,
            PICLOUD_SECRET_KEY=self.secret_key,
        )


@asynccontextmanager
async def bot_place(root: Path, server: str | None) -> AsyncIterator[BotPlace]:
    """A bot's place under ``root``: SQLite, or with ``server`` (a PostgreSQL URL,
    ``--database``) a database of its own there, dropped afterwards."""
    from cryptography.fernet import Fernet

    for directory in (root / "data", root / "home", root / "cwd"):
        directory.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode()
    if server is None:
        yield BotPlace(root, key)
        return
    from tests.db import postgres_database

    async with postgres_database(server) as database:
        yield BotPlace(root, key, database)


def bot_env(args: argparse.Namespace, side: Side) -> dict[str, str]:
    """``--bot-env`` and the side's own variables, as a mapping."""
    return dict(item.split("=", 1) for item in [*args.bot_env, *side.env])


def bot_defaults() -> str:
    """The bot's own defaults for the knobs a run is most often compared on."""
    from core.settings import Settings

    fields = Settings.model_fields
    workers, per_user = fields["workers"].default, fields["workers_per_user"].default
    return f"PICLOUD_WORKERS={workers}, PICLOUD_WORKERS_PER_USER={per_user}"


@dataclass(frozen=True)
class Usage:
    """A process's CPU over the burst and its memory (see the benchmarks' docstrings)."""

    cpu_s: float
    rss_before_kb: int  # just before the first message
    peak_rss_kb: int


class Meter:
    """From its making (just before the first message) to ``stop()``: the bot's CPU and
    memory, and the CPU this process (the fakes) used meanwhile."""

    def __init__(self, bot: BotProcess) -> None:
        self._bot = bot
        self._cpu = bot.cpu_s()
        self._rss = memory_kb(bot.pid, "VmRSS")
        self._fakes = own_cpu_s()
        self._began = time.time()
        self.notes: list[str] = []

    def stop(self) -> Usage:
        usage = Usage(self._bot.cpu_s() - self._cpu, self._rss, memory_kb(self._bot.pid, "VmHWM"))
        self.notes.append(fakes_note(own_cpu_s() - self._fakes, time.time() - self._began))
        return usage


@asynccontextmanager
async def running_bot(bot: BotProcess) -> AsyncIterator[Meter]:
    """The bot started, up and settled (its start-up calls done); a Meter from then on.
    Stopped by SIGTERM at the end, which its Meter's notes say."""
    bot.start()
    meter: Meter | None = None
    try:
        await bot.wait_ready()
        await asyncio.sleep(SETTLE_S)
        meter = Meter(bot)
        yield meter
    finally:
        code, took = await bot.stop()
        if meter is not None:
            meter.notes.append(f"stopped by SIGTERM: exit {code} after {took:.1f} s")


@dataclass
class Seed:
    """What the bot's database holds before it starts, as its commands would store it."""

    user_keys: dict[UserRef, str] = field(default_factory=dict)
    chat_keys: list[tuple[ChatRef, str, UserRef]] = field(default_factory=list)  # who set it
    mirrored: list[tuple[ChatRef, UserRef]] = field(default_factory=list)  # who turned it on


async def seed_database(place: BotPlace, host: CheveretoEmulator, seed: Seed) -> None:
    from core.runtime import open_core

    async with open_core(place.settings(host)) as core:
        for user, key in seed.user_keys.items():
            await core.service.keys.set_user_key(user, key)
        for chat, key, setter in seed.chat_keys:
            await core.service.keys.set_chat_key(chat, key, setter)
        for chat, setter in seed.mirrored:
            await core.profiles.set_mirroring(chat, True, setter)


class RecordingFake(Protocol):
    """A platform fake: the calls it answered, oldest first, and those its rate limits
    answered 429."""

    @property
    def calls(self) -> Sequence[Any]: ...

    @property
    def rate_limited(self) -> Sequence[Any]: ...


class Driver(RecordingFake, Protocol):
    """What a benchmark tells the runs below about its platform's fake."""

    def tracker(self, sent: list[Sent], since: int) -> Tracking:
        """Fills in ``sent``'s first signs and answers from the calls from index ``since``."""

    def tally(self, since: int) -> Tally:
        """The calls from index ``since`` by name."""


class FakeDriver:
    """The part of a Driver that only reads the fake's records."""

    def __init__(self, fake: RecordingFake) -> None:
        self._recording = fake

    @property
    def calls(self) -> Sequence[Any]:
        return self._recording.calls

    @property
    def rate_limited(self) -> Sequence[Any]:
        return self._recording.rate_limited


async def run_bot(
    bot: BotProcess,
    driver: Driver,
    host: CheveretoEmulator,
    send: Callable[[], Awaitable[list[Sent]]],
    name: str,
    window_s: float,
) -> SideResult:
    """The bot side: the bot started; the posts sent by ``send``; their answers waited for
    until the window closes; a moment more for late extras; the bot stopped."""
    async with running_bot(bot) as meter:
        since, limited, ledger = len(driver.calls), len(driver.rate_limited), HostLedger(host)
        sent = await send()
        tracker = driver.tracker(sent, since)
        await wait_answered(tracker, min(s.at for s in sent) + window_s)
        usage = meter.stop()
        await asyncio.sleep(SETTLE_S)  # a second answer, were one to come
        tracker.scan()
    limited = len(driver.rate_limited) - limited
    result = SideResult(name, sent, window_s, usage, limited, ledger.outcome(sent), Tally())
    result.calls, result.errors = driver.tally(since), log_oddities(bot.log())
    result.notes += meter.notes
    return result


async def run_bare(
    module: str,
    job: JSON,
    handed: list[Sent],
    driver: Driver,
    host: CheveretoEmulator,
    window_s: float,
) -> SideResult:
    """The bare side: ``python -m <module> --child bare`` handed ``job``, whose items are
    the ``handed`` posts (already in the fake), each counted as sent at its offset after
    the child was told to go."""
    since, ledger = len(driver.calls), HostLedger(host)
    run = await run_bare_child(module, job)
    sent = [Sent(one.post, one.message_id, run.started + one.post.offset) for one in handed]
    driver.tracker(sent, since).scan()
    result = SideResult(BARE.name, sent, window_s, run.usage, None, ledger.outcome(sent), Tally())
    result.calls, result.errors, result.notes = driver.tally(since), run.errors, [run.note]
    return result


# -- the bare side ----------------------------------------------------------------------


@dataclass(frozen=True)
class BareRun:
    """What the bare child did: when it was told to go, its usage, errors, the fakes' CPU."""

    started: float
    usage: Usage
    errors: list[str]
    note: str


async def run_bare_child(module: str, job: JSON) -> BareRun:
    """``python -m <module> --child bare`` handed ``job``; told to go once it is ready."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        "--child",
        "bare",
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(json.dumps(job).encode() + b"\n")
    await child.stdin.drain()
    if (await child.stdout.readline()).strip() != b"READY":
        raise RuntimeError("the bare child did not start")
    started, fakes_before = time.time(), own_cpu_s()
    child.stdin.write(b"GO\n")
    await child.stdin.drain()
    output = await child.stdout.read()
    await child.wait()
    note = fakes_note(own_cpu_s() - fakes_before, time.time() - started)
    figures: JSON = json.loads(output.decode().strip().splitlines()[-1])
    usage = Usage(figures["cpu_s"], figures["rss_before_kb"], figures["peak_rss_kb"])
    return BareRun(started, usage, figures["errors"], note)


WarmUp = Callable[[httpx.AsyncClient, JSON], Awaitable[None]]
BareHandler = Callable[[httpx.AsyncClient, JSON, JSON], Awaitable[None]]


async def serve_bare(warm_up: WarmUp, handle: BareHandler) -> None:
    """The child: reads the job, warms its connections up (the platform's by ``warm_up``,
    the host's here), says READY, waits for GO, then handles every item of ``job["items"]``
    at its ``offset``, all at once, and prints its figures as JSON."""
    job: JSON = json.loads(await asyncio.to_thread(sys.stdin.readline))
    errors: list[str] = []
    async with httpx.AsyncClient(timeout=120) as client:
        await warm_up(client, job)
        await client.get(job["upload"].rsplit("/api/", 1)[0] + "/")
        print("READY", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        started = time.time()
        rss_before = memory_kb("self", "VmRSS")
        before = resource.getrusage(resource.RUSAGE_SELF)
        await asyncio.gather(
            *(_bare_item(handle, client, job, item, started, errors) for item in job["items"])
        )
        after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    figures = {
        "cpu_s": cpu,
        "rss_before_kb": rss_before,
        "peak_rss_kb": memory_kb("self", "VmHWM"),
        "errors": errors[:10],
    }
    print(json.dumps(figures), flush=True)


async def _bare_item(
    handle: BareHandler,
    client: httpx.AsyncClient,
    job: JSON,
    item: JSON,
    started: float,
    errors: list[str],
) -> None:
    await asyncio.sleep(max(0.0, started + item["offset"] - time.time()))
    try:
        await handle(client, job, item)
    except (httpx.HTTPError, KeyError, ValueError) as error:
        errors.append(f"{type(error).__name__}: {error}")


async def bare_upload(client: httpx.AsyncClient, url: str, name: str, body: bytes, key: str) -> str:
    """POST the bytes to the host's upload API; the viewer URL it answers."""
    files = {"source": (name, body, "image/png")}
    posted = await client.post(url, files=files, headers={"X-API-Key": key})
    return str(posted.raise_for_status().json()["image"]["url_viewer"])


# -- figures ----------------------------------------------------------------------------


@dataclass(frozen=True)
class HostOutcome:
    """The side's photos the host stored (md5 -> when), and how many uploads it refused."""

    stored_at: dict[str, float]
    refused: int


class HostLedger:
    """The host's upload requests from its making on: what a side's uploads came to."""

    def __init__(self, host: CheveretoEmulator) -> None:
        self._host = host
        self._requests = upload_requests(host)

    def outcome(self, sent: list[Sent]) -> HostOutcome:
        wanted = {s.post.md5 for s in sent if s.post.md5}
        stored = {u.md5: u.uploaded_at for u in self._host.uploads.values() if u.md5 in wanted}
        return HostOutcome(stored, upload_requests(self._host) - self._requests - len(stored))


def upload_requests(host: CheveretoEmulator) -> int:
    from tests.fakes.chevereto import UPLOAD_PATH

    return sum(1 for r in host.requests if r.path == UPLOAD_PATH and r.method == "POST")


def host_emulator(args: argparse.Namespace, latency_ms: float) -> CheveretoEmulator:
    """The Chevereto emulator a scenario uses (not started): every key it is told of, the
    photos' size allowed, the flood rule out of the way, answers ``latency_ms`` late."""
    from tests.fakes.chevereto import CheveretoEmulator

    return CheveretoEmulator(
        user_keys=(),
        max_upload_mb=args.photo_kb / 1000 + 1,
        flood_per_minute=args.flood_per_minute,
        latency_s=latency_ms / MS,
    )


@dataclass(frozen=True)
class Tally:
    """A side's calls to the platform fake by name, and those it refused by name and code."""

    made: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, calls: Iterable[tuple[str, int | None]]) -> Tally:
        """From (name, error code or None) pairs."""
        made: Counter[str] = Counter()
        refused: Counter[str] = Counter()
        for name, error in calls:
            made[name] += 1
            if error is not None:
                refused[f"{name} {error}"] += 1
        return cls(made, refused)


@dataclass
class SideResult:
    """What one side did in one scenario."""

    side: str
    sent: list[Sent]
    window_s: float
    usage: Usage
    rate_limited: int | None  # None: the limits were off
    host: HostOutcome
    calls: Tally
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, float] = field(default_factory=dict)  # figures a benchmark adds

    @property
    def start(self) -> float:
        return min(s.at for s in self.sent)

    @property
    def photos(self) -> list[Sent]:
        return [s for s in self.sent if s.post.photo is not None]

    def in_window(self, seconds: float | None) -> bool:
        return seconds is not None and seconds <= self.window_s

    def answered(self) -> list[Sent]:
        """Photos answered within the window (from the first message)."""
        return [
            s
            for s in self.photos
            if s.answer is not None and self.in_window(s.at + s.answer - self.start)
        ]

    def answer_times(self) -> list[float]:
        return [s.answer for s in self.answered() if s.answer is not None]

    def first_signs(self) -> list[float]:
        return [s.sign_after for s in self.sent if s.sign_after is not None]

    def last_answer(self) -> float | None:
        ends = [s.at + s.answer - self.start for s in self.answered() if s.answer is not None]
        return max(ends) if ends else None

    def uploads_per_s(self) -> float | None:
        last = self.last_answer()
        return len(self.answered()) / last if last else None

    def host_uploads_per_s(self) -> float | None:
        stored = self.host.stored_at
        if not stored:
            return None
        span = max(stored.values()) - self.start
        return len(stored) / span if span > 0 else None

    def cpu_ms_per_item(self) -> float:
        items = len(self.photos) or len(self.sent)
        return self.usage.cpu_s * MS / items


def percentile(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def log_oddities(text: str) -> list[str]:
    """Warnings, errors and tracebacks in the bot's log, each kind once with its count."""
    seen: Counter[str] = Counter()
    for line in text.splitlines():
        found = LOG_LINE.match(line)
        if found and found["level"] in ("WARNING", "ERROR", "CRITICAL"):
            seen[f"{found['level']} {found['rest'][:200]}"] += 1
        elif line.startswith("Traceback"):
            seen["(traceback)"] += 1
        elif re.match(r"^[A-Za-z_.]+(Error|Exception|Timeout|TimedOut)\b", line):
            seen[f"  raised: {line[:200]}"] += 1
    return [f"{count} x {what}" if count > 1 else what for what, count in seen.items()]


# -- the report -------------------------------------------------------------------------


Row = tuple[str, float | None, float | None]


def _ratio(bot: float | None, bare: float | None) -> str:
    if bot is None or bare is None or bare == 0:
        return "-"
    return f"{bot / bare:.2f}"


def _number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}"


def latency_rows(name: str, bot: list[float], bare: list[float]) -> list[Row]:
    return [
        (f"{name} p{q} (ms)", ms(percentile(bot, q)), ms(percentile(bare, q))) for q in (50, 95, 99)
    ]


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * MS


def photo_rows(bot: SideResult, bare: SideResult) -> list[Row]:
    rows: list[Row] = [
        ("uploads/s (answered)", bot.uploads_per_s(), bare.uploads_per_s()),
        ("uploads/s (at the host)", bot.host_uploads_per_s(), bare.host_uploads_per_s()),
    ]
    rows += latency_rows("first sign", bot.first_signs(), bare.first_signs())
    rows += latency_rows("answer", bot.answer_times(), bare.answer_times())
    rows += [
        ("CPU ms per upload", bot.cpu_ms_per_item(), bare.cpu_ms_per_item()),
        *memory_rows(bot, bare),
        (f"answered within {bot.window_s:.0f} s", len(bot.answered()), len(bare.answered())),
        ("last answer (s after 1st photo)", bot.last_answer(), bare.last_answer()),
    ]
    return rows


def memory_rows(bot: SideResult, bare: SideResult) -> list[Row]:
    mine, theirs = bot.usage, bare.usage
    return [
        ("RSS before the burst (MB)", mine.rss_before_kb / 1024, theirs.rss_before_kb / 1024),
        ("peak RSS (MB)", mine.peak_rss_kb / 1024, theirs.peak_rss_kb / 1024),
    ]


def print_table(rows: list[Row], bot: SideResult, bare: SideResult) -> None:
    print(f"  {'figure':<34} {'bot':>10} {'bare':>10} {'bot/bare':>9}")
    for name, mine, theirs in rows:
        print(f"  {name:<34} {_number(mine):>10} {_number(theirs):>10} {_ratio(mine, theirs):>9}")
    limited = "-" if bot.rate_limited is None else str(bot.rate_limited)
    print(f"  {'429s from the fake':<34} {limited:>10} {'off':>10} {'-':>9}")


def print_details(side: SideResult) -> None:
    calls = ", ".join(f"{method} {count}" for method, count in sorted(side.calls.made.items()))
    print(f"  {side.side} calls: {calls or 'none'}")
    if side.calls.refused:
        refused = ", ".join(f"{what} x{count}" for what, count in side.calls.refused.items())
        print(f"  {side.side} calls refused: {refused}")
    for line in oddities(side) + side.notes:
        print(f"  {side.side}: {line}")


def oddities(side: SideResult) -> list[str]:
    found = []
    photos = side.photos
    unanswered = [s for s in photos if s not in side.answered()]
    if unanswered:
        late = sum(1 for s in unanswered if s.answer is not None)
        lost = sum(1 for s in unanswered if s.post.md5 not in side.host.stored_at)
        found.append(
            f"{len(unanswered)} of {len(photos)} photos unanswered within the window "
            f"({late} answered later; {lost} never stored at the host)"
        )
    several = sum(1 for s in photos if len(s.answered_in) > 1)
    if several:
        found.append(f"{several} photos answered in more than one message")
    if side.host.refused:
        found.append(f"{side.host.refused} upload requests refused by the host")
    found += [f"error: {line}" for line in side.errors]
    return found


def print_report(title: str, rows: list[Row], bot: SideResult, bare: SideResult) -> None:
    print(f"\n== {title} ==")
    print_table(rows, bot, bare)
    print_details(bot)
    print_details(bare)


# -- the command line -------------------------------------------------------------------


@contextmanager
def temporary_root(prefix: str) -> Iterator[Path]:
    """A scenario's directory (bot data, photos), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix) as temporary:
        yield Path(temporary)


def header_lines(platform: str, latency: str, limits: str, args: argparse.Namespace) -> list[str]:
    """What a run says first: the sides, the host (``latency``: how late it answers), the
    platform fake's limits (``limits``), the bot's variables and the window."""
    overrides = " ".join(args.bot_env) or f"none ({bot_defaults()})"
    return [
        f"{platform} bot (python -m bots run, own process, {database_name(args)}) beside a "
        "bare httpx loop "
        f"(child process); fakes on 127.0.0.1 in this process; {os.cpu_count()} CPUs.",
        f"Host emulator: every upload answer {latency}; flood rule "
        f"{args.flood_per_minute} uploads/minute (never reached). Photos: valid PNGs of "
        f"{args.photo_kb} KB, distinct bytes.",
        limits,
        f"Bot environment overrides: {overrides}. Window for answers: {args.window_s:g} s.",
    ]


def database_name(args: argparse.Namespace) -> str:
    return "SQLite" if args.database is None else "PostgreSQL, a fresh database per scenario"


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        metavar="URL",
        help="a PostgreSQL server (postgresql+asyncpg://...) on which each scenario makes "
        "and drops a database of its own for the bot; default: SQLite",
    )
    parser.add_argument("--host-latency-ms", type=float, default=50.0)
    parser.add_argument("--photo-kb", type=int, default=800)
    parser.add_argument(
        "--window-s", type=float, default=120.0, help="how long answers are waited for"
    )
    parser.add_argument("--flood-per-minute", type=int, default=100_000)
    parser.add_argument(
        "--bot-env", action="append", default=[], metavar="NAME=VALUE", help="bot variable"
    )
    parser.add_argument("--child", choices=["bare"], help=argparse.SUPPRESS)


def check_env_items(parser: argparse.ArgumentParser, items: Iterable[str], option: str) -> None:
    for item in items:
        if "=" not in item:
            parser.error(f"{option} wants NAME=VALUE, not {item!r}")


def run_benchmark(
    args: argparse.Namespace,
    scenarios: Iterable[str],
    run_one: Callable[[str], Awaitable[None]],
    bare: tuple[WarmUp, BareHandler],
    header: Callable[[], list[str]],
) -> None:
    """The entry point: the bare child's loop when started as one (``--child bare``), else
    the header, then each scenario (``args.scenario``, or all) timed."""
    if args.child == "bare":
        asyncio.run(serve_bare(*bare))
        return
    print("\n".join(header()))
    names = list(scenarios) if args.scenario == "all" else [args.scenario]
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run_each(names, run_one))


async def _run_each(names: list[str], run_one: Callable[[str], Awaitable[None]]) -> None:
    for name in names:
        began = time.monotonic()
        await run_one(name)
        print(f"  ({time.monotonic() - began:.0f} s for this scenario)")
