"""What the host's answers mean: an :class:`UploadedMedia`, or one of our errors.

Every API error is HTTP 400 with ``error.code`` and ``error.message``; codes are
shared between unrelated errors (130 is "empty source" and "flood"), so the
message is read too. Anything that is not the API speaking (an HTML error page, a
proxy's 502, half a JSON document) means the host is unavailable for now.

Success answers are read leniently on types (older servers send numbers as
strings) and strictly on the fields a bot cannot do without.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import SecretStr

from core.chevereto.models import MediaType, UploadedMedia
from core.errors import (
    BadKey,
    DuplicateUpload,
    EndpointMisconfigured,
    FloodLimited,
    HostUnavailable,
    NotMedia,
    PicloudError,
    RequestDenied,
    TooBig,
    UrlUploadsDisabled,
)

# Over PHP's post_max_size the body is dropped whole and the host answers as if
# nothing was sent; that is only plausible for a body this large.
DROPPED_BODY_SUSPECT_BYTES = 2 * 1024 * 1024
# Storage full does not fix itself in seconds: "host down" for users, not retried.
STORAGE_FULL_CODES = frozenset({104, 900})
NOT_MEDIA_CODES = frozenset({120, 610, 612, 613, 614})
TOO_BIG_CODES = frozenset({400, 601})
DUPLICATE_CODES = frozenset({101, 102, 103})
HOST_MESSAGE_LIMIT = 200

_MAX_MB = re.compile(r"max\s*(\d+(?:\.\d+)?)\s*MB", re.IGNORECASE)
_TRUE = frozenset({"1", "true", "yes"})


@dataclass(frozen=True, slots=True)
class SentBody:
    """What we sent, which some answers are read against."""

    size: int
    key_sent: bool = True

    @property
    def maybe_dropped(self) -> bool:
        """Could PHP have dropped this body for exceeding post_max_size?"""
        return self.key_sent and self.size > DROPPED_BODY_SUSPECT_BYTES


def read_upload_answer(response: httpx.Response, sent: SentBody) -> UploadedMedia:
    """The uploaded media, or raise the error this answer stands for."""
    _check_endpoint(response.status_code)
    document = _json_object(response)
    if document is None:
        raise HostUnavailable(
            f"the upload host answered HTTP {response.status_code} without the API's JSON"
        )
    error = document.get("error")
    if isinstance(error, Mapping):
        raise api_error(error, sent)
    image = document.get("image")
    if response.status_code != httpx.codes.OK or not isinstance(image, Mapping):
        raise HostUnavailable(
            f"unexpected answer from the upload host (HTTP {response.status_code})"
        )
    return parse_media(image)


def is_storage_full(exc: BaseException) -> bool:
    return isinstance(exc, HostUnavailable) and exc.code in STORAGE_FULL_CODES


def _check_endpoint(status: int) -> None:
    # The API answers 200 or 400; a redirect or a 404 means the URL is not the API
    # (a trailing slash, a query string, a wrong path). Following a redirect would
    # turn the POST into a GET and lose the body.
    if 300 <= status < 400:
        raise EndpointMisconfigured(
            f"the upload URL answered with a redirect (HTTP {status}): check PICLOUD_API_URL "
            "(no trailing slash, no query string)",
            status=status,
        )
    if status == httpx.codes.NOT_FOUND:
        raise EndpointMisconfigured(
            "the upload URL was not found (HTTP 404): check PICLOUD_API_URL", status=status
        )


def _json_object(response: httpx.Response) -> Mapping[str, Any] | None:
    """The answer as a JSON object, whatever its Content-Type says; else None."""
    try:
        document = json.loads(response.content)
    except ValueError:  # not JSON, truncated JSON, not UTF-8
        return None
    return document if isinstance(document, Mapping) else None


def api_error(error: Mapping[str, Any], sent: SentBody) -> PicloudError:
    """The error an API ``error`` object stands for (the table in upload-api.md)."""
    code = _int(error.get("code"))
    message = _host_message(error.get("message"))
    said = f"the upload host said: {message}" if message else "the upload host refused"
    if code == 100:
        if message.lower().startswith("no key") and sent.maybe_dropped:
            return _dropped_body(code)
        return BadKey(f"{said} (the API key is not valid on this site)", code=code)
    if code == 130:
        if "flood" in message.lower():
            return FloodLimited(f"{said}: too many uploads for now", code=code)
        if sent.maybe_dropped:
            return _dropped_body(code)
        return NotMedia(said, code=code)
    if code in NOT_MEDIA_CODES:
        return NotMedia(said, code=code)
    if code == 401:
        return RequestDenied(said, code=code)
    if code == 403:
        return UrlUploadsDisabled(said, code=code)
    if code in TOO_BIG_CODES:
        return TooBig(said, code=code, max_mb=_max_mb(message))
    if code in DUPLICATE_CODES:
        return DuplicateUpload(said, code=code)
    # Storage full (104/900), internal errors (600/666/0) and codes we do not know.
    return HostUnavailable(said, code=code)


def _dropped_body(code: int) -> TooBig:
    return TooBig(
        "the file is larger than the upload host accepts (the body was dropped)", code=code
    )


def _max_mb(message: str) -> int | None:
    match = _MAX_MB.search(message)
    return int(float(match.group(1))) if match else None


def _host_message(value: object) -> str:
    """The host's short error text, single line and bounded, for our messages."""
    if not isinstance(value, str):
        return ""
    text = " ".join(value.split())
    return text if len(text) <= HOST_MESSAGE_LIMIT else text[: HOST_MESSAGE_LIMIT - 1] + "…"


