"""The Discord fake's messages: create and edit bodies checked like Discord (content,
embeds, components, attachments), stored, edited and deleted with their gateway events;
``post_message`` and message inspection."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tests.fakes.discord.constants import (
    _ATTACHMENT_URL,
    _MENTION,
    _SETTABLE_FLAGS,
    ACTION_ROW,
    BUTTON,
    ELSEWHERE,
    EPHEMERAL,
    IS_COMPONENTS_V2,
    JSON,
    LINK_BUTTON_STYLE,
    LOADING,
    SUPPRESS_EMBEDS,
)
from tests.fakes.discord.gateway import GatewayMixin
from tests.fakes.discord.models import (
    ApiError,
    UploadedFile,
    _id_of,
    _iso,
    _sid,
    bad_length,
    form_error,
    too_long,
)


class MessagesMixin(GatewayMixin):
    """The message store, users' messages, and what the bot posted."""

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
        """``user`` posts a message: stored, then MESSAGE_CREATE (content per intents),
        unless the bot is not in that channel (``elsewhere``)."""
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
        if not channel_json.get(ELSEWHERE):  # the bot sees only where it is
            await self._broadcast("MESSAGE_CREATE", self._event_message(message))
        return self._event_message(message)

    # --- inspection ----------------------------------------------------------------------

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
