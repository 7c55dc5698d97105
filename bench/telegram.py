"""The Telegram front-end under load: the real bot process beside a bare httpx loop.

    python -m bench.telegram [--scenario private|group|flood|all] [--host-latency-ms 50]
                             [--photo-kb 800] [--window-s 120] [--flood-per-minute 100000]
                             [--bot-env NAME=VALUE ...]

Each scenario gets fresh fakes on 127.0.0.1, served by this process: the Telegram Bot
API fake (tests/fakes/telegram) and the Chevereto emulator (tests/fakes/chevereto), whose
every upload answer is delayed by ``--host-latency-ms`` and whose flood rule
(``--flood-per-minute``) is set high enough never to interfere. Then, one after the
other, against the same fakes:

- ``bot``: ``python -m bots run`` in a process of its own (started as tests/kills starts
  it), configured by environment variables, its SQLite database in a temporary directory,
  long polling the fake, with the fake's real message limits ON (``RateLimits()``: 429
  past 30 messages a second, a private chat's burst of 3 then 1 a second, 20 a minute
  into a group). Keys, the group key and mirroring are stored in its database before it
  starts, as the kill tests store keys. ``--bot-env`` adds or overrides its variables
  (``--bot-env PICLOUD_WORKERS=8``).
- ``bare``: a child process running a plain ``httpx.AsyncClient`` loop that does the same
  HTTP work per photo (getFile, download from the file URL, POST to the upload API, one
  sendMessage with the viewer link) and answers each text with one sendMessage; every
  message is handled as it arrives, all at once. The fake's rate limits are OFF for it
  (it does not pace). It reads no updates: it is handed the messages.

Each side has its own users, chats and photos (valid PNGs of distinct bytes: the host
refuses a repeat), sent on the same schedule.

Scenarios
    private  10 users, each in a private chat with their key stored, send 5 photos each,
             all at once: 50 uploads.
    group    one supergroup, the bot an admin, mirroring on and the group's key set; 3
             members post 30 photos evenly over 10 s.
    flood    one user sends 200 junk texts over 4 s; meanwhile another sends /start 4
             times, a second apart.

Figures, bot beside bare and bot/bare
    uploads/s          photos answered / (last answer - first photo sent).
    host uploads/s     photos stored at the host / (last stored - first photo sent).
    first sign         per message: from its sending to the first call the side makes into
                       that chat that Telegram accepts (chat action, message or edit),
                       p50/p95/p99. The bare side sends nothing before its answer, so its
                       first sign is its answer.
    answer             per photo: its upload at the host is found by the md5 of its bytes;
                       the answer is the first message or edit into the chat, accepted by
                       Telegram, whose text, caption or buttons hold that upload's viewer
                       URL, whatever its shape (a reply, an edited status message, one
                       message listing several uploads). p50/p95/p99 of those answered
                       within the window (``--window-s`` from the first message); the
                       rest count as unanswered.
    CPU ms             user + system CPU of the side's process from just before the first
                       message until every photo (every /start) was answered or the window
                       closed, per photo (per message in the flood): /proc/<pid>/stat for
                       the bot, getrusage in the bare child. Start-up is excluded.
    RSS                each process's resident memory just before the first message
                       (VmRSS), and its peak over its whole life (VmHWM, start-up
                       included), from /proc/<pid>/status.
    429s               calls the fake answered 429 (``rate_limited``); "off" for the bare.
    group              how many of the 30 were answered within the window, and when the
                       last answer came (seconds after the first photo).
    flood              the bystander's wait for each reply to /start, and how many
                       messages the flooder got back.

Nothing is asserted. After the figures come each side's calls by method, the CPU the
fakes themselves used over the burst (they share the machine: a busy fake slows both
sides), and oddities: unanswered photos, photos answered in more than one message,
uploads the host refused, errors of the bare loop, and the warnings, errors and
tracebacks in the bot's log.
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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from tests.fakes.chevereto import CheveretoEmulator
    from tests.fakes.telegram import Call, TelegramFake

# The fakes, the core and the Telegram fake's limits are imported where they are used:
# the bare child loads only httpx.

JSON = dict[str, Any]
ROOT = Path(__file__).resolve().parents[1]
MS = 1000.0

PRIVATE_USERS, PRIVATE_PHOTOS_EACH = 10, 5
GROUP_MEMBERS, GROUP_PHOTOS, GROUP_SPREAD_S = 3, 30, 10.0
FLOOD_JUNK, FLOOD_SPREAD_S = 200, 4.0
BYSTANDER_TRIES = (0.5, 1.5, 2.5, 3.5)  # seconds after the flood starts
FLOOD_WINDOW_S = 30.0

BOT_START_TIMEOUT_S = 60.0
BOT_STOP_TIMEOUT_S = 30.0  # its grace for uploads in flight is 8 s
SETTLE_S = 1.0
"""After the bot is up (its start-up calls done) and after the answers (late extras)."""
POLL_S = 0.1
BOT_READY = re.compile(r"telegram bot @\S+ is up")
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (?P<level>[A-Z]+) (?P<rest>.*)$")
VIEWER_END = r"(?![A-Za-z0-9_-])"  # a viewer URL ends there, not inside a longer one


# -- who sends what ---------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """``bot`` or ``bare``: its users, chats and photo seeds never meet the other's."""

    name: str
    base: int  # user ids and photo seeds start here


