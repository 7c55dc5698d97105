"""The Telegram front-end under load: the real bot process beside a bare httpx loop.

    python -m bench.telegram [--scenario private|group|flood|album|all] [--host-latency-ms 50]
                             [--photo-kb 800] [--window-s 120] [--flood-per-minute 100000]
                             [--database postgresql+asyncpg://...]
                             [--album-latency-ms 1000] [--album-compare-env NAME=VALUE ...]
                             [--no-album-compare] [--bot-env NAME=VALUE ...]

Each scenario gets fresh fakes on 127.0.0.1, served by this process: the Telegram Bot
API fake (tests/fakes/telegram) and the Chevereto emulator (tests/fakes/chevereto), whose
every upload answer is delayed by ``--host-latency-ms`` (``--album-latency-ms`` in the
album scenario) and whose flood rule (``--flood-per-minute``) is set high enough never to
interfere. Then, one after the other, against the same fakes:

- ``bot``: ``python -m bots run`` in a process of its own (started as tests/kills starts
  it), configured by environment variables, its SQLite database in a temporary directory
  (or, with ``--database URL``, a fresh PostgreSQL database on that server),
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
refuses a repeat), sent on the same schedule. The shared pieces live in bench/common.py.

Scenarios
    private  10 users, each in a private chat with their key stored, send 5 photos each,
             all at once: 50 uploads.
    group    one supergroup, the bot an admin, mirroring on and the group's key set; 3
             members post 30 photos evenly over 10 s.
    flood    one user sends 200 junk texts over 4 s; meanwhile another sends /start 4
             times, a second apart.
    album    one user, key stored, sends a 10-photo album (10 messages sharing a
             media_group_id, back to back) to an idle bot; the host takes
             ``--album-latency-ms`` (1 s) to answer each upload. The bot runs twice: with
             its defaults (and ``--bot-env``), then also with ``--album-compare-env``
             (default PICLOUD_WORKERS=4 PICLOUD_WORKERS_PER_USER=2, the former defaults;
             ``--no-album-compare`` skips that run), each beside the same bare run.

Figures, bot beside bare and bot/bare
    uploads/s          photos answered / (last answer - first photo sent).
    host uploads/s     photos stored at the host / (last stored - first photo sent).
    first sign         per message: from its sending to the first call the side makes into
                       that chat that Telegram accepts (chat action, message or edit),
                       p50/p95/p99; 0 when a chat action already showed as it came (one
                       shows for 5 s, or until the bot's next message into the chat). The
                       bare side sends nothing before its answer, so its first sign is its
                       answer.
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
    album              when the album was answered: the first moment every one of its 10
                       viewer URLs had been in an accepted message or edit (seconds after
                       its first photo was sent; "-" if one never was within the window),
                       and how many of the chat's messages hold those URLs at the end (1
                       for one message listing the album; the bare loop answers each photo).

Nothing is asserted. After the figures come each side's calls by method, the CPU the
fakes themselves used over the burst (they share the machine: a busy fake slows both
sides), and oddities: unanswered photos, photos answered in more than one message,
uploads the host refused, errors of the bare loop, and the warnings, errors and
tracebacks in the bot's log.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from bench.common import (
    BARE,
    BOT,
    JSON,
    FakeDriver,
    NewCalls,
    Photos,
    Post,
    Row,
    Seed,
    Sent,
    Side,
    SideResult,
    Tally,
    Viewers,
    add_common_arguments,
    api_key,
    bare_upload,
    bot_env,
    bot_place,
    check_env_items,
    deliver_on_schedule,
    header_lines,
    host_emulator,
    keys_of,
    memory_rows,
    ms,
    photo_rows,
    print_report,
    run_bare,
    run_benchmark,
    run_bot,
    seed_database,
    temporary_root,
)

if TYPE_CHECKING:
    from bench.common import BotPlace
    from tests.fakes.chevereto import CheveretoEmulator
    from tests.fakes.telegram import Call, TelegramFake

# The fakes, the core and the Telegram fake's limits are imported where they are used:
# the bare child loads only httpx.

PRIVATE_USERS, PRIVATE_PHOTOS_EACH = 10, 5
GROUP_MEMBERS, GROUP_PHOTOS, GROUP_SPREAD_S = 3, 30, 10.0
FLOOD_JUNK, FLOOD_SPREAD_S = 200, 4.0
BYSTANDER_TRIES = (0.5, 1.5, 2.5, 3.5)  # seconds after the flood starts
FLOOD_WINDOW_S = 30.0
ALBUM_PHOTOS = 10
FORMER_WORKERS = ("PICLOUD_WORKERS=4", "PICLOUD_WORKERS_PER_USER=2")

BOT_READY = re.compile(r"telegram bot @\S+ is up")


# -- who sends what ---------------------------------------------------------------------


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
        return keys_of(self.posts, self.user_keys)


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


def album_cast(fake: TelegramFake, photos: Photos, side: Side) -> Cast:
    user = fake.user(side.base, "Album maker", "en")
    chat = fake.private_chat(user)
    key = api_key(side, 0)
    album = f"album-{side.base}"
    posts = []
    for _ in range(ALBUM_PHOTOS):
        path, md5 = photos.make()
        posts.append(Post(chat, user, 0.0, "photo", path, md5, key=key, album=album))
    return Cast(posts, user_keys={user["id"]: key})


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    cast: Callable[[TelegramFake, Photos, Side], Cast]
    photos: bool  # whether it is about uploads (else: the flood)
    album: bool = False  # the album's host latency, its own figures and comparison run


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
    "album": Scenario(
        "album",
        f"album: one user sends a {ALBUM_PHOTOS}-photo album to an idle bot",
        album_cast,
        photos=True,
        album=True,
    ),
}


# -- what each message got back ---------------------------------------------------------


CHAT_ACTION_SHOWN_S = 5.0
"""How long a chat action shows, unless the bot sends a message first (Bot API docs)."""


class Tracker:
    """Reads the fake's calls (from index ``since``) and the host's uploads, and fills in
    each Sent's first sign and answer. ``scan()`` reads only the calls new since the last."""

    def __init__(
        self, fake: TelegramFake, host: CheveretoEmulator, sent: list[Sent], since: int
    ) -> None:
        from tests.fakes.telegram import LIMITED_METHODS

        self._limited = LIMITED_METHODS
        self._calls = NewCalls(fake.calls, since)
        self._viewers = Viewers(host)
        self.sent = sent
        self._by_chat: dict[str, list[Sent]] = {}
        for one in sorted(sent, key=lambda s: s.at):
            self._by_chat.setdefault(str(one.post.chat["id"]), []).append(one)

    def scan(self) -> None:
        viewers = self._viewers.by_md5()
        for call in self._calls():
            if call.ok and call.params.get("chat_id") is not None:
                self._see(call, viewers)

    def waiting(self) -> list[Sent]:
        """What still expects an answer: photos, and the bystander's /start."""
        return [s for s in self.sent if s.post.role != "junk" and s.answer is None]

    def _see(self, call: Call, viewers: dict[str, str]) -> None:
        in_chat = self._by_chat.get(str(call.params["chat_id"]), [])
        for one in in_chat:
            one.signed(call.time)
            if call.method == "sendChatAction":
                one.sign_sent(call.time, CHAT_ACTION_SHOWN_S)
            elif call.method in self._limited:
                one.message_sent(call.time)
        if call.method not in self._limited:
            return
        text_answered = False
        for one in in_chat:
            if one.post.photo is None:
                # A text is answered by the first message sent after it, once.
                sent_after = call.method.startswith("send") and call.time >= one.at
                if sent_after and not text_answered and one.answer is None:
                    one.answered(call.time)
                    text_answered = True
        photos = [one for one in in_chat if one.post.photo is not None]
        for one in self._viewers.held(photos, _visible_text(call), viewers):
            one.answered_in.add(_message_id(call))
            one.answered(call.time)


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
        update = fake.send_photo(post.chat, post.user, post.photo, media_group_id=post.album)
    else:
        update = fake.send_text(post.chat, post.user, post.text)
    return Sent(post, int(update["message"]["message_id"]), sent_at if at is None else at)


