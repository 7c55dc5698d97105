"""Injecting interactions into the Discord fake (``slash_command``, ``message_command``,
``press_component``, ``submit_modal``) and inspecting the bot's answers to them."""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from tests.fakes.discord.constants import (
    _SELECTS,
    ACTION_ROW,
    APPLICATION_COMMAND,
    CHAT_INPUT,
    DEFAULT_EVERYONE,
    ELSEWHERE,
    JSON,
    LABEL,
    MESSAGE_COMMAND,
    MESSAGE_COMPONENT,
    MODAL,
    MODAL_SUBMIT,
    OPTION_ATTACHMENT,
    OPTION_BOOLEAN,
    OPTION_CHANNEL,
    OPTION_INTEGER,
    OPTION_MENTIONABLE,
    OPTION_NUMBER,
    OPTION_ROLE,
    OPTION_STRING,
    OPTION_USER,
    STRING_SELECT,
    SUB_COMMAND,
    SUB_COMMAND_GROUP,
    TEXT_INPUT,
)
from tests.fakes.discord.gateway import GatewayMixin
from tests.fakes.discord.models import Callback, _id_of, _Interaction, _sid
from tests.fakes.discord.registry import member_fields


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


class InteractionsMixin(GatewayMixin):
    """Interactions sent to the bot, and their state: callback, @original, follow-ups."""

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
        self._check_usable_there(command, channel)
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
        self._check_usable_there(command, channel)
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
        forged: bool = False,
    ) -> JSON:
        """``user`` presses the button (or picks ``values`` in the select) ``custom_id``;
        ``forged``: a button the message does not carry (a modified client's)."""
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
        if component is None and forged:
            component = {"type": 2, "custom_id": custom_id}
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
            "channel": {k: v for k, v in channel_json.items() if k != ELSEWHERE},
            "app_permissions": str(self._bot_permissions(channel_json)),
        }
        if channel_json.get(ELSEWHERE):
            payload.update(_installed_by_user(self.users[user_id], channel_json))
        elif guild is not None:
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

    # --- inspection ----------------------------------------------------------------------

    def _state(self, interaction: JSON) -> _Interaction:
        state = self._interactions.get(int(interaction["id"]))
        if state is None:
            raise ValueError(f"no interaction {interaction['id']}")
        return state

    def response(self, interaction: JSON) -> Callback | None:
        """The interaction's callback, if the bot answered it."""
        return self._state(interaction).callback

    def _check_usable_there(self, command: JSON, channel: JSON) -> None:
        """Where the bot is not, a client offers only commands a user may install and
        use in such a place (``integration_types`` 1, ``contexts`` 0 or 2)."""
        found = self._channels.get(_id_of(channel))
        if found is None or not found.get(ELSEWHERE):
            return
        context = SERVER_CONTEXT if "guild_id" in found else GROUP_DM_CONTEXT
        if USER_INSTALL not in (command.get("integration_types") or [GUILD_INSTALL]):
            raise ValueError(f"{command['name']!r} cannot be installed by a user")
        if context not in (command.get("contexts") or [SERVER_CONTEXT, BOT_DM_CONTEXT]):
            raise ValueError(f"{command['name']!r} is not offered in context {context}")

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


GUILD_INSTALL, USER_INSTALL = 0, 1
SERVER_CONTEXT, BOT_DM_CONTEXT, GROUP_DM_CONTEXT = 0, 1, 2


def _installed_by_user(user: JSON, channel: JSON) -> JSON:
    """What an interaction carries where only ``user`` installed the app: no member
    data beyond their own, the server's id alone, the user as the owner."""
    owners = {str(USER_INSTALL): user["id"]}
    if "guild_id" not in channel:
        return {
            "user": copy.deepcopy(user),
            "authorizing_integration_owners": owners,
            "context": GROUP_DM_CONTEXT,
        }
    member: JSON = {
        "user": copy.deepcopy(user),
        **member_fields("2026-01-01T00:00:00+00:00"),
        "permissions": str(DEFAULT_EVERYONE),
    }
    return {
        "guild_id": channel["guild_id"],
        "guild": {"id": channel["guild_id"], "locale": "en-US", "features": []},
        "guild_locale": "en-US",
        "member": member,
        "authorizing_integration_owners": owners,
        "context": SERVER_CONTEXT,
    }
