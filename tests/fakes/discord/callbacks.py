"""REST routes for interactions in the Discord fake: the initial callback
(``/interactions/{id}/{token}/callback``), webhook follow-ups and @original edits."""

from __future__ import annotations

import copy
from typing import Any

from tests.fakes.discord.constants import (
    APPLICATION_COMMAND,
    APPLICATION_COMMAND_AUTOCOMPLETE_RESULT,
    AUTOCOMPLETE,
    CHANNEL_MESSAGE_WITH_SOURCE,
    CHAT_INPUT,
    DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
    DEFERRED_UPDATE_MESSAGE,
    EPHEMERAL,
    JSON,
    LOADING,
    MESSAGE_COMPONENT,
    MODAL,
    MODAL_SUBMIT,
    UPDATE_MESSAGE,
)
from tests.fakes.discord.messages import MessagesMixin
from tests.fakes.discord.models import (
    NO_CONTENT,
    ApiError,
    Callback,
    _Interaction,
    _NoContent,
    _Request,
    _sid,
    bad_length,
    form_error,
)


class CallbacksMixin(MessagesMixin):
    """Answering interactions: callbacks, follow-ups, webhook message edits."""

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
