"""The Discord fake's gateway: the WebSocket (HELLO, heartbeats, IDENTIFY, RESUME, member
chunks), sessions that keep their events for RESUME, and dispatching events per shard and
intents."""

from __future__ import annotations

import contextlib
import copy
import json
import secrets
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.discord.constants import (
    API_VERSION,
    JSON,
    OP_DISPATCH,
    OP_HEARTBEAT,
    OP_HEARTBEAT_ACK,
    OP_HELLO,
    OP_IDENTIFY,
    OP_INVALID_SESSION,
    OP_PRESENCE_UPDATE,
    OP_RECONNECT,
    OP_REQUEST_GUILD_MEMBERS,
    OP_RESUME,
    OP_VOICE_STATE_UPDATE,
    PRIVILEGED_INTENTS,
    Intent,
)
from tests.fakes.discord.models import Delivery, _Connection, _Session, _sid
from tests.fakes.discord.registry import RegistryMixin


class GatewayMixin(RegistryMixin):
    """The gateway WebSocket, its sessions, and sending events to them."""

    # --- dispatching ---------------------------------------------------------------------

    async def dispatch(self, event: str, data: JSON) -> JSON:
        """Send a dispatch (op 0) to every session of the event's shard, with its next
        sequence number."""
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
            self.deliveries.append(Delivery(event, session.shard, session.id, shown))
            payload = sent
            if session.connection is not None:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await session.connection.send(sent)
        return payload

    def _for_session(self, session: _Session, event: str, data: JSON) -> JSON | None:
        """``data`` as this session sees it (shard, intents), or None if not sent to it."""
        guild_id = _guild_of(event, data)
        if not (session.has_guild(guild_id) if guild_id is not None else session.shard[0] == 0):
            return None  # another shard's guild; DMs and the rest go to shard 0
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

    async def close_gateway(self, code: int = 4000, message: str = "") -> None:
        """Close every gateway connection with ``code`` (4000: the client resumes)."""
        for connection in list(self.connections):
            await connection.close(code, message)

    async def request_reconnect(self) -> None:
        """Send RECONNECT (op 7) on every connection: the client reconnects and resumes."""
        for connection in list(self.connections):
            await connection.send({"op": OP_RECONNECT, "d": None, "s": None, "t": None})

    async def wait_ready(self, timeout: float = 5.0, *, shard: int | None = None) -> None:
        """Wait until a client has identified (for ``shard``, if given) and got READY and
        its GUILD_CREATEs."""

        def probe() -> bool | None:
            connected = [s for s in self._sessions.values() if s.connection is not None]
            return True if any(shard in (None, s.shard[0]) for s in connected) else None

        which = "" if shard is None else f" shard {shard}"
        await self._wait_until(
            probe, timeout, lambda: f"no client identified{which} in {timeout} s"
        )

    def shards_given(self, payload: JSON, event: str | None = None) -> list[int]:
        """The shard id of every session that was sent the dispatch of ``payload`` (a
        message or an interaction, by its id; ``event`` to pick one), in order."""
        wanted = str(payload["id"])
        return [
            delivery.shard[0]
            for delivery in self.deliveries
            if str(delivery.data.get("id")) == wanted and event in (None, delivery.event)
        ]

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
        shard = _shard_of(data.get("shard", [0, 1]))
        if shard is None:
            await connection.close(4010, "Invalid shard.")
            return
        intents = data.get("intents")
        if not isinstance(intents, int) or intents < 0 or intents >= 1 << 26:
            await connection.close(4013, "Invalid intent(s).")
            return
        if intents & PRIVILEGED_INTENTS and not self.privileged_intents_allowed:
            await connection.close(4014, "Disallowed intent(s).")
            return
        session = _Session(secrets.token_hex(16), intents, data, shard=shard)
        guilds = [guild_id for guild_id in self._guilds if session.has_guild(guild_id)]
        if len(guilds) > self.max_guilds_per_shard:
            await connection.close(4011, "Sharding required.")
            return
        session.connection = connection
        connection.session = session
        ready: JSON = {
            "v": API_VERSION,
            "user": self._me(),
            "guilds": [{"id": _sid(guild_id), "unavailable": True} for guild_id in guilds],
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
        for guild_id in guilds:
            await self._send_event(session, "GUILD_CREATE", self.guild_payload(guild_id))
        self._sessions[session.id] = session
        self._notify()

    async def _send_event(self, session: _Session, event: str, data: JSON) -> None:
        session.seq += 1
        payload = {"op": OP_DISPATCH, "t": event, "s": session.seq, "d": data}
        session.events.append(payload)
        self.deliveries.append(Delivery(event, session.shard, session.id, data))
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
            session = connection.session
            if guild_id not in self._guilds or session is None or not session.has_guild(guild_id):
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
            await self._send_event(session, "GUILD_MEMBERS_CHUNK", chunk)


def _guild_of(event: str, data: JSON) -> int | None:
    """The guild an event is about (its shard's sessions get it), or None (shard 0's)."""
    raw = data.get("id") if event in ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE") else None
    raw = raw if raw is not None else data.get("guild_id")
    return int(raw) if raw is not None else None


def _shard_of(value: Any) -> tuple[int, int] | None:
    """IDENTIFY's ``shard: [id, count]`` when Discord would take it, else None (4010)."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    if not all(isinstance(part, int) and not isinstance(part, bool) for part in value):
        return None
    shard_id, count = value
    return (shard_id, count) if count >= 1 and 0 <= shard_id < count else None
