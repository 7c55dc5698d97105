"""The Discord front-end under load: the real bot process beside a bare httpx loop.

    python -m bench.discord [--scenario commands|channel|all] [--host-latency-ms 50]
                            [--photo-kb 800] [--window-s 120] [--flood-per-minute 100000]
                            [--database postgresql+asyncpg://...] [--bot-env NAME=VALUE ...]

(``--scenario private`` is taken for ``commands``: the uploads people ask for themselves.)

Each scenario gets fresh fakes on 127.0.0.1, served by this process: the Discord REST API,
gateway and CDN fake (tests/fakes/discord) and the Chevereto emulator
(tests/fakes/chevereto), whose every upload answer is delayed by ``--host-latency-ms`` and
whose flood rule (``--flood-per-minute``) is set high enough never to interfere. Then, one
after the other, against the same fakes:

- ``bot``: ``python -m bots run`` in a process of its own (started as tests/kills starts
  it), configured by environment variables, its SQLite database in a temporary directory
  (or, with ``--database URL``, a fresh PostgreSQL database on that server),
  connected to the fake's gateway, with the fake's message limit ON (``RateLimits()``:
  429 past 5 messages per 5 s created in one channel, with the ``X-RateLimit-*`` headers
  discord.py paces itself by; interaction responses and follow-ups, which Discord limits
  per interaction, and edits are never limited). Keys, the server's key and mirroring
  are stored in its database before it starts, as the kill tests store keys; its guild
  is registered before it connects, so it arrives with the gateway's GUILD_CREATE. The
  fake keeps Discord's 3 s for the first answer to an interaction. ``--bot-env`` adds or
  overrides its variables (``--bot-env PICLOUD_WORKERS=8``).
- ``bare``: a child process running a plain ``httpx.AsyncClient`` loop that does, per
  image, the HTTP work any answer needs: download the attachment from the fake's CDN URL,
  POST it to the upload API, create one message in the channel with the viewer link
  (``POST /channels/{id}/messages``, a reply to the posted message in the channel
  scenario); every image is handled as it arrives, all at once. The fake's rate limits
  are OFF for it (it does not pace). It reads no gateway events: it is handed the images.

Each side has its own guild, channel, members and images (valid PNGs of distinct bytes:
the host refuses a repeat), sent on the same schedule. The shared pieces live in
bench/common.py.

Scenarios
    commands 10 members of one guild, each with their key stored, each use ``/upload``
             with an image attachment 5 times, all at once: 50 interactions, 50 uploads
             (``/upload`` takes one attachment; the natural way to upload 5 images).
    channel  one guild channel with mirroring on and the server's key set; 3 members post
             30 messages evenly over 10 s, each with one image attachment.

Figures, bot beside bare and bot/bare
    uploads/s          images answered / (last answer - first image sent).
    host uploads/s     images stored at the host / (last stored - first image sent).
    first sign         per image: from its sending to the first call the side makes about
                       it that the fake accepts, p50/p95/p99: for an interaction, its
                       callback (the defer) or a follow-up or edit through its token; for a
                       posted message, a reply to it, or a typing indicator in its channel
                       (typing names no message: each typing call is given to the earliest
                       message of that channel still without a first sign, as the bot
                       types once as each message arrives; 0 when typing already showed
                       as it came: it shows for 10 s, or until the bot's next message
                       there); and for either, any message that answers it. The bare side
                       sends nothing before its answer, so its first sign is its answer.
    answer             per image: its upload at the host is found by the md5 of its bytes;
                       the answer is the first call the fake accepts that creates or edits
                       a message (a channel message, an interaction callback, follow-up or
                       edit) whose content, embeds or components hold that upload's viewer
                       URL, whatever its shape (a reply per image, one message listing
                       several). p50/p95/p99 of those answered within the window
                       (``--window-s`` from the first image); the rest count as unanswered.
    CPU ms             user + system CPU of the side's process from just before the first
                       image until every image was answered or the window closed, per
                       image: /proc/<pid>/stat for the bot, getrusage in the bare child.
                       Start-up is excluded.
    RSS                each process's resident memory just before the first image (VmRSS),
                       and its peak over its whole life (VmHWM, start-up included), from
                       /proc/<pid>/status.
    answered within    how many images were answered within the window, and when the last
                       answer came (seconds after the first image).
    messages posted    the side's messages in its channel at the end (deferred responses
                       filled in, follow-ups and replies; ephemeral ones included).
    429s               calls the fake's rate limits answered 429 (``rate_limited``); "off"
                       for the bare.

Nothing is asserted. After the figures come each side's calls by route, the CPU the fakes
themselves used over the burst (they share the machine: a busy fake slows both sides),
and oddities: unanswered images, images whose viewer URL is in more than one message at
the end, uploads the host refused, errors of the bare loop, and what the bot logged as a
warning, an error or a traceback (discord.py's start-up warnings about voice included).
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

import httpx

from bench import common
from bench.common import JSON, Post, Sent, Side, SideResult

if TYPE_CHECKING:
    from tests.fakes.chevereto import CheveretoEmulator
    from tests.fakes.discord import Call, DiscordFake

# The fakes, the core and the bot's own helpers are imported where they are used: the bare
# child loads only httpx.

COMMAND_USERS, COMMAND_UPLOADS_EACH = 10, 5
CHANNEL_MEMBERS, CHANNEL_IMAGES, CHANNEL_SPREAD_S = 3, 30, 10.0
GUILD_OFFSET, CHANNEL_OFFSET = 900, 901  # after the side's base, as users are

BOT_READY = re.compile(r"discord bot .+ is up")
CALLBACK = re.compile(r"/interactions/(?P<id>[0-9]+)/(?P<token>[^/]+)/callback")
WEBHOOK = re.compile(r"/webhooks/[0-9]+/(?P<token>[^/]+)(?:/.*)?")
TYPING = re.compile(r"/channels/(?P<channel>[0-9]+)/typing")
TYPING_SHOWN_S = 10.0
"""How long Discord shows typing, unless the bot posts into the channel first."""
MESSAGES = re.compile(r"/channels/(?P<channel>[0-9]+)/messages")
TOKEN_IN_PATH = re.compile(r"(/(?:webhooks|interactions)/\{id\}/)[^/]+")
FILE_IN_PATH = re.compile(r"(/attachments/\{id\}/)[^/]+")


# -- who sends what ---------------------------------------------------------------------


@dataclass
class Cast:
    """A scenario's images for one side, where they go, and what the bot's database must
    hold first. Posts are ``command`` (an ``/upload``) or ``message`` (posted)."""

    guild: JSON
    channel: JSON
    admin: JSON
    posts: list[Post] = field(default_factory=list)
    user_keys: dict[int, str] = field(default_factory=dict)
    server_key: str | None = None
    mirrored: bool = False


def guild_cast(fake: DiscordFake, side: Side, members: int) -> tuple[Cast, list[JSON]]:
    """A guild of the side's own with one channel and ``members`` members, the first its
    owner."""
    people = [fake.user(side.base + n, f"member{n}") for n in range(members)]
    guild_id, channel_id = side.base + GUILD_OFFSET, side.base + CHANNEL_OFFSET
    guild = fake.guild(guild_id, f"Bench {side.name}", owner_id=people[0]["id"])
    channel = fake.channel(guild_id, channel_id, "uploads")
    for person in people:
        fake.member(guild_id, person)
    return Cast(guild, channel, people[0]), people


def commands_cast(fake: DiscordFake, photos: common.Photos, side: Side) -> Cast:
    cast, people = guild_cast(fake, side, COMMAND_USERS)
    for number, person in enumerate(people):
        key = cast.user_keys[int(person["id"])] = common.api_key(side, number)
        for _ in range(COMMAND_UPLOADS_EACH):
            path, md5 = photos.make()
            cast.posts.append(Post(cast.channel, person, 0.0, "command", path, md5, key=key))
    return cast


def channel_cast(fake: DiscordFake, photos: common.Photos, side: Side) -> Cast:
    cast, people = guild_cast(fake, side, CHANNEL_MEMBERS)
    cast.server_key, cast.mirrored = common.api_key(side, 99), True
    for number in range(CHANNEL_IMAGES):
        path, md5 = photos.make()
        offset = number * CHANNEL_SPREAD_S / CHANNEL_IMAGES
        person = people[number % CHANNEL_MEMBERS]
        post = Post(cast.channel, person, offset, "message", path, md5, key=cast.server_key)
        cast.posts.append(post)
    return cast


@dataclass(frozen=True)
class Scenario:
    title: str
    cast: Callable[[DiscordFake, common.Photos, Side], Cast]


SCENARIOS = {
    "commands": Scenario(
        f"/upload burst: {COMMAND_USERS} members x {COMMAND_UPLOADS_EACH} /upload with an "
        "image, all at once",
        commands_cast,
    ),
    "channel": Scenario(
        f"channel burst: {CHANNEL_MEMBERS} members post {CHANNEL_IMAGES} images over "
        f"{CHANNEL_SPREAD_S:.0f} s into one mirrored channel",
        channel_cast,
    ),
}
ALIASES = {"private": "commands"}


# -- what each image got back -----------------------------------------------------------


class Tracker:
    """Reads the fake's calls (from index ``since``) and the host's uploads, and fills in
    each Sent's first sign and answer. ``scan()`` reads only the calls new since the last.
    ``tokens``: the interactions' tokens, to the Sent each answers."""

    def __init__(
        self,
        fake: DiscordFake,
        host: CheveretoEmulator,
        sent: list[Sent],
        tokens: dict[str, Sent],
        since: int,
    ) -> None:
        self._calls = common.NewCalls(fake.calls, since)
        self._viewers = common.Viewers(host)
        self._tokens = tokens
        self.sent = sent
        self._by_id = {one.message_id: one for one in sent}
        self._by_channel: dict[int, list[Sent]] = {}
        for one in sorted(sent, key=lambda s: s.at):
            if one.post.role == "message":
                self._by_channel.setdefault(int(one.post.chat["id"]), []).append(one)

    def scan(self) -> None:
        viewers = self._viewers.by_md5()
        for call in self._calls():
            if call.ok:
                self._see(call, viewers)

    def waiting(self) -> list[Sent]:
        return [one for one in self.sent if one.answer is None]

    def _see(self, call: Call, viewers: dict[str, str]) -> None:
        about = self._about(call)
        if about is not None:
            about.signed(call.time)
        if found := (TYPING.fullmatch(call.path) or MESSAGES.fullmatch(call.path)):
            for one in self._by_channel.get(int(found["channel"]), []):
                if found.re is TYPING:
                    one.sign_sent(call.time, TYPING_SHOWN_S)
                elif call.method == "POST":
                    one.message_sent(call.time)
        if call.method not in ("POST", "PATCH") or call.json is None:
            return
        for one in self._viewers.held(self.sent, json.dumps(call.json), viewers):
            one.signed(call.time)
            one.answered(call.time)

    def _about(self, call: Call) -> Sent | None:
        """The image a call is about, when it names one (or typing: see the docstring)."""
        if found := CALLBACK.fullmatch(call.path):
            return self._by_id.get(int(found["id"]))
        if found := WEBHOOK.fullmatch(call.path):
            return self._tokens.get(found["token"])
        if found := TYPING.fullmatch(call.path):
            waiting = self._by_channel.get(int(found["channel"]), [])
            return next((s for s in waiting if s.first_sign is None and s.at <= call.time), None)
        if call.method == "POST" and MESSAGES.fullmatch(call.path):
            body = call.json if isinstance(call.json, dict) else {}
            reference = body.get("message_reference") or {}
            return self._by_id.get(int(reference.get("message_id") or 0))
        return None


