"""FakeState: the state the parts of the Discord fake share (set up in ``__init__``), the
URLs, snowflakes, and the change event that the ``wait_*`` helpers wait on."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from tests.fakes.discord.constants import (
    API_VERSION,
    BOT_ID,
    BOT_USERNAME,
    DISCORD_EPOCH_MS,
    JSON,
    MIB,
    TOKEN,
)
from tests.fakes.discord.limits import ChannelBuckets, RateLimits
from tests.fakes.discord.models import (
    Call,
    Delivery,
    Download,
    _Attachment,
    _Connection,
    _Failure,
    _Interaction,
    _Route,
    _Session,
    _sid,
)
from tests.fakes.server import LocalServer

T = TypeVar("T")


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(seconds, 0)):
            await event.wait()


class FakeState(LocalServer):
    """The state every part of the fake shares, its URLs, snowflakes and change events."""

    _routes: list[_Route]  # set by DiscordFake, which knows the handlers

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
        self.rate_limits: RateLimits | None = None  # None: nothing is rate-limited
        self.shards = 1  # GET /gateway/bot's recommendation
        self.max_guilds_per_shard = 2500  # past it, IDENTIFY closes 4011 Sharding required
        self._buckets = ChannelBuckets()
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
        self.deliveries: list[Delivery] = []  # each dispatch, per session it was sent to
        # inspection
        self.calls: list[Call] = []
        self.deleted: list[tuple[int, int]] = []
        self.downloads: list[Download] = []
        self.rate_limited: list[Call] = []  # the calls the rate limits answered 429
        self._changed = asyncio.Event()
        self._spool_dir: Path | None = None

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

    def _snowflake(self) -> int:
        ms = int(self.clock() * 1000) - DISCORD_EPOCH_MS
        value = (max(ms, 0) << 22) | (next(self._increment) & 0xFFF)
        value = max(value, self._last_snowflake + 1)
        self._last_snowflake = value
        return value

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
