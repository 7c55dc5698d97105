"""REST handlers of the Discord fake for users, the gateway URL, the application,
channels, messages, reactions, typing and guilds."""

from __future__ import annotations

import copy

from tests.fakes.discord.constants import EPHEMERAL, JSON, Perm
from tests.fakes.discord.messages import MessagesMixin
from tests.fakes.discord.models import NO_CONTENT, ApiError, _NoContent, _Request, _sid, form_error


class RestMixin(MessagesMixin):
    """The bot-authenticated REST routes besides commands and interactions."""

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
            "shards": self.shards,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 86_400_000,
                "max_concurrency": 1,
            },
        }

    async def _get_application(self, request: _Request) -> JSON:
        return self._application()

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