def mark_messages(fake: DiscordFake, host: CheveretoEmulator, side: SideResult) -> None:
    """Each image's ``answered_in``: the side's messages in its channel, as they are at the
    end, whose content, embeds or components hold its viewer URL. Also counts them."""
    viewers = common.Viewers(host)
    by_md5 = viewers.by_md5()
    channels = {int(one.post.chat["id"]) for one in side.sent}
    messages = [m for channel in channels for m in fake.bot_messages(channel)]
    for message in messages:
        shown = json.dumps([message.get(k) for k in ("content", "embeds", "components")])
        for one in viewers.held(side.sent, shown, by_md5):
            one.answered_in.add(int(message["id"]))
    side.extra["posted"] = len(messages)


def route(call: Call) -> str:
    """``POST /channels/{id}/messages``: a call's method and path, ids, tokens and file
    names hidden."""
    path = TOKEN_IN_PATH.sub(r"\1{token}", re.sub(r"/[0-9]+", "/{id}", call.path))
    path = FILE_IN_PATH.sub(r"\1{file} (CDN)", path)
    return f"{call.method} {path}"


async def deliver(fake: DiscordFake, cast: Cast, tokens: dict[str, Sent], post: Post) -> Sent:
    """The post sent now: ``/upload`` with its image, or a message with it attached."""
    assert post.photo is not None
    attachment = fake.add_attachment(post.photo, post.photo.name, "image/png")
    at = fake.clock()
    if post.role == "command":
        options = {"attachment": attachment}
        interaction = await fake.slash_command(
            cast.guild, cast.channel, post.user, "upload", attachments=options
        )
        sent = tokens[interaction["token"]] = Sent(post, int(interaction["id"]), at)
        return sent
    message = await fake.post_message(cast.guild, cast.channel, post.user, attachments=[attachment])
    return Sent(post, int(message["id"]), at)


