"""Registries of the Discord fake: users, guilds, roles, channels, members, attachments
(with signed CDN URLs), Discord's permission maths, and the guild, user and application
payloads."""

from __future__ import annotations

import copy
import hashlib
import hmac
import mimetypes
from collections.abc import Iterable
from pathlib import Path

from tests.fakes.chevereto import SNIFF_BYTES, dimensions, sniff
from tests.fakes.discord.constants import (
    _APP_FLAGS_PRIVILEGED,
    _ATTACHMENT_IS_SPOILER,
    _NEEDS_SEND,
    ALL_PERMISSIONS,
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE,
    DM_PERMISSIONS,
    ELSEWHERE,
    JSON,
    OWNER_ID,
    USER_APP_PERMISSIONS,
    Perm,
)
from tests.fakes.discord.models import _Attachment, _id_of, _iso, _sid
from tests.fakes.discord.state import FakeState


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


class RegistryMixin(FakeState):
    """Registering users, guilds, roles, channels, members and attachments."""

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

    def elsewhere(self, *, server: bool = True) -> JSON:
        """A channel the bot is not in: a text channel of a server that never added it
        (``server``), else a group DM. Only a user who installed the app can use its
        commands there (``slash_command``/``message_command`` check the command allows
        it); the bot itself can read and send nothing there."""
        channel_id = self._snowflake()
        channel: JSON = {"id": _sid(channel_id), "flags": 0, "last_message_id": None}
        if server:
            channel |= {
                "type": 0,
                "guild_id": _sid(self._snowflake()),
                "name": "general",
                "position": 0,
                "permission_overwrites": [],
                "topic": None,
                "nsfw": False,
                "parent_id": None,
                "rate_limit_per_user": 0,
            }
        else:
            channel |= {"type": 3, "name": None, "recipients": []}
        channel[ELSEWHERE] = True
        self._channels[channel_id] = channel
        self._messages.setdefault(channel_id, {})
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
            members[user_id] = member_fields(_iso(self.clock()))
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
        if channel.get(ELSEWHERE):
            return USER_APP_PERMISSIONS
        guild_id = channel.get("guild_id")
        if guild_id is None:
            return DM_PERMISSIONS
        return self.permissions(int(guild_id), int(channel["id"]), self.bot_id)

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


def member_fields(joined_at: str) -> JSON:
    """A guild member as Discord describes one, with no roles yet (the user apart)."""
    return {
        "roles": [],
        "joined_at": joined_at,
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
