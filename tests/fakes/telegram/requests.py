"""Reading a request: parameters from the query string and a JSON, urlencoded or multipart
body (file parts spooled to disk), and single parameters the way the server reads them."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web

from tests.fakes.server import Spool
from tests.fakes.telegram.models import JSON, READ_CHUNK, ApiError, Call, UploadedFile

# Form values are JSON-encoded unless the parameter is a string: these stay as sent,
# so a text "123" is not read as a number.
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "url",
        "secret_token",
        "ip_address",
        "callback_query_id",
        "inline_message_id",
        "language_code",
        "description",
        "short_description",
        "name",
        "action",
        "file_id",
        "emoji",
        "title",
        "performer",
        "file_name",
        "business_connection_id",
        "message_effect_id",
        "custom_title",
        "photo",
        "document",
        "video",
        "animation",
        "audio",
        "voice",
        "sticker",
        "video_note",
        "thumbnail",
        "certificate",
        "query",
        "question",
        "explanation",
        "first_name",
        "last_name",
        "phone_number",
        "address",
        "payload",
        "currency",
        "provider_token",
        "start_parameter",
    }
)
# Objects that a JSON body may still carry as JSON strings (PTB's habit in forms).
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "allowed_updates",
        "commands",
        "scope",
        "media",
        "reply_parameters",
        "link_preview_options",
        "message_ids",
    }
)


def decode_form_value(name: str, value: str) -> Any:
    """A form field as the server reads it: JSON unless the parameter is a string."""
    if name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # "@channel" as chat_id, a bare word as an enum value


def decode_json_value(name: str, value: Any) -> Any:
    if name in _JSON_PARAMS and isinstance(value, str):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


async def _spool_part(part: BodyPartReader, directory: Path, limit: int) -> UploadedFile:
    spool = Spool(directory)
    try:
        while chunk := await part.read_chunk(READ_CHUNK):
            if spool.size + len(chunk) > limit:
                raise ApiError(413, "Request Entity Too Large")
            spool.write(chunk)
    finally:
        spool.close()
    return UploadedFile(part.filename, spool.size, part.headers.get("Content-Type"), spool.path)


async def read_params(
    request: web.Request, directory: Path, limit: int
) -> tuple[JSON, dict[str, UploadedFile]]:
    """Parameters (query string and body, JSON-decoded) and spooled file parts."""
    params = {name: decode_form_value(name, value) for name, value in request.query.items()}
    files: dict[str, UploadedFile] = {}
    if not request.can_read_body:
        return params, files
    if request.content_type == "application/json":
        params.update(await _json_body(request))
    elif request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        params.update(
            {name: decode_form_value(name, v) for name, v in form.items() if isinstance(v, str)}
        )
    elif request.content_type == "multipart/form-data":
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                await part.release()
            elif part.filename is None:
                params[part.name or ""] = decode_form_value(part.name or "", await part.text())
            else:
                files[part.name or ""] = await _spool_part(part, directory, limit)
    else:
        await request.release()
    return params, files


async def _json_body(request: web.Request) -> JSON:
    try:
        body = json.loads(await request.text() or "{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ApiError(400, "Bad Request: can't parse JSON object")
    return {name: decode_json_value(name, value) for name, value in body.items()}


def _required(call: Call, name: str) -> Any:
    value = call.params.get(name)
    if value is None or value == "":
        raise ApiError(400, f"Bad Request: {name} is empty")
    return value


def _int(call: Call, name: str, default: int | None = None) -> int:
    value = call.params.get(name)
    if value is None and default is not None:
        return default
    value = _required(call, name)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Bad Request: invalid {name} specified") from None


def _flag(value: Any) -> bool:
    return value is True or value in ("true", "True", "1", 1)