# -- the two sides ----------------------------------------------------------------------


class Driver(common.FakeDriver):
    """The Discord fake as bench.common's runs see it."""

    def __init__(self, fake: DiscordFake, host: CheveretoEmulator) -> None:
        super().__init__(fake)
        self._fake = fake
        self._host = host
        self.tokens: dict[str, Sent] = {}

    def tracker(self, sent: list[Sent], since: int) -> Tracker:
        return Tracker(self._fake, self._host, sent, self.tokens, since)

    def tally(self, since: int) -> common.Tally:
        calls = self._fake.calls[since:]
        return common.Tally.of((route(c), None if c.ok else c.status) for c in calls)


def seed(cast: Cast) -> common.Seed:
    """Members' keys, the server's key and mirroring, as /key set, /key server and
    /mirror enable store them."""
    from bots.discord.deps import channel_ref, server_ref
    from core.refs import Platform, UserId, UserRef

    def person(user_id: int) -> UserRef:
        return UserRef(Platform.DISCORD, UserId(str(user_id)))

    stored = common.Seed({person(user_id): key for user_id, key in cast.user_keys.items()})
    admin, server = person(int(cast.admin["id"])), server_ref(int(cast.guild["id"]))
    if cast.server_key is not None and server is not None:
        stored.chat_keys.append((server, cast.server_key, admin))
    if cast.mirrored:
        stored.mirrored.append((channel_ref(int(cast.channel["id"])), admin))
    return stored