def parse_media(image: Mapping[str, Any]) -> UploadedMedia:
    """The fields a bot uses from a success answer's ``image`` object."""
    id_encoded = _str(image.get("id_encoded"))
    delete_url = _str(image.get("delete_url"))
    mime = _str(image.get("mime")) or _str(_nested(image, "image", "mime"))
    media_type = _media_type(_str(image.get("type")), mime)
    if not id_encoded or not delete_url or media_type is None:
        raise HostUnavailable("unexpected answer from the upload host: fields missing")
    approved = _bool(image.get("is_approved"), default=True)
    urls = _urls(image, media_type) if approved else _NO_URLS
    if approved and (urls.url_viewer is None or urls.url is None):
        raise HostUnavailable("unexpected answer from the upload host: links missing")
    return UploadedMedia(
        id_encoded=id_encoded,
        media_type=media_type,
        mime=mime or "",
        size=_int(image.get("size")) or 0,
        delete_url=SecretStr(delete_url),
        is_approved=approved,
        url_viewer=urls.url_viewer,
        url=urls.url,
        thumb_url=urls.thumb,
        medium_url=urls.medium,
        display_url=urls.display,
        width=_int(image.get("width")),
        height=_int(image.get("height")),
        title=_str(image.get("title")),
        checksum=_str(image.get("checksum")),
        duration=_float(image.get("duration")),
        expires_at=_gmt(image.get("expiration_date_gmt")),
    )


@dataclass(frozen=True, slots=True)
class _Urls:
    url_viewer: str | None = None
    url: str | None = None
    thumb: str | None = None
    medium: str | None = None
    display: str | None = None


_NO_URLS = _Urls()


def _urls(image: Mapping[str, Any], media_type: MediaType) -> _Urls:
    # A video's thumb and display image are made from its poster frame: fall back
    # to the frame when an older server leaves them out.
    frame = _str(image.get("url_frame")) or _str(_nested(image, "frame", "url"))
    is_video = media_type is MediaType.VIDEO
    return _Urls(
        url_viewer=_str(image.get("url_viewer")),
        url=_str(image.get("url")),
        thumb=_str(_nested(image, "thumb", "url")) or (frame if is_video else None),
        medium=_str(_nested(image, "medium", "url")),
        display=_str(image.get("display_url")) or (frame if is_video else None),
    )


def _media_type(declared: str | None, mime: str | None) -> MediaType | None:
    for candidate in (declared, (mime or "").partition("/")[0]):
        if candidate in (MediaType.IMAGE, MediaType.VIDEO):
            return MediaType(candidate)
    return None


def _nested(mapping: Mapping[str, Any], outer: str, inner: str) -> object:
    value = mapping.get(outer)
    return value.get(inner) if isinstance(value, Mapping) else None


def _str(value: object) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float | str):
        try:
            return int(float(value))
        except (ValueError, OverflowError):
            return None
    return None


def _float(value: object) -> float | None:
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _bool(value: object, *, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in _TRUE
    if isinstance(value, bool | int | float):
        return bool(value)
    return default


def _gmt(value: object) -> datetime | None:
    """``expiration_date_gmt`` ("2024-10-10 20:28:00") as an aware UTC datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