BOT, BARE = Side("bot", 10_000), Side("bare", 20_000)


@dataclass(frozen=True)
class Post:
    """One message a user sends, ``offset`` seconds after the scenario starts."""

    chat: JSON
    user: JSON
    offset: float
    role: str  # "photo", "junk" or "bystander"
    photo: Path | None = None
    md5: str | None = None
    text: str = ""
    key: str = ""  # the API key its upload uses


@dataclass(frozen=True)
class MirroredGroup:
    chat_id: int
    key: str
    admin_id: int


@dataclass
class Cast:
    """A scenario's messages for one side, and what the bot's database must hold first."""

    posts: list[Post]
    user_keys: dict[int, str] = field(default_factory=dict)
    groups: list[MirroredGroup] = field(default_factory=list)

    def keys(self) -> set[str]:
        return {post.key for post in self.posts if post.key} | set(self.user_keys.values())


class Photos:
    """Valid PNGs of ``size`` bytes on disk, each of distinct bytes (the fake streams them)."""

    def __init__(self, directory: Path, size: int, side: Side) -> None:
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


def private_cast(fake: TelegramFake, photos: Photos, side: Side) -> Cast:
    posts: list[Post] = []
    keys: dict[int, str] = {}
    for number in range(PRIVATE_USERS):
        user = fake.user(side.base + number, f"User {number}", "en")
        chat = fake.private_chat(user)
        keys[user["id"]] = api_key(side, number)
        for _ in range(PRIVATE_PHOTOS_EACH):
            path, md5 = photos.make()
            posts.append(Post(chat, user, 0.0, "photo", path, md5, key=keys[user["id"]]))
    return Cast(posts, user_keys=keys)


def group_cast(fake: TelegramFake, photos: Photos, side: Side) -> Cast:
    group = fake.group(-1_000_000_000_000 - side.base, f"Bench {side.name}")
    fake.set_member(group["id"], fake.bot_id, "administrator")  # it sees every message
    members = [fake.user(side.base + n, f"Member {n}", "en") for n in range(GROUP_MEMBERS)]
    fake.set_member(group["id"], members[0]["id"], "administrator")
    key = api_key(side, 99)
    posts = []
    for number in range(GROUP_PHOTOS):
        path, md5 = photos.make()
        offset = number * GROUP_SPREAD_S / GROUP_PHOTOS
        user = members[number % GROUP_MEMBERS]
        posts.append(Post(group, user, offset, "photo", path, md5, key=key))
    return Cast(posts, groups=[MirroredGroup(group["id"], key, members[0]["id"])])