async def run_bot_side(
    fake: DiscordFake,
    host: CheveretoEmulator,
    cast: Cast,
    place: common.BotPlace,
    args: argparse.Namespace,
) -> SideResult:
    from tests.fakes.discord import RateLimits

    fake.rate_limits = RateLimits()
    await common.seed_database(place, host, seed(cast))
    bot = place.bot(fake.env(), host, common.bot_env(args, common.BOT), BOT_READY)
    driver = Driver(fake, host)
    send = partial(
        common.deliver_on_schedule, cast.posts, partial(deliver, fake, cast, driver.tokens)
    )
    result = await common.run_bot(bot, driver, host, send, common.BOT.name, args.window_s)
    mark_messages(fake, host, result)
    return result


async def run_bare_side(
    fake: DiscordFake, host: CheveretoEmulator, cast: Cast, window_s: float
) -> SideResult:
    fake.rate_limits = None  # the bare loop does not pace: nothing to hold it to
    handed, items = [], []
    for post in sorted(cast.posts, key=lambda p: p.offset):  # handed, not read from the gateway
        one, item = await _hand(fake, cast, post)
        handed.append(one)
        items.append(item)
    job = {"api": fake.api_url, "token": fake.token, "upload": host.api_url, "items": items}
    driver = Driver(fake, host)
    result = await common.run_bare("bench.discord", job, handed, driver, host, window_s)
    mark_messages(fake, host, result)
    return result


