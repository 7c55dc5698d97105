"""DiscordFake: the parts of the Discord fake put together, with its lifecycle, the aiohttp
application and the REST route table."""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from pathlib import Path

from aiohttp import web

from tests.fakes.discord.callbacks import CallbacksMixin
from tests.fakes.discord.commands import CommandsMixin
from tests.fakes.discord.constants import BOT_ID, BOT_USERNAME, TOKEN
from tests.fakes.discord.http import HttpMixin
from tests.fakes.discord.interactions import InteractionsMixin
from tests.fakes.discord.models import _Handler, _Route
from tests.fakes.discord.rest import RestMixin


class DiscordFake(HttpMixin, RestMixin, CallbacksMixin, CommandsMixin, InteractionsMixin):
    """Discord's REST API, gateway and CDN on 127.0.0.1 for one bot; see the package docstring."""

    def __init__(
        self,
        token: str = TOKEN,
        *,
        bot_id: int = BOT_ID,
        application_id: int | None = None,
        bot_username: str = BOT_USERNAME,
    ) -> None:
        super().__init__(
            token, bot_id=bot_id, application_id=application_id, bot_username=bot_username
        )
        self._routes = self._route_table()

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