def flood_cast(fake: TelegramFake, photos: Photos, side: Side) -> Cast:
    flooder = fake.user(side.base, "Flooder", "en")
    bystander = fake.user(side.base + 1, "Bystander", "en")
    flood_chat, calm_chat = fake.private_chat(flooder), fake.private_chat(bystander)
    posts = [
        Post(flood_chat, flooder, n * FLOOD_SPREAD_S / FLOOD_JUNK, "junk", text=f"junk {n} lol")
        for n in range(FLOOD_JUNK)
    ]
    posts += [Post(calm_chat, bystander, at, "bystander", text="/start") for at in BYSTANDER_TRIES]
    return Cast(posts)


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    cast: Callable[[TelegramFake, Photos, Side], Cast]
    photos: bool  # whether it is about uploads (else: the flood)


SCENARIOS = {
    "private": Scenario(
        "private",
        f"private burst: {PRIVATE_USERS} private chats x {PRIVATE_PHOTOS_EACH} photos, all at once",
        private_cast,
        photos=True,
    ),
    "group": Scenario(
        "group",
        f"group burst: {GROUP_MEMBERS} members post {GROUP_PHOTOS} photos over "
        f"{GROUP_SPREAD_S:.0f} s into one mirrored group",
        group_cast,
        photos=True,
    ),
    "flood": Scenario(
        "flood",
        f"flood: {FLOOD_JUNK} junk texts over {FLOOD_SPREAD_S:.0f} s from one user; another "
        f"sends /start {len(BYSTANDER_TRIES)} times meanwhile",
        flood_cast,
        photos=False,
    ),
}


# -- what each message got back ---------------------------------------------------------


@dataclass
class Sent:
    """A post as sent: its message id, when (time.time()), and what came back."""

    post: Post
    message_id: int
    at: float
    first_sign: float | None = None  # seconds after ``at``
    answer: float | None = None
    answered_in: set[int] = field(default_factory=set)  # message ids holding its viewer URL


class Tracker:
    """Reads the fake's calls (from index ``since``) and the host's uploads, and fills in
    each Sent's first sign and answer. ``scan()`` reads only the calls new since the last."""

    def __init__(
        self, fake: TelegramFake, host: CheveretoEmulator, sent: list[Sent], since: int
    ) -> None:
        from tests.fakes.telegram import LIMITED_METHODS

        self._fake = fake
        self._host = host
        self._limited = LIMITED_METHODS
        self._next = since
        self.sent = sent
        self._by_chat: dict[str, list[Sent]] = {}
        for one in sorted(sent, key=lambda s: s.at):
            self._by_chat.setdefault(str(one.post.chat["id"]), []).append(one)
        self._patterns: dict[str, re.Pattern[str]] = {}

    def scan(self) -> None:
        viewers = {
            upload.md5: str(upload.image.get("url_viewer") or "")
            for upload in self._host.uploads.values()
        }
        calls = self._fake.calls
        while self._next < len(calls):
            call = calls[self._next]
            self._next += 1
            if call.ok and call.params.get("chat_id") is not None:
                self._see(call, viewers)

    def waiting(self) -> list[Sent]:
        """What still expects an answer: photos, and the bystander's /start."""
        return [s for s in self.sent if s.post.role != "junk" and s.answer is None]

    def _see(self, call: Call, viewers: dict[str, str]) -> None:
        in_chat = self._by_chat.get(str(call.params["chat_id"]), [])
        for one in in_chat:
            if one.first_sign is None and call.time >= one.at:
                one.first_sign = call.time - one.at
        if call.method not in self._limited:
            return
        message_id = _message_id(call)
        text_answered = False
        haystack = _visible_text(call)
        for one in in_chat:
            if one.post.photo is None:
                # A text is answered by the first message sent after it, once.
                sent_after = call.method.startswith("send") and call.time >= one.at
                if sent_after and not text_answered and one.answer is None:
                    one.answer, text_answered = call.time - one.at, True
                continue
            viewer = viewers.get(one.post.md5 or "")
            if viewer and self._pattern(viewer).search(haystack):
                one.answered_in.add(message_id)
                if one.answer is None:
                    one.answer = call.time - one.at

    def _pattern(self, viewer: str) -> re.Pattern[str]:
        if viewer not in self._patterns:
            self._patterns[viewer] = re.compile(re.escape(viewer) + VIEWER_END)
        return self._patterns[viewer]


