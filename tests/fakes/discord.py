"""A Discord REST API and gateway fake, for end-to-end tests that run the real discord.py.

It serves the REST API (v10), the gateway (a WebSocket) and attachment downloads over
real HTTP on 127.0.0.1 (aiohttp), answering closely enough to Discord that discord.py 2.7
runs against it unmodified::

    async with DiscordFake() as fake:
        discord.http.Route.BASE = fake.api_url                     # f"{base_url}/api/v10"
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
        # (tests: monkeypatch.setattr, so both are restored; the bot reads
        #  DISCORD_API_URL / DISCORD_GATEWAY_URL, see ``fake.env()``)
        await client.login(TOKEN)
        task = asyncio.create_task(client.connect())

Routes (REST under ``/api/v{N}``; answers are JSON with ``Content-Type: application/json``
exactly, errors ``{"message": ..., "code": N}`` plus ``errors`` for 50035)
    ``GET /users/@me``, ``GET /users/{id}``, ``POST /users/@me/channels`` (a DM channel),
    ``GET /gateway``, ``GET /gateway/bot`` (``url`` is this fake's gateway),
    ``GET /oauth2/applications/@me``, ``GET /applications/@me``;
    ``GET|PUT|POST /applications/{app}/commands`` and ``GET|PATCH|DELETE .../commands/{id}``,
    the same under ``/applications/{app}/guilds/{guild}/commands`` (bulk overwrite keeps
    the id of a command whose name and type stay);
    ``POST /interactions/{id}/{token}/callback`` (types 4, 5, 6, 7, 8, 9; ``with_response``
    answers the InteractionCallback object, else 204);
    ``POST /webhooks/{app}/{token}`` (follow-up; ``wait``), ``GET|PATCH|DELETE
    /webhooks/{app}/{token}/messages/{@original|id}``;
    ``GET /channels/{id}``, ``GET|POST /channels/{id}/messages``, ``GET|PATCH|DELETE
    /channels/{id}/messages/{mid}``, ``PUT|DELETE .../messages/{mid}/reactions/{emoji}/@me``,
    ``POST /channels/{id}/typing``; ``GET /guilds/{id}``, ``GET /guilds/{id}/channels``,
    ``GET /guilds/{id}/roles``, ``GET /guilds/{id}/members/{user}``.
    Bodies are JSON or multipart/form-data with ``payload_json`` and ``files[n]`` parts
    (spooled to a temporary directory; a sent file becomes an attachment this fake
    serves). Bot routes want ``Authorization: Bot <token>`` (else 401); interaction and
    webhook routes need none, as on Discord. Unknown routes 404, wrong methods 405.
    ``GET /attachments/{id}/{filename}`` (and ``/proxy/attachments/...``, the proxy_url):
    the bytes of an attachment, streamed from disk for a ``Path``; the URL carries signed
    ``ex``/``is``/``hm`` query parameters like the real CDN, and without a valid ``hm`` the
    answer is 404 ``This content is no longer available.``
    ``GET /`` (WebSocket): the gateway, ``?v=10&encoding=json&compress=zlib-stream``.

Gateway
    HELLO (op 10) on connect; HEARTBEAT (op 1) answered by ACK (op 11); IDENTIFY (op 2)
    checked (wrong token: close 4004; no intents: 4013; privileged intents when
    ``privileged_intents_allowed`` is False: 4014 ``Disallowed intent(s).``; twice: 4005)
    and answered by READY (guilds unavailable, ``session_id``, ``resume_gateway_url`` on
    this fake, ``application {id, flags}``) then one GUILD_CREATE per registered guild
    (roles, channels, every member, ``member_count`` so no chunking is needed). RESUME
    (op 6) replays the events after ``seq`` and sends RESUMED, or INVALID_SESSION
    ``false`` when the session is unknown, was closed by the client with 1000/1001, or
    ``resume_enabled`` is False (discord.py then waits 5 s in ``before_identify_hook``
    before it IDENTIFYs again: override that hook in tests). Note that ``Client.close()``
    under aiohttp 3.14 reaches the server as close code 4000, so its session stays
    resumable, as it would on Discord. REQUEST_GUILD_MEMBERS (op 8) gets one
    GUILD_MEMBERS_CHUNK; PRESENCE_UPDATE (op 3) is recorded. Anything else before
    IDENTIFY closes 4003, unknown ops 4001.
    ``compress=zlib-stream``: one zlib stream per connection, every payload flushed with
    Z_SYNC_FLUSH (ends ``00 00 ff ff``), sent as binary frames; without it, or for
    ``zstd-stream`` (which discord.py asks for when zstandard is installed), text frames,
    which discord.py accepts too. Events are sent to every identified session, each with
    its own sequence; a session whose connection dropped keeps its events for RESUME.

Knobs (plain attributes, settable at any time)
    privileged_intents_allowed  True: the portal switches for members, presences and
                                message content are on; False: IDENTIFY with one closes 4014.
    resume_enabled              True; False answers every RESUME with INVALID_SESSION.
    heartbeat_interval_ms       41250, sent in HELLO.
    max_upload_bytes            10 MiB (an unboosted guild); bigger bodies get 413 40005;
                                also the interactions' ``attachment_size_limit``.
    interaction_response_timeout 3.0 s to call back, then 404 10062 Unknown interaction.
    interaction_token_lifetime  900 s for follow-ups and @original, then 401 50027.
    closed_dms                  user ids whose DMs are closed to the bot: 403 50007.
    clock                       ``time.time``; timestamps and the two limits above.
    fail_next(method, path_regex, status=429, retry_after=0.5, times=1, global_=False,
              code=None, message=None)
                                the next ``times`` matching calls fail before doing
                                anything. 429 answers like Discord (``retry_after`` and
                                ``global`` in the body; ``Retry-After``, ``X-RateLimit-*``
                                and ``Via`` headers, which discord.py needs to retry); other
                                statuses get a usual code (403: 50013 Missing Permissions,
                                404: 10008 Unknown Message, ...) or the one given, e.g.
                                ``status=404, code=10062``.

Registries (each returns what it registered, as Discord's JSON: snowflakes are strings)
    user(id, username, *, locale="en-US", global_name=None, bot=False) -> User
    guild(id, name, *, owner_id, locale="en-US", everyone_permissions=DEFAULT_EVERYONE,
          bot_permissions=DEFAULT_BOT_PERMISSIONS) -> Guild (the bot joins it, with a
          managed role holding ``bot_permissions``; @everyone's role id is the guild id)
    role(guild_id, id, name, permissions=0) -> Role
    channel(guild_id, id, name, *, overwrites=()) -> Channel (text, type 0; overwrites as
          ``{"id", "type": 0 role | 1 member, "allow", "deny"}``)
    dm_channel(user) -> Channel (type 1)
    member(guild_id, user, *, permissions=0, roles=()) -> Member; ``permissions`` go to a
          personal role, so discord.py's own permission maths agrees with the fake's;
          ``member(guild_id, fake.bot_user, permissions=...)`` sets the bot's.
    add_attachment(content: bytes | Path, filename, content_type=None, *, spoiler=False,
          description=None) -> Attachment (a Path is streamed, never loaded whole)
    permissions(guild_id, channel_id, user_id) -> int, as Discord computes them.

Injecting (coroutines: each sends a gateway event and returns what it injected; they
raise RuntimeError while no client has ever identified, and ValueError for what a
Discord client could not send)
    slash_command(guild, channel, user, name, options=None, *, subcommand=None,
                  attachments=None, locale=None) -> Interaction: the command must be
                  synced (its id and, for a guild command, guild_id are filled in);
                  ``options`` a list of option objects or a {name: value} mapping typed
                  from the synced schema (users, channels, roles as dicts get resolved);
                  required and unknown options are checked; ``subcommand`` may be
                  "group sub"; ``locale`` defaults to the user's registered locale.
    message_command(guild, channel, user, name, target_message, *, locale=None)
    press_component(guild, channel, user, message, custom_id, *, values=None): the
                  component must be on the stored message now, enabled; select values
                  must be offered and within min/max.
    submit_modal(guild, channel, user, custom_id, values: {custom_id: str | [str]}): the
                  bot must have opened that modal for that user (type 9 callback); the
                  submission mirrors its action rows or labels; required inputs checked.
    post_message(guild, channel, user, content="", *, attachments=(), embeds=(),
                 reply_to=None) -> Message (stored; MESSAGE_CREATE; ``<@id>`` mentions)
    dispatch(event, data) -> the payload sent; close_gateway(code=4000, message=""),
    request_reconnect() (op 7), guild_payload(guild_id) (a GUILD_CREATE body: a guild
    registered after the client connected needs ``dispatch("GUILD_CREATE", ...)``).
    ``guild`` may be None for DMs (then ``channel`` is a ``dm_channel``).

Inspection
    calls: list[Call] (method, path below the API base, query, json, files, status,
    response, error); calls_to(method, path_regex); ``await wait_for(method, path_regex,
    count=1, timeout=5.0, where=None)``; ``await wait_for_response(interaction)`` ->
    Callback (type, data, files, message); response(interaction); original_response(
    interaction) and followups(interaction) (current messages, edits applied);
    ``await wait_for_followups(interaction, count=1)``; ``await wait_for_message(channel,
    where=None)`` (a new bot message there); messages(channel_id) (everyone's, oldest
    first), bot_messages(channel_id), message(channel_id, message_id), deleted,
    downloads (Download(attachment_id, filename, size, time) per CDN download), commands(
    guild_id=None), identifies, resumes, heartbeats, presences, gateway_requests (each
    connection's query), connections (live ones), ``await wait_ready()``.
    Also: api_url, gateway_url, ws_url, env() (DISCORD_BOT_TOKEN / DISCORD_API_URL /
    DISCORD_GATEWAY_URL for the bot), bot_user, users; module constants TOKEN, BOT_ID,
    APPLICATION_ID, OWNER_ID, Perm and Intent (bit flags), DEFAULT_EVERYONE,
    DEFAULT_BOT_PERMISSIONS, make_token(user_id, tag).

Deliberate simplifications
    - No rate limits unless ``fail_next`` says so; successful answers carry generous
      ``X-RateLimit-*`` headers (limit 50, remaining 49, reset after 1 s). 5xx answers
      make discord.py sleep 1 s, 3 s... before retrying: avoid them in fast tests.
    - One shard. Intents filter only MESSAGE_* events (GUILD_MESSAGES, DIRECT_MESSAGES)
      and, without MESSAGE_CONTENT, guild messages from others that do not mention the
      bot arrive with empty content, embeds, attachments and components (as on Discord).
      Interaction payloads always carry everything. IDENTIFY's own ``compress`` flag is
      ignored (only transport compression is done).
    - The bot's own REST actions come back as MESSAGE_CREATE/UPDATE/DELETE events, as on
      Discord (ephemeral messages do not).
    - After a DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE (5) callback, the first follow-up fills
      the loading @original (keeping the defer's ephemerality), as Discord does: it is the
      @original *and* listed by followups(). A modal's submission must answer a modal the
      bot opened for that user (type 9 callback), mirroring its rows or labels.
    - Checks are the ones a bot trips on: content 2000, 10 embeds / 6000 characters and
      their field limits, 5 action rows of 5 buttons, custom_id 100 and unique, empty
      message (50006), the bot's permissions in the channel (VIEW_CHANNEL 50001,
      SEND_MESSAGES / ATTACH_FILES / MANAGE_MESSAGES 50013), editing another's message
      (50005), ephemeral messages hidden from channel routes (10008), one callback per
      interaction (40060). Components v2 payloads are stored unchecked. Embeds'
      ``attachment://name`` URLs are rewritten to the attachment's URL.
    - Message ids are snowflakes from the clock; everything else (users, guilds, roles,
      channels) keeps the ids the test gives. Attachment URLs do not expire.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import datetime as dt
import enum
import hashlib
import hmac
import itertools
import json
import math
import mimetypes
import re
import secrets
import shutil
import tempfile
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import BodyPartReader, WSMsgType, web

from tests.fakes.chevereto import SNIFF_BYTES, dimensions, sniff
from tests.fakes.server import LocalServer, Spool

JSON = dict[str, Any]
T = TypeVar("T")

MIB = 1024 * 1024
READ_CHUNK = 256 * 1024
DISCORD_EPOCH_MS = 1_420_070_400_000
API_VERSION = 10

BOT_ID = 1_234_567_890_123_456_789
APPLICATION_ID = BOT_ID  # a bot's user id is its application's id
BOT_USERNAME = "picloud-test"
OWNER_ID = 1_100_000_000_000_000_001


def make_token(user_id: int, tag: str = "fAkE00") -> str:
    """A token shaped like Discord's: base64(user id) . 6 characters . 38 characters."""
    head = base64.b64encode(str(user_id).encode()).decode().rstrip("=")
    tail = hashlib.sha256(f"{user_id}:{tag}".encode()).hexdigest()[:38]
    return f"{head}.{tag[:6]:0<6}.{tail}"


TOKEN = make_token(BOT_ID)