async def _hand(fake: DiscordFake, cast: Cast, post: Post) -> tuple[Sent, JSON]:
    """An image for the bare loop: attached to a posted message in the channel scenario."""
    assert post.photo is not None
    attachment = fake.add_attachment(post.photo, post.photo.name, "image/png")
    item: JSON = {"url": attachment["url"], "name": attachment["filename"], "key": post.key}
    item |= {"channel": cast.channel["id"], "offset": post.offset, "message": None}
    if post.role == "message":
        posted = [attachment]
        message = await fake.post_message(cast.guild, cast.channel, post.user, attachments=posted)
        item["message"] = message["id"]
        return Sent(post, int(message["id"]), 0.0), item
    return Sent(post, int(attachment["id"]), 0.0), item


def _auth(job: JSON) -> dict[str, str]:
    return {"Authorization": f"Bot {job['token']}"}


async def _bare_warm_up(client: httpx.AsyncClient, job: JSON) -> None:
    await client.get(f"{job['api']}/users/@me", headers=_auth(job))


async def _bare_handle(client: httpx.AsyncClient, job: JSON, item: JSON) -> None:
    body = (await client.get(item["url"])).raise_for_status().content
    viewer = await common.bare_upload(client, job["upload"], item["name"], body, item["key"])
    message: JSON = {"content": f"Uploaded. Viewer: {viewer}"}
    if item["message"] is not None:
        message["message_reference"] = {"message_id": item["message"]}
    url = f"{job['api']}/channels/{item['channel']}/messages"
    (await client.post(url, json=message, headers=_auth(job))).raise_for_status()


# -- one scenario -----------------------------------------------------------------------


async def run_scenario(scenario: Scenario, args: argparse.Namespace) -> list[SideResult]:
    """Fresh fakes; the bot's run, then the bare loop's, each with its own guild."""
    from tests.fakes.discord import DiscordFake

    with common.temporary_root("bench-discord-") as root:
        host = common.host_emulator(args, args.host_latency_ms)
        async with DiscordFake() as fake, host:
            results = []
            for side in (common.BOT, common.BARE):
                size = args.photo_kb * 1000
                cast = scenario.cast(fake, common.Photos(root / side.name, size, side), side)
                host.user_keys |= common.keys_of(cast.posts, cast.user_keys)
                if side is common.BARE:
                    results.append(await run_bare_side(fake, host, cast, args.window_s))
                else:
                    async with common.bot_place(root / "bot", args.database) as place:
                        results.append(await run_bot_side(fake, host, cast, place, args))
    return results


# -- the report -------------------------------------------------------------------------


async def run_one(args: argparse.Namespace, name: str) -> None:
    scenario = SCENARIOS[name]
    bot, bare = await run_scenario(scenario, args)
    rows = common.photo_rows(bot, bare)
    rows.append(("messages posted", bot.extra["posted"], bare.extra["posted"]))
    common.print_report(scenario.title, rows, bot, bare)


def header(args: argparse.Namespace) -> list[str]:
    limits = (
        "Discord fake: message limit (RateLimits(): 5 messages per 5 s per channel; "
        "interaction responses never limited) ON for the bot, OFF for the bare loop (it "
        "does not pace); 3 s to answer an interaction."
    )
    return common.header_lines("Discord", f"{args.host_latency_ms:g} ms late", limits, args)


# -- entry point ------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.discord")
    parser.add_argument("--scenario", choices=[*SCENARIOS, *ALIASES, "all"], default="all")
    common.add_common_arguments(parser)
    args = parser.parse_args(argv)
    args.scenario = ALIASES.get(args.scenario, args.scenario)
    common.check_env_items(parser, args.bot_env, "--bot-env")
    return args


def main() -> None:
    args = parse_args()
    bare = (_bare_warm_up, _bare_handle)
    common.run_benchmark(args, SCENARIOS, partial(run_one, args), bare, partial(header, args))


if __name__ == "__main__":
    main()