async def deliver_all(fake: TelegramFake, posts: Sequence[Post]) -> list[Sent]:
    async def now(post: Post) -> Sent:
        return deliver(fake, post)

    return await deliver_on_schedule(posts, now)


# -- the two sides ----------------------------------------------------------------------


class Driver(FakeDriver):
    """The Telegram fake as bench.common's runs see it."""

    def __init__(self, fake: TelegramFake, host: CheveretoEmulator) -> None:
        super().__init__(fake)
        self._fake = fake
        self._host = host

    def tracker(self, sent: list[Sent], since: int) -> Tracker:
        return Tracker(self._fake, self._host, sent, since)

    def tally(self, since: int) -> Tally:
        calls = self._fake.calls[since:]
        return Tally.of((c.method, c.error_code) for c in calls if c.method != "getUpdates")


def seed(cast: Cast) -> Seed:
    """Keys, group keys and mirroring, as /setkey and /mirror on store them."""
    from core.refs import ChatId, ChatRef, Platform, UserId, UserRef

    def person(user_id: int) -> UserRef:
        return UserRef(Platform.TELEGRAM, UserId(str(user_id)))

    stored = Seed({person(user_id): key for user_id, key in cast.user_keys.items()})
    for group in cast.groups:
        chat = ChatRef(Platform.TELEGRAM, ChatId(str(group.chat_id)))
        stored.chat_keys.append((chat, group.key, person(group.admin_id)))
        stored.mirrored.append((chat, person(group.admin_id)))
    return stored


