"""Application commands in the Discord fake: the REST routes that sync them (bulk
overwrite, create, edit, delete), Discord's checks on them, and ``commands()``."""

from __future__ import annotations

import copy
from typing import Any

from tests.fakes.discord.constants import (
    _CHAT_COMMAND_NAME,
    CHAT_INPUT,
    JSON,
    SUB_COMMAND,
    SUB_COMMAND_GROUP,
)
from tests.fakes.discord.models import (
    NO_CONTENT,
    ApiError,
    _NoContent,
    _Request,
    _sid,
    bad_length,
    form_error,
    too_long,
)
from tests.fakes.discord.state import FakeState


class CommandsMixin(FakeState):
    """Synced application commands, global or per guild."""

    def commands(self, guild_id: int | None = None) -> list[JSON]:
        """The synced global commands, or a guild's."""
        return copy.deepcopy(self._commands.get(guild_id, []))

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