class Perm(enum.IntFlag):
    """Permission bits used by the fake and handy in tests."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    SEND_TTS_MESSAGES = 1 << 12
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CHANGE_NICKNAME = 1 << 26
    MANAGE_ROLES = 1 << 28
    USE_APPLICATION_COMMANDS = 1 << 31
    CREATE_PUBLIC_THREADS = 1 << 35
    SEND_MESSAGES_IN_THREADS = 1 << 38
    USE_EXTERNAL_APPS = 1 << 50


ALL_PERMISSIONS = (1 << 51) - 1
DEFAULT_EVERYONE = int(
    Perm.CREATE_INSTANT_INVITE
    | Perm.ADD_REACTIONS
    | Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.USE_EXTERNAL_EMOJIS
    | Perm.CHANGE_NICKNAME
    | Perm.USE_APPLICATION_COMMANDS
    | Perm.CREATE_PUBLIC_THREADS
    | Perm.SEND_MESSAGES_IN_THREADS
    | Perm.USE_EXTERNAL_APPS
)
DEFAULT_BOT_PERMISSIONS = int(
    Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.SEND_MESSAGES_IN_THREADS
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.ADD_REACTIONS
    | Perm.USE_EXTERNAL_EMOJIS
)
# What a bot may do in a DM channel.
DM_PERMISSIONS = int(
    Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.ADD_REACTIONS
    | Perm.USE_EXTERNAL_EMOJIS
    | Perm.USE_APPLICATION_COMMANDS
)
# Without SEND_MESSAGES these go too; without VIEW_CHANNEL, everything.
_NEEDS_SEND = int(Perm.SEND_TTS_MESSAGES | Perm.MENTION_EVERYONE | Perm.EMBED_LINKS)
_NEEDS_SEND |= int(Perm.ATTACH_FILES)


class Intent(enum.IntFlag):
    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    DIRECT_MESSAGES = 1 << 12
    MESSAGE_CONTENT = 1 << 15


PRIVILEGED_INTENTS = int(Intent.GUILD_MEMBERS | Intent.GUILD_PRESENCES | Intent.MESSAGE_CONTENT)
# Application flags: the "limited" intent switches, on for a bot in < 100 guilds.
_APP_FLAGS_PRIVILEGED = (1 << 13) | (1 << 15) | (1 << 19)

# Gateway opcodes
OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE_UPDATE = 3
OP_VOICE_STATE_UPDATE = 4
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_GUILD_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

# Interaction types and callback types
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
CHANNEL_MESSAGE_WITH_SOURCE = 4
DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
APPLICATION_COMMAND_AUTOCOMPLETE_RESULT = 8
MODAL = 9

# Message flags
SUPPRESS_EMBEDS = 1 << 2
EPHEMERAL = 1 << 6
LOADING = 1 << 7
SUPPRESS_NOTIFICATIONS = 1 << 12
IS_COMPONENTS_V2 = 1 << 15
_SETTABLE_FLAGS = SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2
_ATTACHMENT_IS_SPOILER = 1 << 3

# Command option types
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
OPTION_STRING, OPTION_INTEGER, OPTION_BOOLEAN, OPTION_USER = 3, 4, 5, 6
OPTION_CHANNEL, OPTION_ROLE, OPTION_MENTIONABLE, OPTION_NUMBER, OPTION_ATTACHMENT = (
    7,
    8,
    9,
    10,
    11,
)
CHAT_INPUT, USER_COMMAND, MESSAGE_COMMAND = 1, 2, 3

# Component types
ACTION_ROW, BUTTON, STRING_SELECT, TEXT_INPUT = 1, 2, 3, 4
_SELECTS = frozenset({3, 5, 6, 7, 8})
LABEL = 18
LINK_BUTTON_STYLE = 5

_ERRORS = {
    0: "General error",
    10003: "Unknown Channel",
    10004: "Unknown Guild",
    10007: "Unknown Member",
    10008: "Unknown Message",
    10011: "Unknown Role",
    10013: "Unknown User",
    10014: "Unknown Emoji",
    10015: "Unknown Webhook",
    10062: "Unknown interaction",
    10063: "Unknown application command",
    40005: "Request entity too large",
    40060: "Interaction has already been acknowledged.",
    50001: "Missing Access",
    50005: "Cannot edit a message authored by another user",
    50006: "Cannot send an empty message",
    50007: "Cannot send messages to this user",
    50013: "Missing Permissions",
    50027: "Invalid Webhook Token",
    50035: "Invalid Form Body",
}
_STATUS_CODES = {400: 50035, 401: 0, 403: 50013, 404: 10008, 405: 0, 413: 40005}
_STATUS_PHRASES = {
    401: "401: Unauthorized",
    404: "404: Not Found",
    405: "405: Method Not Allowed",
    500: "500: Internal Server Error",
    502: "502: Bad Gateway",
    503: "503: Service Unavailable",
}

_CHAT_COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")
_MENTION = re.compile(r"<@!?([0-9]{1,20})>")
_ATTACHMENT_URL = re.compile(r"^attachment://(.+)$")


class ApiError(Exception):
    """An error answer: HTTP ``status``, Discord's JSON ``code`` and ``message``."""

    def __init__(
        self,
        status: int,
        code: int | None = None,
        message: str | None = None,
        *,
        errors: JSON | None = None,
        retry_after: float | None = None,
        global_: bool = False,
    ) -> None:
        if code is None:
            code = _STATUS_CODES.get(status, 0)
        if message is None:
            message = _STATUS_PHRASES.get(status) if code == 0 else None
            message = message or _ERRORS.get(code, "General error")
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.retry_after = retry_after
        self.global_ = global_

    def body(self) -> JSON:
        if self.status == 429:
            return {
                "message": "You are being rate limited.",
                "retry_after": self.retry_after,
                "global": self.global_,
            }
        body: JSON = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def form_error(path: Iterable[str | int], code: str, message: str) -> ApiError:
    """50035 Invalid Form Body with Discord's nested ``errors`` at ``path``."""
    errors: JSON = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(list(path)):
        errors = {str(key): errors}
    return ApiError(400, 50035, errors=errors)