async def run_bot_side(
    fake: TelegramFake,
    host: CheveretoEmulator,
    cast: Cast,
    place: BotPlace,
    side: Side,
    args: argparse.Namespace,
    window_s: float,
) -> SideResult:
    from tests.fakes.telegram import RateLimits

    fake.rate_limits = RateLimits()
    await seed_database(place, host, seed(cast))
    bot = place.bot(fake.env(), host, bot_env(args, side), BOT_READY)
    send = functools.partial(deliver_all, fake, cast.posts)
    return await run_bot(bot, Driver(fake, host), host, send, side.name, window_s)


async def run_bare_side(
    fake: TelegramFake, host: CheveretoEmulator, cast: Cast, window_s: float
) -> SideResult:
    fake.rate_limits = None  # the bare loop does not pace: nothing to hold it to
    posts = sorted(cast.posts, key=lambda p: p.offset)
    handed = [deliver(fake, post) for post in posts]  # messages it is handed, not polled
    job = {
        "api": f"{fake.api_url}{fake.token}",
        "files": f"{fake.file_url}{fake.token}",
        "upload": host.api_url,
        "items": [_bare_item(fake, one) for one in handed],
    }
    return await run_bare("bench.telegram", job, handed, Driver(fake, host), host, window_s)


def _bare_item(fake: TelegramFake, sent: Sent) -> JSON:
    post = sent.post
    item: JSON = {"chat": post.chat["id"], "message": sent.message_id, "offset": post.offset}
    if post.photo is not None:
        message = fake.message(post.chat["id"], sent.message_id)
        assert message is not None
        item["file_id"] = message["photo"][-1]["file_id"]
        item["key"] = post.key
    return item


async def _bare_warm_up(client: httpx.AsyncClient, job: JSON) -> None:
    await client.get(f"{job['api']}/getMe")


async def _bare_handle(client: httpx.AsyncClient, job: JSON, item: JSON) -> None:
    text = "Send me a photo, video, GIF, file or link. /help lists the rest."
    if "file_id" in item:
        text = "Uploaded. Viewer: " + await _bare_upload(client, job, item)
    reply = {"message_id": item["message"]}
    message = {"chat_id": item["chat"], "text": text, "reply_parameters": reply}
    answer = await client.post(f"{job['api']}/sendMessage", json=message)
    answer.raise_for_status()


async def _bare_upload(client: httpx.AsyncClient, job: JSON, item: JSON) -> str:
    found = await client.post(f"{job['api']}/getFile", json={"file_id": item["file_id"]})
    path = found.raise_for_status().json()["result"]["file_path"]
    body = (await client.get(f"{job['files']}/{path}")).raise_for_status().content
    return await bare_upload(client, job["upload"], path.rsplit("/", 1)[-1], body, item["key"])


# -- one scenario -----------------------------------------------------------------------


def sides_for(scenario: Scenario, args: argparse.Namespace) -> list[Side]:
    """The bot's runs, then the bare loop's: the album's second bot run if asked."""
    sides = [BOT]
    if scenario.album and not args.no_album_compare:
        env = args.album_compare_env
        sides.append(Side(f"bot with {' '.join(env)}", 30_000, env))
    return [*sides, BARE]