def _visible_text(call: Call) -> str:
    """What a message shows: its text or caption and its buttons (their URLs included)."""
    params = call.params
    parts = [str(params.get("text") or ""), str(params.get("caption") or "")]
    if params.get("reply_markup") is not None:
        parts.append(json.dumps(params["reply_markup"]))
    return "\n".join(parts)


def _message_id(call: Call) -> int:
    if isinstance(call.result, dict) and "message_id" in call.result:
        return int(call.result["message_id"])
    return int(call.params.get("message_id") or 0)


def deliver(fake: TelegramFake, post: Post, at: float | None = None) -> Sent:
    """The post injected as the user's message now (``at``: when it counts as sent)."""
    sent_at = time.time()
    if post.photo is not None:
        update = fake.send_photo(post.chat, post.user, post.photo)
    else:
        update = fake.send_text(post.chat, post.user, post.text)
    return Sent(post, int(update["message"]["message_id"]), sent_at if at is None else at)


async def deliver_on_schedule(fake: TelegramFake, posts: Sequence[Post]) -> list[Sent]:
    """Each post at its offset; those due together are injected with no pause between."""
    started = time.time()
    sent = []
    for post in sorted(posts, key=lambda p: p.offset):
        delay = started + post.offset - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        sent.append(deliver(fake, post))
    return sent


async def wait_answered(tracker: Tracker, deadline: float) -> None:
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
    """``python -m bots run`` in a process of its own, its output in ``log_path``."""

    def __init__(self, env: dict[str, str], cwd: Path, log_path: Path) -> None:
        self.env = env
        self.cwd = cwd
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "bots", "run"],
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C at the terminal is for the benchmark
            )

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + BOT_START_TIMEOUT_S
        while not BOT_READY.search(self.log()):
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

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

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

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def database_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.data_dir / 'picloud-bots.db'}"

    def environment(
        self, fake: TelegramFake, host: CheveretoEmulator, extra: dict[str, str]
    ) -> dict[str, str]:
        """A bot's environment from scratch, as tests/kills builds it."""
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
            **fake.env(),
        }
        return env | extra


def make_place(root: Path) -> BotPlace:
    from cryptography.fernet import Fernet

    place = BotPlace(root, Fernet.generate_key().decode())
    for directory in (place.data_dir, root / "home", root / "cwd"):
        directory.mkdir(parents=True, exist_ok=True)
    return place


async def seed_database(place: BotPlace, host: CheveretoEmulator, cast: Cast) -> None:
    """Keys, group keys and mirroring, stored as /setkey and /mirror on would."""
    from core.refs import ChatId, ChatRef, Platform, UserId, UserRef
    from core.runtime import open_core
    from core.settings import Settings

    def person(user_id: int) -> UserRef:
        return UserRef(Platform.TELEGRAM, UserId(str(user_id)))

    settings = Settings(
        _env_file=None,
        PICLOUD_API_URL=host.api_url,
        PICLOUD_DATA_DIR=place.data_dir,
        PICLOUD_DATABASE_URL=place.database_url,
        PICLOUD_SECRET_KEY=place.secret_key,
    )
    async with open_core(settings) as core:
        for user_id, key in cast.user_keys.items():
            await core.service.keys.set_user_key(person(user_id), key)
        for group in cast.groups:
            chat = ChatRef(Platform.TELEGRAM, ChatId(str(group.chat_id)))
            await core.service.keys.set_chat_key(chat, group.key, person(group.admin_id))
            await core.profiles.set_mirroring(chat, True, person(group.admin_id))