def too_long(path: Iterable[str | int], limit: int) -> ApiError:
    return form_error(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def bad_length(path: Iterable[str | int], low: int, high: int) -> ApiError:
    return form_error(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request, spooled to ``path`` (kept until stop)."""

    field: str
    filename: str | None
    size: int
    content_type: str | None
    path: Path

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()


@dataclass
class Call:
    """One REST call: ``path`` below the API base (``/channels/1/messages``), the JSON
    body (``payload_json`` for multipart), spooled files, and what was answered."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[UploadedFile]
    time: float
    status: int = 0
    response: Any = None
    error: JSON | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class Callback:
    """An interaction's initial response (``POST /interactions/{id}/{token}/callback``)."""

    interaction_id: str
    type: int
    data: JSON
    files: list[UploadedFile]
    time: float
    message: JSON | None = None  # the message it created or updated, as answered

    @property
    def ephemeral(self) -> bool:
        return bool(int(self.data.get("flags") or 0) & EPHEMERAL)


@dataclass(frozen=True)
class Download:
    """One attachment served by the CDN route (``size`` is the whole file's)."""

    attachment_id: str
    filename: str
    size: int
    time: float


@dataclass
class _Attachment:
    json: JSON
    content: bytes | Path = field(repr=False)


@dataclass
class _Interaction:
    payload: JSON
    created: float
    callback: Callback | None = None
    acknowledged: bool = False  # set before the callback's work, against double answers
    original: tuple[int, int] | None = None  # (channel id, message id)
    loading: bool = False
    followups: list[int] = field(default_factory=list)


@dataclass
class _Failure:
    method: str
    pattern: re.Pattern[str]
    error: ApiError
    times: int


@dataclass
class _Session:
    id: str
    intents: int
    identify: JSON
    seq: int = 0
    events: list[JSON] = field(default_factory=list)
    connection: _Connection | None = None
    resumable: bool = True


class _Connection:
    """One gateway WebSocket: its compression stream and (once identified) its session."""

    def __init__(self, ws: web.WebSocketResponse, compress: bool) -> None:
        self.ws = ws
        self._compressor = zlib.compressobj() if compress else None
        self._lock = asyncio.Lock()
        self.session: _Session | None = None
        self.closed_by_server = False

    async def send(self, payload: JSON) -> None:
        text = json.dumps(payload, separators=(",", ":"))
        async with self._lock:
            if self.ws.closed:
                return
            if self._compressor is None:
                await self.ws.send_str(text)
            else:
                data = self._compressor.compress(text.encode())
                data += self._compressor.flush(zlib.Z_SYNC_FLUSH)
                await self.ws.send_bytes(data)

    async def close(self, code: int, message: str) -> None:
        self.closed_by_server = True
        await self.ws.close(code=code, message=message.encode())


@dataclass
class _Request:
    call: Call
    match: dict[str, str]
    uploads: list[UploadedFile]
    auth: str | None

    @property
    def body(self) -> JSON:
        return self.call.json if isinstance(self.call.json, dict) else {}

    def flag(self, name: str) -> bool:
        return self.call.query.get(name, "").lower() in ("1", "true")


_Handler = Callable[[_Request], Awaitable[Any]]


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: _Handler
    bot_auth: bool


class _NoContent:
    """A handler's answer for 204 No Content."""


NO_CONTENT = _NoContent()


# --- small helpers ---------------------------------------------------------------------------


def _sid(value: Any) -> str:
    """A snowflake as Discord writes it in JSON: a string."""
    return str(value)


def _id_of(value: JSON | int | str) -> int:
    return int(value["id"]) if isinstance(value, dict) else int(value)


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat()


def _json_response(
    status: int, body: Any, headers: Mapping[str, str] | None = None
) -> web.Response:
    # discord.py parses JSON only when Content-Type is exactly "application/json".
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(status=status, body=json.dumps(body).encode(), headers=all_headers)


def _walk_components(components: Iterable[JSON]) -> Iterator[JSON]:
    """Every component, nested ones included (rows, sections, containers, labels)."""
    for component in components:
        yield component
        yield from _walk_components(component.get("components") or [])
        for key in ("accessory", "component"):
            inner = component.get(key)
            if isinstance(inner, dict):
                yield from _walk_components([inner])


def _check_select(component: JSON, values: list[str]) -> list[str]:
    """The values a user can pick in this select (the client enforces these)."""
    custom_id = component.get("custom_id")
    low = int(component.get("min_values", 1))
    high = int(component.get("max_values", 1))
    if not low <= len(values) <= high:
        raise ValueError(f"select {custom_id!r} takes {low} to {high} values, not {values}")
    options = [o["value"] for o in component.get("options") or []]
    if component.get("type") == STRING_SELECT and not set(values) <= set(options):
        raise ValueError(f"select {custom_id!r} offers {options}, not {values}")
    return values


def _read_head(content: bytes | Path) -> bytes:
    if isinstance(content, bytes):
        return content[:SNIFF_BYTES]
    with content.open("rb") as source:
        return source.read(SNIFF_BYTES)


def _media_fields(content: bytes | Path, filename: str, content_type: str | None) -> JSON:
    """content_type (sniffed, else from the name) and an image's width and height."""
    head = _read_head(content)
    found = sniff(head)
    fields: JSON = {}
    if content_type is None:
        content_type = found.mime if found else mimetypes.guess_type(filename)[0]
    if content_type is not None:
        fields["content_type"] = content_type
    if found is not None and found.kind == "image":
        fields["width"], fields["height"] = dimensions(found, head)
    return fields


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(seconds, 0)):
            await event.wait()


# --- the fake --------------------------------------------------------------------------------


class DiscordFake(LocalServer):
    """Discord's REST API, gateway and CDN on 127.0.0.1 for one bot; see the module docstring."""

    def __init__(
        self,
        token: str = TOKEN,
        *,
        bot_id: int = BOT_ID,
        application_id: int | None = None,
        bot_username: str = BOT_USERNAME,
    ) -> None:
        super().__init__()
        self.token = token
        self.bot_id = bot_id
        self.application_id = application_id or bot_id
        self.bot_user: JSON = {
            "id": _sid(bot_id),
            "username": bot_username,
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "bot": True,
            "public_flags": 0,
        }
        # knobs
        self.privileged_intents_allowed = True
        self.resume_enabled = True
        self.heartbeat_interval_ms = 41_250
        self.max_upload_bytes = 10 * MIB
        self.interaction_response_timeout = 3.0
        self.interaction_token_lifetime = 15 * 60.0
        self.closed_dms: set[int] = set()
        self.clock: Callable[[], float] = time.time
        # registries
        self.users: dict[int, JSON] = {bot_id: self.bot_user}
        self._locales: dict[int, str] = {}
        self._guilds: dict[int, JSON] = {}
        self._roles: dict[int, dict[int, JSON]] = {}  # guild -> role id -> Role
        self._members: dict[int, dict[int, JSON]] = {}  # guild -> user id -> Member
        self._personal_roles: dict[tuple[int, int], int] = {}  # (guild, user) -> role id
        self._channels: dict[int, JSON] = {}
        self._dm_by_user: dict[int, int] = {}
        self._attachments: dict[int, _Attachment] = {}
        self._cdn_secret = secrets.token_bytes(16)
        # messages: channel id -> message id -> Message (insertion order is age)
        self._messages: dict[int, dict[int, JSON]] = {}
        self._last_snowflake = 0
        self._increment = itertools.count()
        # application commands: None -> global, guild id -> that guild's
        self._commands: dict[int | None, list[JSON]] = {}
        # interactions by id and by token
        self._interactions: dict[int, _Interaction] = {}
        self._by_token: dict[str, _Interaction] = {}
        self._failures: list[_Failure] = []
        # gateway
        self._sessions: dict[str, _Session] = {}
        self.connections: set[_Connection] = set()
        self.identifies: list[JSON] = []
        self.resumes: list[JSON] = []
        self.presences: list[JSON] = []
        self.heartbeats = 0
        self.gateway_requests: list[dict[str, str]] = []  # each connection's query
        # inspection
        self.calls: list[Call] = []
        self.deleted: list[tuple[int, int]] = []
        self.downloads: list[Download] = []
        self._changed = asyncio.Event()
        self._routes = self._route_table()
        self._spool_dir: Path | None = None

    # lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._spool_dir = Path(tempfile.mkdtemp(prefix="discord-fake-"))
        await super().start(host, port)

    async def stop(self) -> None:
        for connection in list(self.connections):
            with contextlib.suppress(Exception):
                await connection.close(1001, "Going away")
        await super().stop()
        if self._spool_dir is not None:
            shutil.rmtree(self._spool_dir, ignore_errors=True)
            self._spool_dir = None

    @property
    def api_url(self) -> str:
        """discord.py's ``Route.BASE``."""
        return f"{self.base_url}/api/v{API_VERSION}"

    @property
    def ws_url(self) -> str:
        return "ws" + self.base_url.removeprefix("http")

    @property
    def gateway_url(self) -> str:
        """For ``DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)``."""
        return f"{self.ws_url}/"

    def env(self) -> dict[str, str]:
        """The bot's environment for this fake (token, REST base, gateway)."""
        return {
            "DISCORD_BOT_TOKEN": self.token,
            "DISCORD_API_URL": self.api_url,
            "DISCORD_GATEWAY_URL": self.gateway_url,
        }

    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 31)
        app.router.add_get("/", self._gateway)
        app.router.add_get("/attachments/{id}/{filename}", self._download)
        app.router.add_get("/proxy/attachments/{id}/{filename}", self._download)
        app.router.add_route("*", r"/api/v{version:[0-9]+}/{path:.*}", self._endpoint)
        return app

    # knobs

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int = 429,
        retry_after: float = 0.5,
        times: int = 1,
        global_: bool = False,
        *,
        code: int | None = None,
        message: str | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` whose path matches fail."""
        if status == 429:
            error = ApiError(429, 0, "You are being rate limited.", retry_after=retry_after)
            error.global_ = global_
        else:
            error = ApiError(status, code, message)
        self._failures.append(_Failure(method.upper(), re.compile(path_regex), error, times))

    # registries

    def user(
        self,
        id: int,
        username: str,
        *,
        locale: str = "en-US",
        global_name: str | None = None,
        bot: bool = False,
    ) -> JSON:
        user: JSON = {
            "id": _sid(id),
            "username": username,
            "discriminator": "0",
            "global_name": global_name,
            "avatar": None,
            "public_flags": 0,
        }
        if bot:
            user["bot"] = True
        self.users[id] = user
        self._locales[id] = locale
        return copy.deepcopy(user)

    def guild(
        self,
        id: int,
        name: str,
        *,
        owner_id: int,
        locale: str = "en-US",
        everyone_permissions: int = DEFAULT_EVERYONE,
        bot_permissions: int = DEFAULT_BOT_PERMISSIONS,
    ) -> JSON:
        """A guild the bot is in; its @everyone role has the guild's id."""
        guild: JSON = {
            "id": _sid(id),
            "name": name,
            "icon": None,
            "owner_id": _sid(owner_id),
            "preferred_locale": locale,
            "features": [],
        }
        self._guilds[id] = guild
        self._roles[id] = {}
        self._members[id] = {}
        self.role(id, id, "@everyone", everyone_permissions)
        self._join(id, self.bot_user)
        self.member(id, self.bot_user, permissions=bot_permissions)
        return copy.deepcopy(guild)

    def role(self, guild_id: int, id: int, name: str, permissions: int = 0) -> JSON:
        roles = self._guild_roles(guild_id)
        role: JSON = {
            "id": _sid(id),
            "name": name,
            "permissions": str(int(permissions)),
            "position": 0 if id == guild_id else len(roles),
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }
        roles[id] = role
        return copy.deepcopy(role)

    def channel(
        self, guild_id: int, id: int, name: str, *, overwrites: Iterable[JSON] = ()
    ) -> JSON:
        """A text channel (type 0) in a registered guild."""
        self._guild(guild_id)
        channel: JSON = {
            "id": _sid(id),
            "type": 0,
            "guild_id": _sid(guild_id),
            "name": name,
            "position": sum(1 for c in self._channels.values() if c.get("guild_id")),
            "permission_overwrites": [
                {
                    "id": _sid(o["id"]),
                    "type": int(o.get("type", 0)),
                    "allow": str(int(o.get("allow", 0))),
                    "deny": str(int(o.get("deny", 0))),
                }
                for o in overwrites
            ],
            "topic": None,
            "nsfw": False,
            "parent_id": None,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
        }
        self._channels[id] = channel
        self._messages.setdefault(id, {})
        return copy.deepcopy(channel)

    def dm_channel(self, user: JSON) -> JSON:
        """The DM channel between the bot and ``user`` (made on first use)."""
        user_id = _id_of(user)
        self.users.setdefault(user_id, user)
        existing = self._dm_by_user.get(user_id)
        if existing is not None:
            return copy.deepcopy(self._channels[existing])
        channel: JSON = {
            "id": _sid(self._snowflake()),
            "type": 1,
            "last_message_id": None,
            "flags": 0,
            "recipients": [self.users[user_id]],
        }
        self._channels[int(channel["id"])] = channel
        self._messages.setdefault(int(channel["id"]), {})
        self._dm_by_user[user_id] = int(channel["id"])
        return copy.deepcopy(channel)

    def member(
        self,
        guild_id: int,
        user: JSON,
        *,
        permissions: int = 0,
        roles: Iterable[int] = (),
    ) -> JSON:
        """Make ``user`` a member (or update one): ``permissions`` go to a personal role."""
        user_id = _id_of(user)
        self.users.setdefault(user_id, user)
        member = self._join(guild_id, user)
        guild_roles = self._guild_roles(guild_id)
        wanted = [int(role) for role in roles]
        for role_id in wanted:
            if role_id not in guild_roles:
                raise ValueError(f"no role {role_id} in guild {guild_id}; register it first")
        personal = self._personal_roles.get((guild_id, user_id))
        if permissions:
            if personal is None:
                personal = self._snowflake()
                self._personal_roles[(guild_id, user_id)] = personal
                name = f"{user['username']} role"
                if user_id == self.bot_id:
                    name = str(self.bot_user["username"])
                self.role(guild_id, personal, name)
                if user_id == self.bot_id:
                    guild_roles[personal]["managed"] = True
                    guild_roles[personal]["tags"] = {"bot_id": _sid(self.bot_id)}
            guild_roles[personal]["permissions"] = str(int(permissions))
            wanted.append(personal)
        elif personal is not None:
            guild_roles[personal]["permissions"] = "0"
        member["roles"] = [_sid(role) for role in dict.fromkeys(wanted)]
        return self._member_json(guild_id, user_id)

    def _join(self, guild_id: int, user: JSON) -> JSON:
        members = self._members.setdefault(guild_id, {})
        user_id = _id_of(user)
        if user_id not in members:
            members[user_id] = {
                "roles": [],
                "joined_at": _iso(self.clock()),
                "nick": None,
                "avatar": None,
                "banner": None,
                "premium_since": None,
                "deaf": False,
                "mute": False,
                "flags": 0,
                "pending": False,
                "communication_disabled_until": None,
            }
        return members[user_id]

    def add_attachment(
        self,
        content: bytes | Path,
        filename: str,
        content_type: str | None = None,
        *,
        spoiler: bool = False,
        description: str | None = None,
    ) -> JSON:
        """Register a file as an attachment served by this fake; a Path is streamed."""
        if spoiler and not filename.startswith("SPOILER_"):
            filename = f"SPOILER_{filename}"
        size = content.stat().st_size if isinstance(content, Path) else len(content)
        attachment_id = self._snowflake()
        url_path = f"attachments/{attachment_id}/{filename}"
        query = self._signature(attachment_id, filename)
        attachment: JSON = {
            "id": _sid(attachment_id),
            "filename": filename,
            "size": size,
            "url": f"{self.base_url}/{url_path}?{query}",
            "proxy_url": f"{self.base_url}/proxy/{url_path}?{query}",
            **_media_fields(content, filename, content_type),
        }
        if description is not None:
            attachment["description"] = description
        if spoiler:
            attachment["flags"] = _ATTACHMENT_IS_SPOILER
        self._attachments[attachment_id] = _Attachment(attachment, content)
        return copy.deepcopy(attachment)

    def _signature(self, attachment_id: int, filename: str) -> str:
        issued = int(self.clock())
        expires = issued + 24 * 3600
        digest = self._cdn_hash(attachment_id, filename, f"{expires:x}", f"{issued:x}")
        return f"ex={expires:x}&is={issued:x}&hm={digest}&"

    def _cdn_hash(self, attachment_id: int, filename: str, ex: str, is_: str) -> str:
        text = f"{attachment_id}/{filename}:{ex}:{is_}".encode()
        return hmac.new(self._cdn_secret, text, hashlib.sha256).hexdigest()

    # registry lookups

    def _guild(self, guild_id: int) -> JSON:
        guild = self._guilds.get(guild_id)
        if guild is None:
            raise ValueError(f"no guild {guild_id}; register it with fake.guild()")
        return guild

    def _guild_roles(self, guild_id: int) -> dict[int, JSON]:
        self._guild(guild_id)
        return self._roles[guild_id]

    def _member_json(self, guild_id: int, user_id: int, *, with_user: bool = True) -> JSON:
        member = copy.deepcopy(self._members[guild_id][user_id])
        if with_user:
            member["user"] = copy.deepcopy(self.users[user_id])
        return member

    def permissions(self, guild_id: int, channel_id: int | None, user_id: int) -> int:
        """A member's permissions in a channel (or the guild), as Discord computes them."""
        guild = self._guild(guild_id)
        if int(guild["owner_id"]) == user_id:
            return ALL_PERMISSIONS
        roles = self._roles[guild_id]
        member = self._members.get(guild_id, {}).get(user_id)
        member_roles = [int(r) for r in member["roles"]] if member else []
        perms = int(roles[guild_id]["permissions"])
        for role_id in member_roles:
            if role_id in roles:
                perms |= int(roles[role_id]["permissions"])
        if perms & Perm.ADMINISTRATOR:
            return ALL_PERMISSIONS
        channel = self._channels.get(channel_id) if channel_id is not None else None
        if channel is not None:
            overwrites = {int(o["id"]): o for o in channel.get("permission_overwrites", [])}
            everyone = overwrites.get(guild_id)
            if everyone is not None:
                perms = (perms & ~int(everyone["deny"])) | int(everyone["allow"])
            allow = deny = 0
            for role_id in member_roles:
                overwrite = overwrites.get(role_id)
                if overwrite is not None and overwrite["type"] == 0:
                    allow |= int(overwrite["allow"])
                    deny |= int(overwrite["deny"])
            perms = (perms & ~deny) | allow
            own = overwrites.get(user_id)
            if own is not None and own["type"] == 1:
                perms = (perms & ~int(own["deny"])) | int(own["allow"])
            if not perms & Perm.VIEW_CHANNEL:
                return 0
            if not perms & Perm.SEND_MESSAGES:
                perms &= ~_NEEDS_SEND
        return perms

    def _bot_permissions(self, channel: JSON) -> int:
        guild_id = channel.get("guild_id")
        if guild_id is None:
            return DM_PERMISSIONS
        return self.permissions(int(guild_id), int(channel["id"]), self.bot_id)

    def _snowflake(self) -> int:
        ms = int(self.clock() * 1000) - DISCORD_EPOCH_MS
        value = (max(ms, 0) << 22) | (next(self._increment) & 0xFFF)
        value = max(value, self._last_snowflake + 1)
        self._last_snowflake = value
        return value

    # payloads

    def guild_payload(self, guild_id: int) -> JSON:
        """A GUILD_CREATE body: roles, channels and every registered member."""
        guild = self._guild(guild_id)
        channels = [
            {k: v for k, v in c.items() if k != "guild_id"}
            for c in self._channels.values()
            if c.get("guild_id") == guild["id"]
        ]
        members = [self._member_json(guild_id, uid) for uid in self._members[guild_id]]
        return copy.deepcopy(
            {
                **guild,
                "unavailable": False,
                "large": False,
                "lazy": True,
                "joined_at": members[0]["joined_at"] if members else _iso(self.clock()),
                "member_count": len(members),
                "members": members,
                "channels": channels,
                "roles": list(self._roles[guild_id].values()),
                "threads": [],
                "presences": [],
                "voice_states": [],
                "emojis": [],
                "stickers": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
                "afk_timeout": 300,
                "afk_channel_id": None,
                "system_channel_id": None,
                "system_channel_flags": 0,
                "rules_channel_id": None,
                "public_updates_channel_id": None,
                "safety_alerts_channel_id": None,
                "verification_level": 0,
                "default_message_notifications": 0,
                "explicit_content_filter": 0,
                "mfa_level": 0,
                "nsfw_level": 0,
                "premium_tier": 0,
                "premium_subscription_count": 0,
                "premium_progress_bar_enabled": False,
                "max_members": 500_000,
                "max_video_channel_users": 25,
                "vanity_url_code": None,
                "description": None,
                "banner": None,
                "splash": None,
                "discovery_splash": None,
                "application_id": None,
                "incidents_data": None,
            }
        )

    def _me(self) -> JSON:
        return {
            **self.bot_user,
            "verified": True,
            "mfa_enabled": False,
            "flags": 0,
            "email": None,
            "locale": "en-US",
            "banner": None,
            "accent_color": None,
        }

    def _application(self) -> JSON:
        flags = _APP_FLAGS_PRIVILEGED if self.privileged_intents_allowed else 0
        owner = self.users.get(OWNER_ID) or {
            "id": _sid(OWNER_ID),
            "username": "app-owner",
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "public_flags": 0,
        }
        return {
            "id": _sid(self.application_id),
            "name": self.bot_user["username"],
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot": self.bot_user,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": hashlib.sha256(self.token.encode()).hexdigest(),
            "flags": flags,
            "owner": owner,
            "team": None,
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": len(self._guilds),
            "integration_types_config": {"0": {}},
            "tags": [],
        }

    # --- injecting -----------------------------------------------------------------------

    async def dispatch(self, event: str, data: JSON) -> JSON:
        """Send a dispatch (op 0) to every session, with its next sequence number."""
        self._require_session()
        return await self._broadcast(event, data)

    def _require_session(self) -> None:
        # A session whose connection dropped still counts: RESUME replays its events.
        if not self._sessions:
            raise RuntimeError("no gateway session: connect a client (await fake.wait_ready())")

    async def _broadcast(self, event: str, data: JSON) -> JSON:
        """Like dispatch, but quietly nothing without sessions (REST used alone)."""
        payload: JSON = {"op": OP_DISPATCH, "t": event, "s": None, "d": data}
        for session in list(self._sessions.values()):
            shown = self._for_session(session, event, data)
            if shown is None:
                continue
            session.seq += 1
            sent = {"op": OP_DISPATCH, "t": event, "s": session.seq, "d": shown}
            session.events.append(sent)
            payload = sent
            if session.connection is not None:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await session.connection.send(sent)
        return payload

    def _for_session(self, session: _Session, event: str, data: JSON) -> JSON | None:
        """``data`` as this session sees it (intents), or None if not sent to it."""
        if not event.startswith("MESSAGE_") or event.startswith("MESSAGE_REACTION"):
            return data
        in_guild = "guild_id" in data
        needed = Intent.GUILD_MESSAGES if in_guild else Intent.DIRECT_MESSAGES
        if not session.intents & needed:
            return None
        if event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE") or not in_guild:
            return data
        if session.intents & Intent.MESSAGE_CONTENT:
            return data
        author = (data.get("author") or {}).get("id")
        mentioned = any(u.get("id") == self.bot_user["id"] for u in data.get("mentions", []))
        if author == self.bot_user["id"] or mentioned:
            return data
        stripped = dict(data)
        stripped.update({"content": "", "embeds": [], "attachments": [], "components": []})
        stripped.pop("poll", None)
        return stripped

    async def slash_command(
        self,
        guild: JSON | None,
        channel: JSON,
        user: JSON,
        name: str,
        options: list[JSON] | Mapping[str, Any] | None = None,
        *,
        subcommand: str | None = None,
        attachments: Mapping[str, JSON] | None = None,
        locale: str | None = None,
    ) -> JSON:
        """``/name [subcommand] options...`` used by ``user``: INTERACTION_CREATE type 2.

        ``options`` is a list of option objects as Discord sends them, or a mapping of
        name to value whose types come from the synced command. ``attachments`` maps
        attachment option names to ``add_attachment`` results. ``subcommand`` may be
        ``"group sub"``. The command must have been synced (PUT .../commands).
        """
        guild_id = None if guild is None else _id_of(guild)
        command = self._find_command(name, CHAT_INPUT, guild_id)
        schema: list[JSON] = command.get("options", [])
        path = subcommand.split() if subcommand else []
        for part in path:
            found = next((o for o in schema if o["name"] == part), None)
            if found is None or found["type"] not in (SUB_COMMAND, SUB_COMMAND_GROUP):
                raise ValueError(f"/{name} has no subcommand {part!r}")
            schema = found.get("options", [])
        resolved: JSON = {}
        built = self._build_options(schema, options, attachments or {}, resolved, guild_id)
        for part, kind in reversed(list(zip(path, self._path_kinds(command, path), strict=True))):
            built = [{"name": part, "type": kind, "options": built}]
        data: JSON = {"id": command["id"], "name": name, "type": CHAT_INPUT}
        if built:
            data["options"] = built
        if resolved:
            data["resolved"] = resolved
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        return await self._interact(APPLICATION_COMMAND, guild, channel, user, data, locale=locale)

    @staticmethod
    def _path_kinds(command: JSON, path: list[str]) -> list[int]:
        kinds, schema = [], command.get("options", [])
        for part in path:
            found = next(o for o in schema if o["name"] == part)
            kinds.append(int(found["type"]))
            schema = found.get("options", [])
        return kinds

    def _build_options(
        self,
        schema: list[JSON],
        options: list[JSON] | Mapping[str, Any] | None,
        attachments: Mapping[str, JSON],
        resolved: JSON,
        guild_id: int | None,
    ) -> list[JSON]:
        by_name = {o["name"]: o for o in schema}
        built: list[JSON] = []
        if isinstance(options, Mapping):
            for key, value in options.items():
                option = by_name.get(key)
                if option is None:
                    raise ValueError(f"no option {key!r}; the command has {sorted(by_name)}")
                built.append(self._option_value(option, value, resolved, guild_id))
        elif options:
            for given in options:
                if given.get("name") not in by_name:
                    raise ValueError(f"no option {given.get('name')!r}; have {sorted(by_name)}")
                built.append(copy.deepcopy(given))
        for key, attachment in attachments.items():
            option = by_name.get(key)
            if option is None or option["type"] != OPTION_ATTACHMENT:
                raise ValueError(f"no attachment option {key!r}; the command has {sorted(by_name)}")
            built.append(self._option_value(option, attachment, resolved, guild_id))
        given_names = {o["name"] for o in built}
        missing = [o["name"] for o in schema if o.get("required") and o["name"] not in given_names]
        if missing:
            raise ValueError(f"required options missing: {missing}")
        return built

    def _option_value(self, option: JSON, value: Any, resolved: JSON, guild_id: int | None) -> JSON:
        kind = int(option["type"])
        out: JSON = {"name": option["name"], "type": kind}
        if kind == OPTION_ATTACHMENT:
            attachment = {**copy.deepcopy(value), "ephemeral": True}
            resolved.setdefault("attachments", {})[attachment["id"]] = attachment
            out["value"] = attachment["id"]
        elif kind in (OPTION_USER, OPTION_MENTIONABLE) and isinstance(value, dict):
            user_id = _id_of(value)
            resolved.setdefault("users", {})[_sid(user_id)] = copy.deepcopy(value)
            if guild_id is not None and user_id in self._members.get(guild_id, {}):
                member = self._member_json(guild_id, user_id, with_user=False)
                member["permissions"] = str(self.permissions(guild_id, None, user_id))
                resolved.setdefault("members", {})[_sid(user_id)] = member
            out["value"] = _sid(user_id)
        elif kind == OPTION_CHANNEL and isinstance(value, dict):
            channel = {k: value[k] for k in ("id", "name", "type") if k in value}
            channel["permissions"] = str(self._bot_permissions(value))
            resolved.setdefault("channels", {})[_sid(value["id"])] = channel
            out["value"] = _sid(value["id"])
        elif kind == OPTION_ROLE and isinstance(value, dict):
            resolved.setdefault("roles", {})[_sid(value["id"])] = copy.deepcopy(value)
            out["value"] = _sid(value["id"])
        elif kind == OPTION_INTEGER:
            out["value"] = int(value)
        elif kind == OPTION_NUMBER:
            out["value"] = float(value)
        elif kind == OPTION_BOOLEAN:
            out["value"] = bool(value)
        else:
            out["value"] = value if kind != OPTION_STRING else str(value)
        return out

    async def message_command(
        self,
        guild: JSON | None,
        channel: JSON,
        user: JSON,
        name: str,
        target_message: JSON,
        *,
        locale: str | None = None,
    ) -> JSON:
        """The message context-menu command ``name`` used on ``target_message``."""
        guild_id = None if guild is None else _id_of(guild)
        command = self._find_command(name, MESSAGE_COMMAND, guild_id)
        channel_id = _id_of(channel)
        target = self._messages.get(channel_id, {}).get(int(target_message["id"]))
        target = copy.deepcopy(target if target is not None else target_message)
        target.pop("guild_id", None)
        target.pop("member", None)
        data: JSON = {
            "id": command["id"],
            "name": name,
            "type": MESSAGE_COMMAND,
            "target_id": target["id"],
            "resolved": {"messages": {target["id"]: target}},
        }
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        return await self._interact(APPLICATION_COMMAND, guild, channel, user, data, locale=locale)

    async def press_component(
        self,
        guild: JSON | None,
        channel: JSON,
        user: JSON,
        message: JSON,
        custom_id: str,
        *,
        values: list[str] | None = None,
    ) -> JSON:
        """``user`` presses the button (or picks ``values`` in the select) ``custom_id``."""
        channel_id = _id_of(channel)
        current = self._messages.get(channel_id, {}).get(int(message["id"]))
        if current is None:
            raise ValueError(f"no message {message['id']} in channel {channel_id}")
        component = next(
            (
                c
                for c in _walk_components(current.get("components", []))
                if c.get("custom_id") == custom_id
            ),
            None,
        )
        if component is None:
            raise ValueError(f"message {message['id']} has no component {custom_id!r}")
        if component.get("disabled"):
            raise ValueError(f"component {custom_id!r} is disabled")
        kind = int(component["type"])
        data: JSON = {"custom_id": custom_id, "component_type": kind}
        if kind in _SELECTS:
            data["values"] = _check_select(component, list(values or []))
        elif values is not None:
            raise ValueError(f"{custom_id!r} is a button, not a select")
        return await self._interact(
            MESSAGE_COMPONENT, guild, channel, user, data, message=copy.deepcopy(current)
        )

    async def submit_modal(
        self,
        guild: JSON | None,
        channel: JSON,
        user: JSON,
        custom_id: str,
        values: Mapping[str, str | list[str]],
    ) -> JSON:
        """``user`` submits the modal ``custom_id`` the bot opened for them."""
        opened = None
        for interaction in reversed(self._interactions.values()):
            callback = interaction.callback
            who = interaction.payload.get("member", interaction.payload).get("user", {})
            if (
                callback is not None
                and callback.type == MODAL
                and callback.data.get("custom_id") == custom_id
                and who.get("id") == _sid(_id_of(user))
            ):
                opened = interaction
                break
        if opened is None or opened.callback is None:
            raise ValueError(f"no modal {custom_id!r} was opened for user {user['id']}")
        rows = self._modal_submission(opened.callback.data.get("components", []), values)
        data: JSON = {"custom_id": custom_id, "components": rows}
        message = opened.payload.get("message")
        return await self._interact(
            MODAL_SUBMIT, guild, channel, user, data, message=copy.deepcopy(message)
        )

    @staticmethod
    def _modal_submission(
        components: list[JSON], values: Mapping[str, str | list[str]]
    ) -> list[JSON]:
        known = {c["custom_id"] for c in _walk_components(components) if "custom_id" in c}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"the modal has no inputs {unknown}; it has {sorted(known)}")

        def answer(component: JSON) -> JSON:
            custom_id = component["custom_id"]
            out: JSON = {"type": component["type"], "custom_id": custom_id}
            if "id" in component:
                out["id"] = component["id"]
            value = values.get(custom_id)
            if component["type"] == TEXT_INPUT:
                text = "" if value is None else str(value)
                if component.get("required", True) and not text:
                    raise ValueError(f"text input {custom_id!r} is required")
                if len(text) > int(component.get("max_length", 4000)):
                    raise ValueError(f"text input {custom_id!r} is too long")
                out["value"] = text
            else:
                picked = [value] if isinstance(value, str) else list(value or [])
                if not picked and not component.get("required", True):
                    out["values"] = picked
                    return out
                out["values"] = _check_select(component, picked)
            return out

        rows: list[JSON] = []
        for component in components:
            if component["type"] == ACTION_ROW:
                inner = [answer(c) for c in component.get("components", [])]
                rows.append({"type": ACTION_ROW, "components": inner})
            elif component["type"] == LABEL:
                row: JSON = {"type": LABEL, "component": answer(component["component"])}
                if "id" in component:
                    row["id"] = component["id"]
                rows.append(row)
            else:
                rows.append({k: v for k, v in component.items() if k in ("type", "id")})
        return rows

    async def post_message(
        self,
        guild: JSON | None,
        channel: JSON,
        user: JSON,
        content: str = "",
        *,
        attachments: Iterable[JSON] = (),
        embeds: Iterable[JSON] = (),
        reply_to: JSON | None = None,
    ) -> JSON:
        """``user`` posts a message: stored, then MESSAGE_CREATE (content per intents)."""
        self._require_session()
        channel_json = self._channels.get(_id_of(channel))
        if channel_json is None:
            raise ValueError(f"no channel {channel['id']}; register it with fake.channel()")
        if guild is not None:
            self._join(_id_of(guild), user)
        self.users.setdefault(_id_of(user), user)
        fields: JSON = {
            "content": content,
            "attachments": [copy.deepcopy(a) for a in attachments],
            "embeds": [copy.deepcopy(e) for e in embeds],
        }
        reference = None
        if reply_to is not None:
            reference = {"message_id": reply_to["id"], "channel_id": channel_json["id"]}
        message = self._new_message(channel_json, self.users[_id_of(user)], fields, reference)
        await self._broadcast("MESSAGE_CREATE", self._event_message(message))
        return self._event_message(message)

    async def _interact(
        self,
        kind: int,
        guild: JSON | None,
        channel: JSON,
        user: JSON,
        data: JSON,
        *,
        message: JSON | None = None,
        locale: str | None = None,
    ) -> JSON:
        self._require_session()
        user_id = _id_of(user)
        self.users.setdefault(user_id, user)
        channel_json = self._channels.get(_id_of(channel))
        if channel_json is None:
            raise ValueError(f"no channel {channel['id']}; register it first")
        interaction_id = self._snowflake()
        token = f"aW50ZXJhY3Rpb246{interaction_id}:{secrets.token_urlsafe(48)}"
        payload: JSON = {
            "id": _sid(interaction_id),
            "application_id": _sid(self.application_id),
            "type": kind,
            "data": data,
            "token": token,
            "version": 1,
            "locale": locale or self._locales.get(user_id, "en-US"),
            "entitlements": [],
            "attachment_size_limit": self.max_upload_bytes,
            "channel_id": channel_json["id"],
            "channel": copy.deepcopy(channel_json),
            "app_permissions": str(self._bot_permissions(channel_json)),
        }
        if guild is not None:
            guild_id = _id_of(guild)
            guild_json = self._guild(guild_id)
            self._join(guild_id, user)
            member = self._member_json(guild_id, user_id)
            member["permissions"] = str(self.permissions(guild_id, _id_of(channel), user_id))
            payload.update(
                {
                    "guild_id": guild_json["id"],
                    "guild": {
                        "id": guild_json["id"],
                        "locale": guild_json["preferred_locale"],
                        "features": [],
                    },
                    "guild_locale": guild_json["preferred_locale"],
                    "member": member,
                    "authorizing_integration_owners": {"0": guild_json["id"]},
                    "context": 0,
                }
            )
        else:
            payload.update(
                {
                    "user": copy.deepcopy(self.users[user_id]),
                    "authorizing_integration_owners": {"0": _sid(user_id)},
                    "context": 1,
                }
            )
        if message is not None:
            payload["message"] = message
        state = _Interaction(payload, self.clock())
        self._interactions[interaction_id] = state
        self._by_token[token] = state
        await self._broadcast("INTERACTION_CREATE", payload)
        return copy.deepcopy(payload)

    def _find_command(self, name: str, kind: int, guild_id: int | None) -> JSON:
        scopes: list[int | None] = [guild_id, None] if guild_id is not None else [None]
        for scope in scopes:
            for command in self._commands.get(scope, []):
                if command["name"] == name and int(command.get("type", 1)) == kind:
                    return command
        seen = [(c["name"], c.get("type", 1)) for cs in self._commands.values() for c in cs]
        raise ValueError(f"no command {name!r} of type {kind} is synced; synced: {seen}")

    async def close_gateway(self, code: int = 4000, message: str = "") -> None:
        """Close every gateway connection with ``code`` (4000: the client resumes)."""
        for connection in list(self.connections):
            await connection.close(code, message)

    async def request_reconnect(self) -> None:
        """Send RECONNECT (op 7) on every connection: the client reconnects and resumes."""
        for connection in list(self.connections):
            await connection.send({"op": OP_RECONNECT, "d": None, "s": None, "t": None})

    # --- inspection ----------------------------------------------------------------------

    def calls_to(self, method: str, path_regex: str = "") -> list[Call]:
        pattern = re.compile(path_regex)
        method = method.upper()
        return [c for c in self.calls if c.method == method and pattern.search(c.path)]

    async def wait_for(
        self,
        method: str,
        path_regex: str,
        count: int = 1,
        timeout: float = 5.0,
        where: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Wait until ``count`` answered calls of ``method`` on a matching path (and ``where``)."""

        def found() -> list[Call] | None:
            hits = [c for c in self.calls_to(method, path_regex) if where is None or where(c)]
            return hits if len(hits) >= count else None

        def describe() -> str:
            seen = [f"{c.method} {c.path} {c.status}" for c in self.calls]
            return f"{count} {method} {path_regex!r} calls not seen in {timeout} s; calls: {seen}"

        return await self._wait_until(found, timeout, describe)

    async def _wait_until(
        self, probe: Callable[[], T | None], timeout: float, describe: Callable[[], str]
    ) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = probe()
            if result is not None:
                return result
            if loop.time() >= deadline:
                raise TimeoutError(describe())
            await _wait(self._changed, deadline - loop.time())

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _state(self, interaction: JSON) -> _Interaction:
        state = self._interactions.get(int(interaction["id"]))
        if state is None:
            raise ValueError(f"no interaction {interaction['id']}")
        return state

    def response(self, interaction: JSON) -> Callback | None:
        """The interaction's callback, if the bot answered it."""
        return self._state(interaction).callback

    async def wait_for_response(self, interaction: JSON, timeout: float = 5.0) -> Callback:
        """Wait for the bot's callback to ``interaction``."""
        state = self._state(interaction)

        def describe() -> str:
            return f"no callback for interaction {interaction['id']} in {timeout} s"

        return await self._wait_until(lambda: state.callback, timeout, describe)

    def original_response(self, interaction: JSON) -> JSON | None:
        """The current @original message (edits applied), or None."""
        state = self._state(interaction)
        if state.original is None:
            return None
        channel_id, message_id = state.original
        found = self._messages.get(channel_id, {}).get(message_id)
        return copy.deepcopy(found) if found is not None else None

    def followups(self, interaction: JSON) -> list[JSON]:
        """The current follow-up messages, oldest first (deleted ones gone)."""
        state = self._state(interaction)
        stored = self._messages.get(int(state.payload["channel_id"]), {})
        return [copy.deepcopy(stored[i]) for i in state.followups if i in stored]

    async def wait_for_followups(
        self, interaction: JSON, count: int = 1, timeout: float = 5.0
    ) -> list[JSON]:
        def probe() -> list[JSON] | None:
            found = self.followups(interaction)
            return found if len(found) >= count else None

        def describe() -> str:
            return f"{count} follow-ups to {interaction['id']} not seen in {timeout} s"

        return await self._wait_until(probe, timeout, describe)

    async def wait_for_message(
        self,
        channel: JSON | int,
        *,
        where: Callable[[JSON], bool] | None = None,
        timeout: float = 5.0,
    ) -> JSON:
        """Wait for a bot message in ``channel`` posted from now on (and matching ``where``)."""
        channel_id = _id_of(channel)
        known = set(self._messages.get(channel_id, {}))

        def probe() -> JSON | None:
            for message in self.bot_messages(channel_id):
                if int(message["id"]) not in known and (where is None or where(message)):
                    return message
            return None

        def describe() -> str:
            return f"no new bot message in channel {channel_id} in {timeout} s"

        return await self._wait_until(probe, timeout, describe)

    def messages(self, channel_id: int) -> list[JSON]:
        """Every current message in a channel (users', the bot's, ephemeral), oldest first."""
        return [copy.deepcopy(m) for m in self._messages.get(channel_id, {}).values()]

    def bot_messages(self, channel_id: int) -> list[JSON]:
        return [m for m in self.messages(channel_id) if m["author"]["id"] == self.bot_user["id"]]

    def message(self, channel_id: int, message_id: int | str) -> JSON | None:
        found = self._messages.get(channel_id, {}).get(int(message_id))
        return copy.deepcopy(found) if found is not None else None

    def commands(self, guild_id: int | None = None) -> list[JSON]:
        """The synced global commands, or a guild's."""
        return copy.deepcopy(self._commands.get(guild_id, []))

    async def wait_ready(self, timeout: float = 5.0) -> None:
        """Wait until a client has identified and got READY and its GUILD_CREATEs."""

        def probe() -> bool | None:
            return True if any(s.connection for s in self._sessions.values()) else None

        await self._wait_until(probe, timeout, lambda: f"no client identified in {timeout} s")

    # --- the gateway -----------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self.gateway_requests.append(dict(request.query))
        compress = request.query.get("compress") == "zlib-stream"
        connection = _Connection(ws, compress)
        self.connections.add(connection)
        hello = {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["fake-gateway"]}
        try:
            if request.query.get("encoding", "json") != "json":
                await connection.close(4002, "Error while decoding payload.")
                return ws
            await connection.send({"op": OP_HELLO, "d": hello, "s": None, "t": None})
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    await connection.close(4002, "Error while decoding payload.")
                    break
                try:
                    payload = json.loads(frame.data)
                    op = int(payload["op"])
                except (ValueError, KeyError, TypeError):
                    await connection.close(4002, "Error while decoding payload.")
                    break
                await self._gateway_op(connection, op, payload.get("d"))
        finally:
            self.connections.discard(connection)
            session = connection.session
            if session is not None and session.connection is connection:
                session.connection = None
                # A client closing with 1000/1001 ends its session, as on Discord.
                if ws.close_code in (1000, 1001) and not connection.closed_by_server:
                    session.resumable = False
                    self._sessions.pop(session.id, None)
            self._notify()
        return ws

    async def _gateway_op(self, connection: _Connection, op: int, data: Any) -> None:
        if op == OP_HEARTBEAT:
            self.heartbeats += 1
            await connection.send({"op": OP_HEARTBEAT_ACK, "d": None, "s": None, "t": None})
        elif op == OP_IDENTIFY:
            await self._identify(connection, data if isinstance(data, dict) else {})
        elif op == OP_RESUME:
            await self._resume(connection, data if isinstance(data, dict) else {})
        elif connection.session is None:
            await connection.close(4003, "Not authenticated.")
        elif op == OP_PRESENCE_UPDATE:
            self.presences.append(data)
        elif op == OP_VOICE_STATE_UPDATE:
            pass
        elif op == OP_REQUEST_GUILD_MEMBERS:
            await self._member_chunk(connection, data if isinstance(data, dict) else {})
        else:
            await connection.close(4001, "Unknown opcode.")

    async def _identify(self, connection: _Connection, data: JSON) -> None:
        if connection.session is not None:
            await connection.close(4005, "Already authenticated.")
            return
        self.identifies.append(copy.deepcopy(data))
        self._notify()
        if data.get("token") != self.token:
            await connection.close(4004, "Authentication failed.")
            return
        intents = data.get("intents")
        if not isinstance(intents, int) or intents < 0 or intents >= 1 << 26:
            await connection.close(4013, "Invalid intent(s).")
            return
        if intents & PRIVILEGED_INTENTS and not self.privileged_intents_allowed:
            await connection.close(4014, "Disallowed intent(s).")
            return
        session = _Session(secrets.token_hex(16), intents, data)
        session.connection = connection
        connection.session = session
        ready: JSON = {
            "v": API_VERSION,
            "user": self._me(),
            "guilds": [{"id": g["id"], "unavailable": True} for g in self._guilds.values()],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.ws_url,
            "application": {"id": _sid(self.application_id), "flags": self._application()["flags"]},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "auth": {},
            "_trace": ["fake-gateway"],
        }
        if "shard" in data:
            ready["shard"] = data["shard"]
        await self._send_event(session, "READY", ready)
        for guild_id in self._guilds:
            await self._send_event(session, "GUILD_CREATE", self.guild_payload(guild_id))
        self._sessions[session.id] = session
        self._notify()

    async def _send_event(self, session: _Session, event: str, data: JSON) -> None:
        session.seq += 1
        payload = {"op": OP_DISPATCH, "t": event, "s": session.seq, "d": data}
        session.events.append(payload)
        if session.connection is not None:
            await session.connection.send(payload)

    async def _resume(self, connection: _Connection, data: JSON) -> None:
        self.resumes.append(copy.deepcopy(data))
        self._notify()
        session = self._sessions.get(str(data.get("session_id")))
        if data.get("token") != self.token:
            await connection.close(4004, "Authentication failed.")
            return
        if session is None or not session.resumable or not self.resume_enabled:
            await connection.send({"op": OP_INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        stale = session.connection
        session.connection = None
        if stale is not None and stale is not connection:
            stale.session = None
            await stale.close(4009, "Session timed out.")
        connection.session = session
        seq = int(data.get("seq") or 0)
        # Events dispatched meanwhile are appended to the list and replayed here too.
        for event in session.events:
            if event["s"] > seq:
                await connection.send(event)
        session.connection = connection
        await self._send_event(session, "RESUMED", {"_trace": ["fake-gateway"]})
        self._notify()

    async def _member_chunk(self, connection: _Connection, data: JSON) -> None:
        guild_ids = data.get("guild_id")
        for raw in guild_ids if isinstance(guild_ids, list) else [guild_ids]:
            guild_id = int(str(raw)) if str(raw).isdigit() else -1
            if guild_id not in self._guilds or connection.session is None:
                continue
            members = [self._member_json(guild_id, uid) for uid in self._members[guild_id]]
            wanted = data.get("user_ids")
            if wanted:
                ids = {_sid(u) for u in (wanted if isinstance(wanted, list) else [wanted])}
                members = [m for m in members if m["user"]["id"] in ids]
            query = str(data.get("query") or "")
            members = [m for m in members if m["user"]["username"].startswith(query)]
            chunk: JSON = {
                "guild_id": _sid(guild_id),
                "members": members,
                "chunk_index": 0,
                "chunk_count": 1,
            }
            if data.get("nonce") is not None:
                chunk["nonce"] = data["nonce"]
            await self._send_event(connection.session, "GUILD_MEMBERS_CHUNK", chunk)

    # --- HTTP plumbing -------------------------------------------------------------------

    async def _endpoint(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        call = Call(request.method, path, dict(request.query), None, [], self.clock())
        try:
            route, match = self._resolve(request.method, path)
            parsed = await self._read_body(request)
            call.json, uploads = parsed
            call.files = uploads
            self._check_failures(call)
            auth = request.headers.get("Authorization")
            if route.bot_auth and auth != f"Bot {self.token}":
                raise ApiError(401, 0)
            try:
                result = await route.handler(_Request(call, match, uploads, auth))
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                # A body of the wrong shape: Discord answers 400, not 500.
                raise ApiError(400, 50035, f"Invalid Form Body ({error!r})") from error
        except ApiError as error:
            if request.can_read_body:
                await request.release()
            call.status, call.error = error.status, error.body()
            self._record(call)
            return _json_response(error.status, error.body(), self._error_headers(error, call))
        headers = self._ratelimit_headers(call)
        if isinstance(result, _NoContent):
            call.status = 204
            self._record(call)
            return web.Response(status=204, headers=headers)
        call.status, call.response = 200, copy.deepcopy(result)
        self._record(call)
        return _json_response(200, result, headers)

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._notify()

    def _resolve(self, method: str, path: str) -> tuple[_Route, dict[str, str]]:
        allowed = False
        for route in self._routes:
            match = route.pattern.fullmatch(path)
            if match is None:
                continue
            if route.method == method:
                return route, match.groupdict()
            allowed = True
        raise ApiError(405 if allowed else 404, 0)

    def _check_failures(self, call: Call) -> None:
        for failure in self._failures:
            if (
                failure.times > 0
                and failure.method in (call.method, "*")
                and failure.pattern.search(call.path)
            ):
                failure.times -= 1
                raise failure.error

    @staticmethod
    def _bucket(call: Call) -> str:
        template = re.sub(r"/[0-9]{6,}", "/{id}", call.path)
        return hashlib.sha1(f"{call.method} {template}".encode()).hexdigest()[:32]

    def _ratelimit_headers(
        self, call: Call, remaining: int = 49, after: float = 1.0
    ) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": "50",
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{self.clock() + after:.3f}",
            "X-RateLimit-Reset-After": f"{after:.3f}",
            "X-RateLimit-Bucket": self._bucket(call),
        }

    def _error_headers(self, error: ApiError, call: Call) -> dict[str, str]:
        if error.status != 429:
            return {}
        after = float(error.retry_after or 0)
        headers = self._ratelimit_headers(call, remaining=0, after=after)
        headers.update(
            {
                "Retry-After": str(math.ceil(after)),
                "X-RateLimit-Scope": "global" if error.global_ else "user",
                # discord.py takes a 429 without Via for a Cloudflare ban and gives up.
                "Via": "1.1 google",
            }
        )
        if error.global_:
            headers["X-RateLimit-Global"] = "true"
        return headers

    async def _read_body(self, request: web.Request) -> tuple[Any, list[UploadedFile]]:
        if not request.can_read_body:
            return None, []
        if request.content_type == "application/json":
            try:
                return json.loads(await request.text()), []
            except ValueError:
                raise ApiError(400, 50109, "The request body contains invalid JSON.") from None
        if request.content_type != "multipart/form-data":
            await request.release()
            return None, []
        assert self._spool_dir is not None
        body: Any = None
        files: list[UploadedFile] = []
        total = 0
        too_big = False
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                await part.release()
                continue
            name = part.name or ""
            if part.filename is None and name == "payload_json":
                try:
                    body = json.loads(await part.text())
                except ValueError:
                    raise ApiError(400, 50109, "The request body contains invalid JSON.") from None
                continue
            if part.filename is None:
                await part.release()
                continue
            spool = Spool(self._spool_dir)
            try:
                while chunk := await part.read_chunk(READ_CHUNK):
                    total += len(chunk)
                    if total > self.max_upload_bytes:
                        too_big = True  # keep reading: answering early breaks the upload
                    elif not too_big:
                        spool.write(chunk)
            finally:
                spool.close()
            content_type = part.headers.get("Content-Type")
            files.append(UploadedFile(name, part.filename, spool.size, content_type, spool.path))
        if too_big:
            raise ApiError(413, 40005)
        return body, files

    async def _download(self, request: web.Request) -> web.StreamResponse:
        call = Call("GET", request.path, dict(request.query), None, [], self.clock())
        try:
            self._check_failures(call)
        except ApiError as error:
            call.status, call.error = error.status, error.body()
            self._record(call)
            return _json_response(error.status, error.body(), self._error_headers(error, call))
        try:
            attachment_id = int(request.match_info["id"])
        except ValueError:
            attachment_id = -1
        found = self._attachments.get(attachment_id)
        filename = request.match_info["filename"]
        query = request.query
        valid = (
            found is not None
            and found.json["filename"] == filename
            and hmac.compare_digest(
                query.get("hm", ""),
                self._cdn_hash(attachment_id, filename, query.get("ex", ""), query.get("is", "")),
            )
        )
        if found is None or not valid:
            call.status = 404
            self._record(call)
            return web.Response(status=404, text="This content is no longer available.")
        call.status = 200
        self._record(call)
        self.downloads.append(Download(found.json["id"], filename, found.json["size"], call.time))
        headers = {"Content-Type": found.json.get("content_type", "application/octet-stream")}
        if isinstance(found.content, Path):
            return web.FileResponse(found.content, chunk_size=READ_CHUNK, headers=headers)
        return web.Response(body=found.content, headers=headers)

    def _route_table(self) -> list[_Route]:
        snowflake = r"[0-9]+"
        app = rf"(?P<app>{snowflake})"
        guild = rf"(?P<guild>{snowflake})"
        channel = rf"/channels/(?P<channel>{snowflake})"
        message = rf"{channel}/messages/(?P<message>{snowflake})"
        webhook = rf"/webhooks/{app}/(?P<token>[^/]+)"
        table: list[tuple[str, str, _Handler, bool]] = [
            ("GET", r"/users/@me", self._get_me, True),
            ("GET", rf"/users/(?P<user>{snowflake})", self._get_user, True),
            ("POST", r"/users/@me/channels", self._create_dm, True),
            ("GET", r"/gateway", self._get_gateway, False),
            ("GET", r"/gateway/bot", self._get_gateway_bot, True),
            ("GET", r"/oauth2/applications/@me", self._get_application, True),
            ("GET", r"/applications/@me", self._get_application, True),
            (
                "POST",
                rf"/interactions/(?P<interaction>{snowflake})/(?P<token>[^/]+)/callback",
                self._callback,
                False,
            ),
            ("POST", webhook, self._followup, False),
            (
                "GET",
                rf"{webhook}/messages/(?P<message>@original|{snowflake})",
                self._get_webhook_message,
                False,
            ),
            (
                "PATCH",
                rf"{webhook}/messages/(?P<message>@original|{snowflake})",
                self._edit_webhook_message,
                False,
            ),
            (
                "DELETE",
                rf"{webhook}/messages/(?P<message>@original|{snowflake})",
                self._delete_webhook_message,
                False,
            ),
            ("GET", channel, self._get_channel, True),
            ("GET", rf"{channel}/messages", self._list_messages, True),
            ("POST", rf"{channel}/messages", self._send_message, True),
            ("GET", message, self._get_message, True),
            ("PATCH", message, self._edit_message, True),
            ("DELETE", message, self._delete_message, True),
            ("PUT", rf"{message}/reactions/(?P<emoji>[^/]+)/@me", self._add_reaction, True),
            ("DELETE", rf"{message}/reactions/(?P<emoji>[^/]+)/@me", self._remove_reaction, True),
            ("POST", rf"{channel}/typing", self._typing, True),
            ("GET", rf"/guilds/{guild}", self._get_guild, True),
            ("GET", rf"/guilds/{guild}/channels", self._get_guild_channels, True),
            ("GET", rf"/guilds/{guild}/roles", self._get_guild_roles, True),
            ("GET", rf"/guilds/{guild}/members/(?P<user>{snowflake})", self._get_member, True),
        ]
        for scope in (rf"/applications/{app}", rf"/applications/{app}/guilds/{guild}"):
            one = rf"{scope}/commands/(?P<command>{snowflake})"
            table += [
                ("GET", rf"{scope}/commands", self._get_commands, True),
                ("PUT", rf"{scope}/commands", self._put_commands, True),
                ("POST", rf"{scope}/commands", self._create_command, True),
                ("GET", one, self._get_command, True),
                ("PATCH", one, self._edit_command, True),
                ("DELETE", one, self._delete_command, True),
            ]
        return [_Route(m, re.compile(p), h, a) for m, p, h, a in table]

    # --- REST: users, gateway, application -------------------------------------------------

    async def _get_me(self, request: _Request) -> JSON:
        return self._me()

    async def _get_user(self, request: _Request) -> JSON:
        user = self.users.get(int(request.match["user"]))
        if user is None:
            raise ApiError(404, 10013)
        return copy.deepcopy(user)

    async def _create_dm(self, request: _Request) -> JSON:
        recipient = request.body.get("recipient_id")
        user = self.users.get(int(str(recipient))) if str(recipient).isdigit() else None
        if user is None:
            raise form_error(["recipient_id"], "NUMBER_TYPE_COERCE", "Value is not snowflake.")
        return copy.deepcopy(self.dm_channel(user))

    async def _get_gateway(self, request: _Request) -> JSON:
        return {"url": self.ws_url}

    async def _get_gateway_bot(self, request: _Request) -> JSON:
        return {
            "url": self.ws_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 86_400_000,
                "max_concurrency": 1,
            },
        }

    async def _get_application(self, request: _Request) -> JSON:
        return self._application()

    # --- REST: application commands --------------------------------------------------------

    def _command_scope(self, request: _Request) -> int | None:
        if int(request.match["app"]) != self.application_id:
            raise ApiError(403, 50001)
        guild = request.match.get("guild")
        if guild is None:
            return None
        if int(guild) not in self._guilds:
            raise ApiError(403, 50001)
        return int(guild)

    async def _get_commands(self, request: _Request) -> list[JSON]:
        return self.commands(self._command_scope(request))

    async def _put_commands(self, request: _Request) -> list[JSON]:
        scope = self._command_scope(request)
        given = request.call.json
        if not isinstance(given, list):
            raise form_error([], "LIST_TYPE_CONVERT", "Must be a list.")
        if len(given) > 110:
            raise too_long([], 110)
        old = {(c["name"], int(c.get("type", 1))): c for c in self._commands.get(scope, [])}
        commands: list[JSON] = []
        seen: set[tuple[str, int]] = set()
        for index, command in enumerate(given):
            self._check_command(command, [index])
            key = (command["name"], int(command.get("type", 1)))
            if key in seen:
                raise form_error(
                    [index, "name"],
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    f"Application command names must be unique ({command['name']})",
                )
            seen.add(key)
            previous = old.get(key)
            commands.append(self._stored_command(command, scope, previous))
        self._commands[scope] = commands
        self._notify()
        return copy.deepcopy(commands)

    async def _create_command(self, request: _Request) -> JSON:
        scope = self._command_scope(request)
        command = request.body
        self._check_command(command, [])
        existing = self._commands.setdefault(scope, [])
        key = (command["name"], int(command.get("type", 1)))
        for index, old in enumerate(existing):
            if (old["name"], int(old.get("type", 1))) == key:
                existing[index] = self._stored_command(command, scope, old)
                return copy.deepcopy(existing[index])
        stored = self._stored_command(command, scope, None)
        existing.append(stored)
        self._notify()
        return copy.deepcopy(stored)

    def _command_index(self, request: _Request) -> tuple[list[JSON], int]:
        commands = self._commands.setdefault(self._command_scope(request), [])
        for index, command in enumerate(commands):
            if command["id"] == request.match["command"]:
                return commands, index
        raise ApiError(404, 10063)

    async def _get_command(self, request: _Request) -> JSON:
        commands, index = self._command_index(request)
        return copy.deepcopy(commands[index])

    async def _edit_command(self, request: _Request) -> JSON:
        commands, index = self._command_index(request)
        merged = {**commands[index], **request.body}
        self._check_command(merged, [])
        commands[index] = self._stored_command(
            merged, self._command_scope(request), commands[index]
        )
        return copy.deepcopy(commands[index])

    async def _delete_command(self, request: _Request) -> _NoContent:
        commands, index = self._command_index(request)
        del commands[index]
        return NO_CONTENT

    def _check_command(self, command: Any, path: list[str | int]) -> None:
        if not isinstance(command, dict):
            raise form_error(
                path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"
            )
        name = command.get("name")
        kind = int(command.get("type", CHAT_INPUT))
        if not isinstance(name, str) or not 1 <= len(name) <= 32:
            raise bad_length([*path, "name"], 1, 32)
        if kind == CHAT_INPUT:
            if name != name.lower() or not _CHAT_COMMAND_NAME.match(name):
                raise form_error(
                    [*path, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
                )
            description = command.get("description", "")
            if not isinstance(description, str) or not 1 <= len(description) <= 100:
                raise bad_length([*path, "description"], 1, 100)
            self._check_options(command.get("options") or [], [*path, "options"])
        elif command.get("description") not in (None, ""):
            raise form_error(
                [*path, "description"],
                "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION",
                "Context menu commands cannot have description",
            )

    def _check_options(self, options: list[JSON], path: list[str | int]) -> None:
        if len(options) > 25:
            raise too_long(path, 25)
        optional_seen = False
        for index, option in enumerate(options):
            name = option.get("name", "")
            if name != name.lower() or not _CHAT_COMMAND_NAME.match(name):
                raise form_error(
                    [*path, index, "name"],
                    "APPLICATION_COMMAND_INVALID_NAME",
                    "Command name is invalid",
                )
            if option.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP):
                self._check_options(option.get("options") or [], [*path, index, "options"])
                continue
            if option.get("required"):
                if optional_seen:
                    raise form_error(
                        [*path, index, "required"],
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    )
            else:
                optional_seen = True

    def _stored_command(self, command: JSON, scope: int | None, previous: JSON | None) -> JSON:
        kind = int(command.get("type", CHAT_INPUT))
        stored: JSON = {
            "id": previous["id"] if previous else _sid(self._snowflake()),
            "application_id": _sid(self.application_id),
            "version": _sid(self._snowflake()),
            "type": kind,
            "name": command["name"],
            "name_localizations": command.get("name_localizations"),
            "description": command.get("description", "") if kind == CHAT_INPUT else "",
            "description_localizations": command.get("description_localizations"),
            "default_member_permissions": command.get("default_member_permissions"),
            "dm_permission": command.get("dm_permission", True),
            "contexts": command.get("contexts"),
            "integration_types": command.get("integration_types", [0]),
            "nsfw": bool(command.get("nsfw", False)),
        }
        if command.get("options"):
            stored["options"] = copy.deepcopy(command["options"])
        if scope is not None:
            stored["guild_id"] = _sid(scope)
        return stored

    # --- REST: interactions and follow-ups --------------------------------------------------

    async def _callback(self, request: _Request) -> Any:
        state = self._interactions.get(int(request.match["interaction"]))
        if state is None or state.payload["token"] != request.match["token"]:
            raise ApiError(404, 10062)
        if state.acknowledged:
            raise ApiError(400, 40060)
        if self.clock() - state.created > self.interaction_response_timeout:
            raise ApiError(404, 10062)
        state.acknowledged = True
        try:
            return await self._acknowledge(state, request)
        except Exception:
            state.acknowledged = False  # a refused answer does not count
            raise

    async def _acknowledge(self, state: _Interaction, request: _Request) -> Any:
        body = request.body
        kind = body.get("type")
        data = body.get("data") or {}
        if not isinstance(data, dict) or not isinstance(kind, int):
            raise form_error(["type"], "BASE_TYPE_REQUIRED", "This field is required")
        interaction_type = int(state.payload["type"])
        channel = self._channels[int(state.payload["channel_id"])]
        message: JSON | None = None
        resource: JSON = {"type": kind}
        info: JSON = {"id": state.payload["id"], "type": interaction_type}
        origin = state.payload.get("message")
        if kind in (CHANNEL_MESSAGE_WITH_SOURCE, DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE):
            if interaction_type not in (APPLICATION_COMMAND, MESSAGE_COMPONENT, MODAL_SUBMIT):
                raise self._bad_callback(kind)
            flags = int(data.get("flags") or 0)
            if kind == CHANNEL_MESSAGE_WITH_SOURCE:
                fields = self._message_fields(data, request.uploads, [], create=True, webhook=True)
            else:
                fields = {"flags": (flags & EPHEMERAL) | LOADING}
            message = self._interaction_message(state, channel, fields)
            if not message["flags"] & EPHEMERAL:
                await self._broadcast("MESSAGE_CREATE", self._event_message(message))
            state.original = (int(channel["id"]), int(message["id"]))
            state.loading = kind == DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
            info["response_message_id"] = message["id"]
            info["response_message_loading"] = state.loading
            info["response_message_ephemeral"] = bool(message["flags"] & EPHEMERAL)
        elif kind in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE):
            if origin is None:
                raise self._bad_callback(kind)
            stored = self._messages.get(int(channel["id"]), {}).get(int(origin["id"]))
            if stored is None:
                raise ApiError(404, 10008)
            state.original = (int(channel["id"]), int(stored["id"]))
            if kind == UPDATE_MESSAGE:
                fields = self._message_fields(
                    data, request.uploads, stored["attachments"], create=False, webhook=True
                )
                message = await self._apply_edit(stored, fields)
            info["response_message_id"] = stored["id"]
        elif kind == APPLICATION_COMMAND_AUTOCOMPLETE_RESULT:
            if interaction_type != AUTOCOMPLETE:
                raise self._bad_callback(kind)
        elif kind == MODAL:
            if interaction_type not in (APPLICATION_COMMAND, MESSAGE_COMPONENT):
                raise self._bad_callback(kind)
            self._check_modal(data)
        else:
            raise self._bad_callback(kind)
        if message is not None:
            resource["message"] = copy.deepcopy(message)
        state.callback = Callback(
            state.payload["id"],
            kind,
            copy.deepcopy(data),
            list(request.uploads),
            self.clock(),
            copy.deepcopy(message),
        )
        self._notify()
        if not request.flag("with_response"):
            return NO_CONTENT
        return {"interaction": info, "resource": resource}

    @staticmethod
    def _bad_callback(kind: Any) -> ApiError:
        return form_error(
            ["type"],
            "INTERACTION_RESPONSE_TYPE_INVALID",
            f"Interaction response type {kind} is not valid here",
        )

    @staticmethod
    def _check_modal(data: JSON) -> None:
        custom_id = data.get("custom_id")
        if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= 100:
            raise bad_length(["data", "custom_id"], 1, 100)
        title = data.get("title")
        if not isinstance(title, str) or not 1 <= len(title) <= 45:
            raise bad_length(["data", "title"], 1, 45)
        components = data.get("components")
        if not isinstance(components, list) or not 1 <= len(components) <= 5:
            raise bad_length(["data", "components"], 1, 5)

    def _interaction_message(self, state: _Interaction, channel: JSON, fields: JSON) -> JSON:
        payload = state.payload
        user = payload.get("member", payload).get("user")
        kind = 0
        if payload["type"] == APPLICATION_COMMAND:
            kind = 20 if payload["data"].get("type", CHAT_INPUT) == CHAT_INPUT else 23
        metadata: JSON = {
            "id": payload["id"],
            "type": payload["type"],
            "user": user,
            "authorizing_integration_owners": payload.get("authorizing_integration_owners", {}),
        }
        if payload["type"] == APPLICATION_COMMAND:
            metadata["name"] = payload["data"]["name"]
        if state.original is not None:
            metadata["original_response_message_id"] = _sid(state.original[1])
        if payload.get("message") is not None:
            metadata["interacted_message_id"] = payload["message"]["id"]
        extra: JSON = {
            "webhook_id": _sid(self.application_id),
            "application_id": _sid(self.application_id),
            "interaction_metadata": metadata,
        }
        message = self._new_message(channel, self.bot_user, {**fields, **extra}, None, kind=kind)
        return message

    def _webhook_state(self, request: _Request) -> _Interaction:
        state = self._by_token.get(request.match["token"])
        if state is None or int(request.match["app"]) != self.application_id:
            raise ApiError(404, 10015)
        if self.clock() - state.created > self.interaction_token_lifetime:
            raise ApiError(401, 50027)
        if state.callback is None:
            raise ApiError(404, 10015)
        return state

    def _webhook_message(self, request: _Request, state: _Interaction) -> JSON:
        channel_id = int(state.payload["channel_id"])
        wanted = request.match["message"]
        if wanted == "@original":
            if state.original is None:
                raise ApiError(404, 10008)
            message_id = state.original[1]
        else:
            message_id = int(wanted)
            own = {*state.followups, *([state.original[1]] if state.original else [])}
            if message_id not in own:
                raise ApiError(404, 10008)
        stored = self._messages.get(channel_id, {}).get(message_id)
        if stored is None:
            raise ApiError(404, 10008)
        return stored

    async def _followup(self, request: _Request) -> Any:
        state = self._webhook_state(request)
        channel = self._channels[int(state.payload["channel_id"])]
        body = request.body
        fields = self._message_fields(body, request.uploads, [], create=True, webhook=True)
        if state.loading and state.original is not None:
            # The first follow-up after a deferred "thinking" answer fills that message in.
            stored = self._messages[state.original[0]][state.original[1]]
            flags = (stored["flags"] & EPHEMERAL) | (fields.pop("flags", 0) & ~EPHEMERAL)
            state.loading = False
            message = await self._apply_edit(stored, fields, loading_done=True, flags=flags)
        else:
            message = self._interaction_message(state, channel, fields)
            if not message["flags"] & EPHEMERAL:
                await self._broadcast("MESSAGE_CREATE", self._event_message(message))
        state.followups.append(int(message["id"]))
        self._notify()
        return copy.deepcopy(message) if request.flag("wait") else NO_CONTENT

    async def _get_webhook_message(self, request: _Request) -> JSON:
        state = self._webhook_state(request)
        return copy.deepcopy(self._webhook_message(request, state))

    async def _edit_webhook_message(self, request: _Request) -> JSON:
        state = self._webhook_state(request)
        stored = self._webhook_message(request, state)
        fields = self._message_fields(
            request.body, request.uploads, stored["attachments"], create=False, webhook=True
        )
        done = (
            state.loading and state.original is not None and int(stored["id"]) == state.original[1]
        )
        if done:
            state.loading = False
        return await self._apply_edit(stored, fields, loading_done=done)

    async def _delete_webhook_message(self, request: _Request) -> _NoContent:
        state = self._webhook_state(request)
        stored = self._webhook_message(request, state)
        await self._remove(stored)
        return NO_CONTENT

    # --- REST: channels and messages -------------------------------------------------------

    def _channel(self, request: _Request) -> JSON:
        channel = self._channels.get(int(request.match["channel"]))
        if channel is None:
            raise ApiError(404, 10003)
        if not self._bot_permissions(channel) & Perm.VIEW_CHANNEL:
            raise ApiError(403, 50001)
        return channel

    def _visible_message(self, request: _Request) -> JSON:
        channel = self._channel(request)
        stored = self._messages[int(channel["id"])].get(int(request.match["message"]))
        if stored is None or stored["flags"] & EPHEMERAL:
            raise ApiError(404, 10008)
        return stored

    def _require(self, channel: JSON, permission: int) -> None:
        if not self._bot_permissions(channel) & permission:
            raise ApiError(403, 50013)

    async def _get_channel(self, request: _Request) -> JSON:
        return copy.deepcopy(self._channel(request))

    async def _list_messages(self, request: _Request) -> list[JSON]:
        channel = self._channel(request)
        self._require(channel, Perm.READ_MESSAGE_HISTORY)
        raw_limit = request.call.query.get("limit", "50")
        limit = max(1, min(int(raw_limit) if raw_limit.isdigit() else 50, 100))
        visible = [
            m for m in self._messages[int(channel["id"])].values() if not m["flags"] & EPHEMERAL
        ]
        return copy.deepcopy(list(reversed(visible))[:limit])

    async def _send_message(self, request: _Request) -> JSON:
        channel = self._channel(request)
        if channel["type"] == 1:
            recipient = int(channel["recipients"][0]["id"])
            if recipient in self.closed_dms:
                raise ApiError(403, 50007)
        self._require(channel, Perm.SEND_MESSAGES)
        if request.uploads:
            self._require(channel, Perm.ATTACH_FILES)
        body = request.body
        fields = self._message_fields(body, request.uploads, [], create=True, webhook=False)
        reference = body.get("message_reference")
        message = self._new_message(channel, self.bot_user, fields, reference)
        await self._broadcast("MESSAGE_CREATE", self._event_message(message))
        return copy.deepcopy(message)

    async def _get_message(self, request: _Request) -> JSON:
        channel = self._channel(request)
        self._require(channel, Perm.READ_MESSAGE_HISTORY)
        return copy.deepcopy(self._visible_message(request))

    async def _edit_message(self, request: _Request) -> JSON:
        stored = self._visible_message(request)
        body = request.body
        if stored["author"]["id"] != self.bot_user["id"]:
            if set(body) - {"flags"}:
                raise ApiError(403, 50005)
            self._require(self._channel(request), Perm.MANAGE_MESSAGES)
        fields = self._message_fields(
            body, request.uploads, stored["attachments"], create=False, webhook=False
        )
        return await self._apply_edit(stored, fields)

    async def _delete_message(self, request: _Request) -> _NoContent:
        stored = self._visible_message(request)
        if stored["author"]["id"] != self.bot_user["id"]:
            self._require(self._channel(request), Perm.MANAGE_MESSAGES)
        await self._remove(stored)
        return NO_CONTENT

    async def _add_reaction(self, request: _Request) -> _NoContent:
        stored = self._visible_message(request)
        self._require(self._channel(request), Perm.ADD_REACTIONS | Perm.READ_MESSAGE_HISTORY)
        emoji = request.match["emoji"]
        reactions = stored.setdefault("reactions", [])
        for reaction in reactions:
            if reaction["emoji"]["name"] == emoji:
                if not reaction["me"]:
                    reaction["me"] = True
                    reaction["count"] += 1
                return NO_CONTENT
        reactions.append({"emoji": {"id": None, "name": emoji}, "count": 1, "me": True})
        self._notify()
        return NO_CONTENT

    async def _remove_reaction(self, request: _Request) -> _NoContent:
        stored = self._visible_message(request)
        emoji = request.match["emoji"]
        for reaction in list(stored.get("reactions", [])):
            if reaction["emoji"]["name"] == emoji and reaction["me"]:
                reaction["me"] = False
                reaction["count"] -= 1
                if reaction["count"] == 0:
                    stored["reactions"].remove(reaction)
        return NO_CONTENT

    async def _typing(self, request: _Request) -> _NoContent:
        channel = self._channel(request)
        self._require(channel, Perm.SEND_MESSAGES)
        return NO_CONTENT

    # --- REST: guilds -------------------------------------------------------------------------

    def _guild_of(self, request: _Request) -> int:
        guild_id = int(request.match["guild"])
        if guild_id not in self._guilds:
            raise ApiError(404, 10004)
        return guild_id

    async def _get_guild(self, request: _Request) -> JSON:
        guild_id = self._guild_of(request)
        return {
            **copy.deepcopy(self._guilds[guild_id]),
            "roles": copy.deepcopy(list(self._roles[guild_id].values())),
            "emojis": [],
            "stickers": [],
        }

    async def _get_guild_channels(self, request: _Request) -> list[JSON]:
        guild_id = _sid(self._guild_of(request))
        return [copy.deepcopy(c) for c in self._channels.values() if c.get("guild_id") == guild_id]

    async def _get_guild_roles(self, request: _Request) -> list[JSON]:
        return copy.deepcopy(list(self._roles[self._guild_of(request)].values()))

    async def _get_member(self, request: _Request) -> JSON:
        guild_id = self._guild_of(request)
        user_id = int(request.match["user"])
        if user_id not in self._members[guild_id]:
            raise ApiError(404, 10007)
        return self._member_json(guild_id, user_id)

    # --- messages ---------------------------------------------------------------------------

    def _message_fields(
        self,
        body: JSON,
        uploads: list[UploadedFile],
        existing: list[JSON],
        *,
        create: bool,
        webhook: bool,
    ) -> JSON:
        """The message fields a create or edit body sets, checked like Discord does."""
        fields: JSON = {}
        if "content" in body:
            content = "" if body["content"] is None else str(body["content"])
            if len(content) > 2000:
                raise too_long(["content"], 2000)
            fields["content"] = content
        if "embeds" in body or "embed" in body:
            embeds = body.get("embeds")
            if embeds is None and body.get("embed") is not None:
                embeds = [body["embed"]]
            fields["embeds"] = [self._embed(e) for e in embeds or []]
        flags = int(body.get("flags") or 0)
        if "components" in body:
            components = body["components"] or []
            self._check_components(components, components_v2=bool(flags & IS_COMPONENTS_V2))
            fields["components"] = copy.deepcopy(components)
        allowed = _SETTABLE_FLAGS | (EPHEMERAL if webhook and create else 0)
        if create:
            fields["flags"] = flags & allowed
        elif "flags" in body and body["flags"] is not None:
            fields["flags"] = flags & SUPPRESS_EMBEDS
        if "attachments" in body or uploads:
            fields["attachments"] = self._attachments_for(body, uploads, existing)
        if "embeds" in fields:
            self._check_embeds(fields["embeds"])
            by_name = {a["filename"]: a for a in fields.get("attachments", existing)}
            for embed in fields["embeds"]:
                self._resolve_embed_files(embed, by_name)
        if "poll" in body:
            fields["poll"] = copy.deepcopy(body["poll"])
        if create and not (
            fields.get("content")
            or fields.get("embeds")
            or fields.get("attachments")
            or fields.get("components")
            or body.get("sticker_ids")
            or body.get("poll")
        ):
            raise ApiError(400, 50006)
        return fields

    @staticmethod
    def _embed(embed: Any) -> JSON:
        if not isinstance(embed, dict):
            raise form_error(
                ["embeds"], "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"
            )
        out = copy.deepcopy(embed)
        out.setdefault("type", "rich")
        return out

    @staticmethod
    def _check_embeds(embeds: list[JSON]) -> None:
        if len(embeds) > 10:
            raise too_long(["embeds"], 10)
        limits = {"title": 256, "description": 4096}
        total = 0
        for index, embed in enumerate(embeds):
            for key, limit in limits.items():
                text = str(embed.get(key) or "")
                total += len(text)
                if len(text) > limit:
                    raise too_long(["embeds", index, key], limit)
            fields = embed.get("fields") or []
            if len(fields) > 25:
                raise too_long(["embeds", index, "fields"], 25)
            for number, item in enumerate(fields):
                for key, limit in (("name", 256), ("value", 1024)):
                    text = str(item.get(key) or "")
                    total += len(text)
                    if not text:
                        raise form_error(
                            ["embeds", index, "fields", number, key],
                            "BASE_TYPE_REQUIRED",
                            "This field is required",
                        )
                    if len(text) > limit:
                        raise too_long(["embeds", index, "fields", number, key], limit)
            for key, inner, limit in (("footer", "text", 2048), ("author", "name", 256)):
                text = str((embed.get(key) or {}).get(inner) or "")
                total += len(text)
                if len(text) > limit:
                    raise too_long(["embeds", index, key, inner], limit)
        if total > 6000:
            raise form_error(
                ["embeds"], "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"
            )

    @staticmethod
    def _resolve_embed_files(embed: JSON, attachments: Mapping[str, JSON]) -> None:
        for key in ("image", "thumbnail"):
            part = embed.get(key)
            if not isinstance(part, dict):
                continue
            match = _ATTACHMENT_URL.match(str(part.get("url", "")))
            if match and match.group(1) in attachments:
                found = attachments[match.group(1)]
                part.update({"url": found["url"], "proxy_url": found["proxy_url"]})
                for size in ("width", "height"):
                    if size in found:
                        part[size] = found[size]

    @staticmethod
    def _check_components(components: list[JSON], *, components_v2: bool) -> None:
        if components_v2:
            return
        if len(components) > 5:
            raise too_long(["components"], 5)
        custom_ids: set[str] = set()
        for row_index, row in enumerate(components):
            if row.get("type") != ACTION_ROW:
                raise form_error(
                    ["components", row_index, "type"],
                    "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                    "Only action rows may be top-level",
                )
            children = row.get("components") or []
            if not 1 <= len(children) <= 5:
                raise bad_length(["components", row_index, "components"], 1, 5)
            for index, child in enumerate(children):
                path: list[str | int] = ["components", row_index, "components", index]
                custom_id = child.get("custom_id")
                if child.get("type") == BUTTON:
                    link = child.get("style") == LINK_BUTTON_STYLE
                    if link and (custom_id or not child.get("url")):
                        raise form_error(
                            path,
                            "BUTTON_COMPONENT_URL_REQUIRED",
                            "A link button needs a url and no custom_id",
                        )
                    if not link and (not custom_id or child.get("url")):
                        raise form_error(
                            path, "BUTTON_COMPONENT_CUSTOM_ID_REQUIRED", "A custom id is required"
                        )
                    if len(str(child.get("label") or "")) > 80:
                        raise too_long([*path, "label"], 80)
                if custom_id is not None:
                    if not 1 <= len(str(custom_id)) <= 100:
                        raise bad_length([*path, "custom_id"], 1, 100)
                    if custom_id in custom_ids:
                        raise form_error(
                            [*path, "custom_id"],
                            "COMPONENT_CUSTOM_ID_DUPLICATED",
                            "Component custom id cannot be duplicated",
                        )
                    custom_ids.add(str(custom_id))

    def _attachments_for(
        self, body: JSON, uploads: list[UploadedFile], existing: list[JSON]
    ) -> list[JSON]:
        """Kept attachments (by id) then the uploaded ones (``files[n]`` <-> ``{"id": n}``)."""
        by_index: dict[int, UploadedFile] = {}
        for number, upload in enumerate(uploads):
            found = re.fullmatch(r"files\[([0-9]+)\]", upload.field)
            by_index[int(found.group(1)) if found else number] = upload
        listed = body.get("attachments")
        entries: list[JSON] = list(listed) if isinstance(listed, list) else []
        kept_ids = {a["id"]: a for a in existing}
        result: list[JSON] = []
        used: set[int] = set()
        for entry in entries:
            raw = str(entry.get("id"))
            if raw in kept_ids:
                result.append(copy.deepcopy(kept_ids[raw]))
            elif raw.isdigit() and int(raw) in by_index:
                used.add(int(raw))
                result.append(self._upload_attachment(by_index[int(raw)], entry))
        if listed is None:
            result = [copy.deepcopy(a) for a in existing]
        for index, upload in sorted(by_index.items()):
            if index not in used:
                result.append(self._upload_attachment(upload, {}))
        return result

    def _upload_attachment(self, upload: UploadedFile, entry: JSON) -> JSON:
        filename = str(entry.get("filename") or upload.filename or "unknown")
        attachment = self.add_attachment(
            upload.path, filename, upload.content_type, description=entry.get("description")
        )
        return attachment

    def _new_message(
        self,
        channel: JSON,
        author: JSON,
        fields: JSON,
        reference: JSON | None,
        *,
        kind: int = 0,
    ) -> JSON:
        channel_id = int(channel["id"])
        message_id = self._snowflake()
        message: JSON = {
            "id": _sid(message_id),
            "channel_id": channel["id"],
            "author": copy.deepcopy(author),
            "content": "",
            "timestamp": _iso(self.clock()),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": kind,
            "flags": 0,
        }
        message.update(copy.deepcopy(fields))
        if reference is not None:
            target = self._messages.get(channel_id, {}).get(int(reference["message_id"]))
            message["type"] = 19
            message["message_reference"] = {
                "type": 0,
                "message_id": _sid(reference["message_id"]),
                "channel_id": channel["id"],
                **({"guild_id": channel["guild_id"]} if "guild_id" in channel else {}),
            }
            message["referenced_message"] = copy.deepcopy(target)
        message["mentions"] = self._mentions(message["content"])
        self._messages.setdefault(channel_id, {})[message_id] = message
        channel["last_message_id"] = message["id"]
        self._notify()
        return message

    def _mentions(self, content: str) -> list[JSON]:
        found: list[JSON] = []
        for raw in dict.fromkeys(_MENTION.findall(content)):
            user = self.users.get(int(raw))
            if user is not None:
                found.append(copy.deepcopy(user))
        return found

    def _event_message(self, message: JSON) -> JSON:
        """A stored message as MESSAGE_CREATE/UPDATE carries it: guild_id and member."""
        event = copy.deepcopy(message)
        channel = self._channels.get(int(message["channel_id"]), {})
        guild_id = channel.get("guild_id")
        if guild_id is None:
            return event
        event["guild_id"] = guild_id
        members = self._members.get(int(guild_id), {})
        author_id = int(message["author"]["id"])
        if author_id in members and "webhook_id" not in message:
            event["member"] = self._member_json(int(guild_id), author_id, with_user=False)
        for mention in event["mentions"]:
            if int(mention["id"]) in members:
                mention["member"] = self._member_json(
                    int(guild_id), int(mention["id"]), with_user=False
                )
        return event

    async def _apply_edit(
        self,
        stored: JSON,
        fields: JSON,
        *,
        loading_done: bool = False,
        flags: int | None = None,
    ) -> JSON:
        """Apply an edit; only SUPPRESS_EMBEDS can change unless ``flags`` says it all."""
        fields = copy.deepcopy(fields)
        new_flags = fields.pop("flags", None)
        stored.update(fields)
        if flags is not None:
            stored["flags"] = flags
        elif new_flags is not None:
            stored["flags"] = (stored["flags"] & ~SUPPRESS_EMBEDS) | (new_flags & SUPPRESS_EMBEDS)
        if loading_done:
            stored["flags"] &= ~LOADING
        if "content" in fields:
            stored["mentions"] = self._mentions(stored["content"])
        # Filling a "thinking" message is not an edit for the clients.
        if not loading_done:
            stored["edited_timestamp"] = _iso(self.clock())
        self._notify()
        if not stored["flags"] & EPHEMERAL:
            await self._broadcast("MESSAGE_UPDATE", self._event_message(stored))
        return copy.deepcopy(stored)

    async def _remove(self, stored: JSON) -> None:
        channel_id = int(stored["channel_id"])
        del self._messages[channel_id][int(stored["id"])]
        self.deleted.append((channel_id, int(stored["id"])))
        self._notify()
        if not stored["flags"] & EPHEMERAL:
            data: JSON = {"id": stored["id"], "channel_id": stored["channel_id"]}
            guild_id = self._channels.get(channel_id, {}).get("guild_id")
            if guild_id is not None:
                data["guild_id"] = guild_id
            await self._broadcast("MESSAGE_DELETE", data)


__all__ = [
    "ALL_PERMISSIONS",
    "APPLICATION_ID",
    "BOT_ID",
    "DEFAULT_BOT_PERMISSIONS",
    "DEFAULT_EVERYONE",
    "OWNER_ID",
    "TOKEN",
    "ApiError",
    "Call",
    "Callback",
    "DiscordFake",
    "Download",
    "Intent",
    "Perm",
    "UploadedFile",
    "make_token",
]