async def run_scenario(scenario: Scenario, args: argparse.Namespace) -> list[SideResult]:
    from tests.fakes.telegram import TelegramFake

    window_s = args.window_s if scenario.photos else FLOOD_WINDOW_S
    latency_ms = args.album_latency_ms if scenario.album else args.host_latency_ms
    with temporary_root("bench-telegram-") as root:
        async with TelegramFake() as fake, host_emulator(args, latency_ms) as host:
            results = []
            for side in sides_for(scenario, args):
                photos = Photos(root / f"photos-{side.base}", args.photo_kb * 1000, side)
                cast = scenario.cast(fake, photos, side)
                host.user_keys |= cast.keys()
                if side is BARE:
                    results.append(await run_bare_side(fake, host, cast, window_s))
                else:
                    async with bot_place(root / f"bot-{side.base}", args.database) as place:
                        bot = await run_bot_side(fake, host, cast, place, side, args, window_s)
                    results.append(bot)
    return results


# -- the report -------------------------------------------------------------------------


def bystander_waits(side: SideResult) -> list[float | None]:
    return [s.answer for s in side.sent if s.post.role == "bystander"]


def replies_to_flooder(side: SideResult) -> int:
    return sum(1 for s in side.sent if s.post.role == "junk" and s.answer is not None)


def flood_rows(bot: SideResult, bare: SideResult) -> list[Row]:
    rows: list[Row] = [
        (f"bystander /start #{n} wait (ms)", ms(mine), ms(theirs))
        for n, (mine, theirs) in enumerate(
            zip(bystander_waits(bot), bystander_waits(bare), strict=True), start=1
        )
    ]
    rows += [
        ("messages back to the flooder", replies_to_flooder(bot), replies_to_flooder(bare)),
        ("CPU ms per message", bot.cpu_ms_per_item(), bare.cpu_ms_per_item()),
        *memory_rows(bot, bare),
    ]
    return rows


def album_answered(side: SideResult) -> float | None:
    """When every photo of the album had been answered (s after its first photo)."""
    photos = side.photos
    return side.last_answer() if len(side.answered()) == len(photos) else None


def album_messages(side: SideResult) -> int:
    return len(set().union(*(s.answered_in for s in side.photos)))


def album_rows(bot: SideResult, bare: SideResult) -> list[Row]:
    return [
        ("album answered (s after 1st photo)", album_answered(bot), album_answered(bare)),
        ("messages holding the album's links", album_messages(bot), album_messages(bare)),
    ]


def report(scenario: Scenario, results: list[SideResult]) -> None:
    *bots, bare = results
    for bot in bots:
        title = scenario.title if len(bots) == 1 else f"{scenario.title} ({bot.side})"
        if scenario.album:
            rows = album_rows(bot, bare) + photo_rows(bot, bare)
        else:
            rows = photo_rows(bot, bare) if scenario.photos else flood_rows(bot, bare)
        print_report(title, rows, bot, bare)


def header(args: argparse.Namespace) -> list[str]:
    latency = f"{args.host_latency_ms:g} ms late ({args.album_latency_ms:g} ms in the album)"
    limits = (
        "Telegram fake: real message limits (RateLimits(): 30/s, private 3 then 1/s, group "
        "20/min) ON for the bot, OFF for the bare loop (it does not pace)."
    )
    return header_lines("Telegram", latency, limits, args)


# -- entry point ------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.telegram")
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    add_common_arguments(parser)
    parser.add_argument("--album-latency-ms", type=float, default=1000.0)
    parser.add_argument(
        "--album-compare-env",
        action="append",
        metavar="NAME=VALUE",
        help=f"the album's second bot run (default: {' '.join(FORMER_WORKERS)})",
    )
    parser.add_argument("--no-album-compare", action="store_true")
    args = parser.parse_args(argv)
    args.album_compare_env = tuple(args.album_compare_env or FORMER_WORKERS)
    check_env_items(parser, args.bot_env, "--bot-env")
    check_env_items(parser, args.album_compare_env, "--album-compare-env")
    return args


async def run_one(args: argparse.Namespace, name: str) -> None:
    report(SCENARIOS[name], await run_scenario(SCENARIOS[name], args))


def main() -> None:
    args = parse_args()
    one = functools.partial(run_one, args)
    bare = (_bare_warm_up, _bare_handle)
    run_benchmark(args, SCENARIOS, one, bare, functools.partial(header, args))


if __name__ == "__main__":
    main()