# -- figures ----------------------------------------------------------------------------


@dataclass
class SideResult:
    """What one side did in one scenario."""

    side: str
    sent: list[Sent]
    window_s: float
    cpu_s: float
    rss_before_kb: int  # just before the first message
    peak_rss_kb: int
    rate_limited: int | None  # None: the limits were off
    stored_at: dict[str, float]  # md5 -> when the host stored that photo of this side
    refused_at_host: int
    calls: Counter[str] = field(default_factory=Counter)
    refused_calls: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

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
        return [s.first_sign for s in self.sent if s.first_sign is not None]

    def last_answer(self) -> float | None:
        ends = [s.at + s.answer - self.start for s in self.answered() if s.answer is not None]
        return max(ends) if ends else None

    def uploads_per_s(self) -> float | None:
        last = self.last_answer()
        return len(self.answered()) / last if last else None

    def host_uploads_per_s(self) -> float | None:
        if not self.stored_at:
            return None
        span = max(self.stored_at.values()) - self.start
        return len(self.stored_at) / span if span > 0 else None

    def cpu_ms_per_item(self) -> float:
        items = len(self.photos) or len(self.sent)
        return self.cpu_s * MS / items

    def bystander_waits(self) -> list[float | None]:
        return [s.answer for s in self.sent if s.post.role == "bystander"]

    def replies_to_flooder(self) -> int:
        return sum(1 for s in self.sent if s.post.role == "junk" and s.answer is not None)


