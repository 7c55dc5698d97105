"""Conversions between stored rows and the service's neutral values."""

from __future__ import annotations

from typing import Any

from core.chevereto.models import MediaType, UploadOptions
from core.db.tables import Upload, as_utc
from core.errors import PicloudError, error_class_for_kind
from core.expiry import Expiry, parse_expiry
from core.refs import ChatId, ChatRef, Platform, UploadId, UserId, UserRef
from core.service.types import UploadView


def options_to_dict(options: UploadOptions) -> dict[str, Any]:
    stored = {
        "title": options.title,
        "description": options.description,
        "tags": list(options.tags),
        "album_id": options.album_id,
        "category_id": options.category_id,
        "width": options.width,
        "expiration": options.expiration.iso if options.expiration else None,
        "nsfw": options.nsfw,
    }
    return {name: value for name, value in stored.items() if value not in (None, [], False)}


def options_from_dict(stored: dict[str, Any]) -> UploadOptions:
    expiration: Expiry | None = None
    if stored.get("expiration"):
        expiration = parse_expiry(str(stored["expiration"]))
    return UploadOptions(
        title=stored.get("title"),
        description=stored.get("description"),
        tags=tuple(stored.get("tags", ())),
        album_id=stored.get("album_id"),
        category_id=stored.get("category_id"),
        width=stored.get("width"),
        expiration=expiration,
        nsfw=bool(stored.get("nsfw", False)),
    )


def view_of(row: Upload, *, repeated: bool = False, job_id: UploadId | None = None) -> UploadView:
    """``job_id``: the job this answers, when it is not ``row``'s own (a repeat)."""
    return UploadView(
        upload_id=UploadId(row.public_id),
        media_type=MediaType(row.media_type or MediaType.IMAGE),
        title=row.title,
        url_viewer=row.url_viewer,
        url=row.url_direct,
        thumb_url=row.url_thumb,
        medium_url=row.url_medium,
        display_url=row.url_display,
        size=row.size,
        is_approved=row.is_approved,
        expires_at=as_utc(row.expires_at) if row.expires_at else None,
        created_at=as_utc(row.created_at),
        repeated=repeated,
        job_id=job_id if repeated else UploadId(row.public_id),
    )


def owner_of(row: Upload) -> UserRef:
    return UserRef(Platform(row.platform), UserId(row.user_id))


def chat_of(row: Upload) -> ChatRef | None:
    return ChatRef(Platform(row.platform), ChatId(row.chat_id)) if row.chat_id else None


def stored_error(row: Upload) -> PicloudError:
    """The error a failed job ended with, rebuilt from its stored kind."""
    kind = row.last_error or "error"
    return error_class_for_kind(kind)(f"upload failed ({kind})")