def percentile(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def stored_by(host: CheveretoEmulator, sent: list[Sent]) -> dict[str, float]:
    wanted = {s.post.md5 for s in sent if s.post.md5}
    return {u.md5: u.uploaded_at for u in host.uploads.values() if u.md5 in wanted}


def upload_requests(host: CheveretoEmulator) -> int:
    from tests.fakes.chevereto import UPLOAD_PATH

    return sum(1 for r in host.requests if r.path == UPLOAD_PATH and r.method == "POST")


def calls_by_method(calls: Sequence[Call]) -> tuple[Counter[str], Counter[str]]:
    made: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    for call in calls:
        if call.method == "getUpdates":
            continue
        made[call.method] += 1
        if not call.ok:
            refused[f"{call.method} {call.error_code}"] += 1
    return made, refused


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


# -- the bot side -----------------------------------------------------------------------


async def run_bot_side(
    fake: TelegramFake,
    host: CheveretoEmulator,
    cast: Cast,
    place: BotPlace,
    args: argparse.Namespace,
    window_s: float,
) -> SideResult:
    from tests.fakes.telegram import RateLimits

    fake.rate_limits = RateLimits()
    await seed_database(place, host, cast)
    extra = dict(item.split("=", 1) for item in args.bot_env)
    bot = BotProcess(place.environment(fake, host, extra), place.root / "cwd", place.root / "log")
    bot.start()
    try:
        await bot.wait_ready()
        await asyncio.sleep(SETTLE_S)  # its start-up calls (commands, first poll) are done
        since, limited, requests = len(fake.calls), len(fake.rate_limited), upload_requests(host)
        cpu_before, rss_before = bot.cpu_s(), memory_kb(bot.pid, "VmRSS")
        fakes_before, began = own_cpu_s(), time.time()
        sent = await deliver_on_schedule(fake, cast.posts)
        tracker = Tracker(fake, host, sent, since)
        await wait_answered(tracker, min(s.at for s in sent) + window_s)
        cpu = bot.cpu_s() - cpu_before
        fakes = fakes_note(own_cpu_s() - fakes_before, time.time() - began)
        peak = memory_kb(bot.pid, "VmHWM")
        await asyncio.sleep(SETTLE_S)  # a second answer, were one to come
        tracker.scan()
    finally:
        code, took = await bot.stop()
    made, refused = calls_by_method(fake.calls[since:])
    stored = stored_by(host, sent)
    result = SideResult(
        side="bot",
        sent=sent,
        window_s=window_s,
        cpu_s=cpu,
        rss_before_kb=rss_before,
        peak_rss_kb=peak,
        rate_limited=len(fake.rate_limited) - limited,
        stored_at=stored,
        refused_at_host=upload_requests(host) - requests - len(stored),
        calls=made,
        refused_calls=refused,
        errors=log_oddities(bot.log()),
    )
    result.notes += [fakes, f"stopped by SIGTERM: exit {code} after {took:.1f} s"]
    return result


# -- the bare side ----------------------------------------------------------------------


async def run_bare_side(
    fake: TelegramFake, host: CheveretoEmulator, cast: Cast, window_s: float
) -> SideResult:
    fake.rate_limits = None  # the bare loop does not pace: nothing to hold it to
    since, requests = len(fake.calls), upload_requests(host)
    posts = sorted(cast.posts, key=lambda p: p.offset)
    registered = [deliver(fake, post) for post in posts]  # messages it is handed, not polled
    job = {
        "api": f"{fake.api_url}{fake.token}",
        "files": f"{fake.file_url}{fake.token}",
        "upload": host.api_url,
        "items": [_bare_item(fake, one) for one in registered],
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.telegram",
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
    fakes = fakes_note(own_cpu_s() - fakes_before, time.time() - started)
    figures: JSON = json.loads(output.decode().strip().splitlines()[-1])
    sent = [Sent(one.post, one.message_id, started + one.post.offset) for one in registered]
    tracker = Tracker(fake, host, sent, since)
    tracker.scan()
    made, refused = calls_by_method(fake.calls[since:])
    stored = stored_by(host, sent)
    return SideResult(
        side="bare",
        sent=sent,
        window_s=window_s,
        cpu_s=figures["cpu_s"],
        rss_before_kb=figures["rss_before_kb"],
        peak_rss_kb=figures["peak_rss_kb"],
        rate_limited=None,
        stored_at=stored,
        refused_at_host=upload_requests(host) - requests - len(stored),
        calls=made,
        refused_calls=refused,
        errors=figures["errors"],
        notes=[fakes],
    )


def _bare_item(fake: TelegramFake, sent: Sent) -> JSON:
    post = sent.post
    item: JSON = {"chat": post.chat["id"], "message": sent.message_id, "offset": post.offset}
    if post.photo is not None:
        message = fake.message(post.chat["id"], sent.message_id)
        assert message is not None
        item["file_id"] = message["photo"][-1]["file_id"]
        item["key"] = post.key
    return item


async def bare_child() -> None:
    """The child: reads the job, warms its connections up, says READY, waits for GO, then
    handles every item at its offset, all at once, and prints its figures as JSON."""
    job: JSON = json.loads(await asyncio.to_thread(sys.stdin.readline))
    errors: list[str] = []
    async with httpx.AsyncClient(timeout=120) as client:
        await client.get(f"{job['api']}/getMe")
        await client.get(job["upload"].rsplit("/api/", 1)[0] + "/")
        print("READY", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        started = time.time()
        rss_before = memory_kb("self", "VmRSS")
        before = resource.getrusage(resource.RUSAGE_SELF)
        await asyncio.gather(
            *(_bare_handle(client, job, item, started, errors) for item in job["items"])
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


async def _bare_handle(
    client: httpx.AsyncClient, job: JSON, item: JSON, started: float, errors: list[str]
) -> None:
    await asyncio.sleep(max(0.0, started + item["offset"] - time.time()))
    try:
        text = "Send me a photo, video, GIF, file or link. /help lists the rest."
        if "file_id" in item:
            text = "Uploaded. Viewer: " + await _bare_upload(client, job, item)
        reply = {"message_id": item["message"]}
        message = {"chat_id": item["chat"], "text": text, "reply_parameters": reply}
        answer = await client.post(f"{job['api']}/sendMessage", json=message)
        answer.raise_for_status()
    except (httpx.HTTPError, KeyError, ValueError) as error:
        errors.append(f"{type(error).__name__}: {error}")


async def _bare_upload(client: httpx.AsyncClient, job: JSON, item: JSON) -> str:
    found = await client.post(f"{job['api']}/getFile", json={"file_id": item["file_id"]})
    path = found.raise_for_status().json()["result"]["file_path"]
    body = (await client.get(f"{job['files']}/{path}")).raise_for_status().content
    files = {"source": (path.rsplit("/", 1)[-1], body, "image/png")}
    posted = await client.post(job["upload"], files=files, headers={"X-API-Key": item["key"]})
    return str(posted.raise_for_status().json()["image"]["url_viewer"])


# -- one scenario -----------------------------------------------------------------------


async def run_scenario(scenario: Scenario, args: argparse.Namespace) -> list[SideResult]:
    from tests.fakes.chevereto import CheveretoEmulator
    from tests.fakes.telegram import TelegramFake

    window_s = args.window_s if scenario.photos else FLOOD_WINDOW_S
    with tempfile.TemporaryDirectory(prefix="bench-telegram-") as temporary:
        root = Path(temporary)
        async with (
            TelegramFake() as fake,
            CheveretoEmulator(
                user_keys=(),
                max_upload_mb=args.photo_kb / 1000 + 1,
                flood_per_minute=args.flood_per_minute,
                latency_s=args.host_latency_ms / MS,
            ) as host,
        ):
            results = []
            for side in (BOT, BARE):
                photos_dir = root / f"photos-{side.name}"
                photos_dir.mkdir()
                cast = scenario.cast(fake, Photos(photos_dir, args.photo_kb * 1000, side), side)
                host.user_keys |= cast.keys()
                if side is BOT:
                    place = make_place(root / "bot")
                    results.append(await run_bot_side(fake, host, cast, place, args, window_s))
                else:
                    results.append(await run_bare_side(fake, host, cast, window_s))
    return results


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


def _latency_rows(name: str, bot: list[float], bare: list[float]) -> list[Row]:
    return [
        (f"{name} p{q} (ms)", _ms(percentile(bot, q)), _ms(percentile(bare, q)))
        for q in (50, 95, 99)
    ]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * MS


def photo_rows(bot: SideResult, bare: SideResult) -> list[Row]:
    rows: list[Row] = [
        ("uploads/s (answered)", bot.uploads_per_s(), bare.uploads_per_s()),
        ("uploads/s (at the host)", bot.host_uploads_per_s(), bare.host_uploads_per_s()),
    ]
    rows += _latency_rows("first sign", bot.first_signs(), bare.first_signs())
    rows += _latency_rows("answer", bot.answer_times(), bare.answer_times())
    rows += [
        ("CPU ms per upload", bot.cpu_ms_per_item(), bare.cpu_ms_per_item()),
        *_memory_rows(bot, bare),
        (f"answered within {bot.window_s:.0f} s", len(bot.answered()), len(bare.answered())),
        ("last answer (s after 1st photo)", bot.last_answer(), bare.last_answer()),
    ]
    return rows


def flood_rows(bot: SideResult, bare: SideResult) -> list[Row]:
    rows: list[Row] = [
        (f"bystander /start #{n} wait (ms)", _ms(mine), _ms(theirs))
        for n, (mine, theirs) in enumerate(
            zip(bot.bystander_waits(), bare.bystander_waits(), strict=True), start=1
        )
    ]
    rows += [
        ("messages back to the flooder", bot.replies_to_flooder(), bare.replies_to_flooder()),
        ("CPU ms per message", bot.cpu_ms_per_item(), bare.cpu_ms_per_item()),
        *_memory_rows(bot, bare),
    ]
    return rows


def _memory_rows(bot: SideResult, bare: SideResult) -> list[Row]:
    return [
        ("RSS before the burst (MB)", bot.rss_before_kb / 1024, bare.rss_before_kb / 1024),
        ("peak RSS (MB)", bot.peak_rss_kb / 1024, bare.peak_rss_kb / 1024),
    ]


def print_table(rows: list[Row], bot: SideResult, bare: SideResult) -> None:
    print(f"  {'figure':<34} {'bot':>10} {'bare':>10} {'bot/bare':>9}")
    for name, mine, theirs in rows:
        print(f"  {name:<34} {_number(mine):>10} {_number(theirs):>10} {_ratio(mine, theirs):>9}")
    limited = "-" if bot.rate_limited is None else str(bot.rate_limited)
    print(f"  {'429s from the fake':<34} {limited:>10} {'off':>10} {'-':>9}")


def print_details(side: SideResult) -> None:
    calls = ", ".join(f"{method} {count}" for method, count in sorted(side.calls.items()))
    print(f"  {side.side} calls: {calls or 'none'}")
    if side.refused_calls:
        refused = ", ".join(f"{what} x{count}" for what, count in side.refused_calls.items())
        print(f"  {side.side} calls refused: {refused}")
    for line in oddities(side) + side.notes:
        print(f"  {side.side}: {line}")


def oddities(side: SideResult) -> list[str]:
    found = []
    photos = side.photos
    unanswered = [s for s in photos if s not in side.answered()]
    if unanswered:
        late = sum(1 for s in unanswered if s.answer is not None)
        lost = sum(1 for s in unanswered if s.post.md5 not in side.stored_at)
        found.append(
            f"{len(unanswered)} of {len(photos)} photos unanswered within the window "
            f"({late} answered later; {lost} never stored at the host)"
        )
    several = sum(1 for s in photos if len(s.answered_in) > 1)
    if several:
        found.append(f"{several} photos answered in more than one message")
    if side.refused_at_host:
        found.append(f"{side.refused_at_host} upload requests refused by the host")
    found += [f"error: {line}" for line in side.errors]
    return found


def report(scenario: Scenario, bot: SideResult, bare: SideResult) -> None:
    print(f"\n== {scenario.title} ==")
    rows = photo_rows(bot, bare) if scenario.photos else flood_rows(bot, bare)
    print_table(rows, bot, bare)
    print_details(bot)
    print_details(bare)


def print_header(args: argparse.Namespace) -> None:
    print(
        f"Telegram bot (python -m bots run, own process, SQLite) beside a bare httpx loop "
        f"(child process); fakes on 127.0.0.1 in this process; {os.cpu_count()} CPUs."
    )
    print(
        f"Host emulator: every upload answer {args.host_latency_ms:g} ms late; flood rule "
        f"{args.flood_per_minute} uploads/minute (never reached). Photos: valid PNGs of "
        f"{args.photo_kb} KB, distinct bytes."
    )
    print(
        "Telegram fake: real message limits (RateLimits(): 30/s, private 3 then 1/s, group "
        "20/min) ON for the bot, OFF for the bare loop (it does not pace)."
    )
    overrides = " ".join(args.bot_env) or "none (PICLOUD_WORKERS=4, PICLOUD_WORKERS_PER_USER=2)"
    print(f"Bot environment overrides: {overrides}. Window for answers: {args.window_s:g} s.")


# -- entry point ------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.telegram")
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
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
    args = parser.parse_args(argv)
    for item in args.bot_env:
        if "=" not in item:
            parser.error(f"--bot-env wants NAME=VALUE, not {item!r}")
    return args


async def run(args: argparse.Namespace) -> None:
    print_header(args)
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    for name in names:
        began = time.monotonic()
        bot, bare = await run_scenario(SCENARIOS[name], args)
        report(SCENARIOS[name], bot, bare)
        print(f"  ({time.monotonic() - began:.0f} s for this scenario)")


def main() -> None:
    args = parse_args()
    if args.child == "bare":
        asyncio.run(bare_child())
        return
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
