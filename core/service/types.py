"""The neutral values that cross between a front-end and the upload service."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pydantic import SecretStr

from core.chevereto.files import read_file_chunks
from core.chevereto.models import (
    DelayCallback,
    MediaType,
    ProgressCallback,
    RemoteUrl,
    UploadOptions,
    UploadSource,
)
from core.errors import PicloudError
from core.refs import ChatRef, UploadId, UserRef

FILE_SCHEME = "file"


@dataclass(frozen=True, slots=True)
class MediaInput:
    """Media to upload, and how to get it again after a restart.

    ``ref`` is ``scheme:rest`` (``file:/abs/path``, a front-end's own scheme for its
    platform's files); the service finds the opener registered for the scheme when
    it resumes a job. ``content_md5``, when known before uploading, lets a repeat be
    answered from the records without touching the host.
    """

    ref: str
    source: UploadSource | RemoteUrl
    content_md5: str | None = None

    @classmethod
    async def from_path(cls, path: Path) -> MediaInput:
        path = await asyncio.to_thread(path.resolve)
        digest = hashlib.md5(usedforsecurity=False)
        async for chunk in read_file_chunks(path):
            digest.update(chunk)
        source = await asyncio.to_thread(UploadSource.from_path, path)
        return cls(ref=f"{FILE_SCHEME}:{path}", source=source, content_md5=digest.hexdigest())


SourceOpener = Callable[[str], Awaitable[UploadSource | RemoteUrl]]
"""Reopens the media of a stored job from the ``rest`` of its ``scheme:rest`` ref."""


async def open_file_ref(rest: str) -> UploadSource:
    return await asyncio.to_thread(UploadSource.from_path, Path(rest))


@dataclass(frozen=True, slots=True)
class UploadRequest:
    """Who uploads what, where; ``api_key`` (the shell's ``--key``) beats stored keys."""

    user: UserRef
    media: MediaInput
    chat: ChatRef | None = None
    options: UploadOptions = field(default_factory=UploadOptions)
    reply_target: str | None = None
    api_key: SecretStr | None = None
    progress: ProgressCallback | None = None
    on_delay: DelayCallback | None = None
    """Told when the upload waits out a passing failure (host busy, database locked)."""
    origin: str | None = None
    """What the platform handed us, ``chat:message:item``: one job per origin, ever."""
    reply_secret: SecretStr | None = None
    """What answering needs and must be kept secret (a Discord interaction token)."""


@dataclass(frozen=True, slots=True)
class UploadView:
    """An upload as a front-end may show it. There is no delete link here, on purpose."""

    upload_id: UploadId
    media_type: MediaType
    title: str | None
    url_viewer: str | None
    url: str | None
    thumb_url: str | None
    medium_url: str | None
    display_url: str | None
    size: int | None
    is_approved: bool
    expires_at: datetime | None
    created_at: datetime
    repeated: bool = False
    job_id: UploadId | None = None
    """The job this view answers (a repeat answers a new job with an earlier upload)."""

    @property
    def thumbnail(self) -> str | None:
        """A small picture of the upload, for lists and previews (a video's poster)."""
        return self.thumb_url or self.display_url or self.medium_url

    @property
    def picture(self) -> str | None:
        """The upload shown large, as its page shows it: the medium size, else the image
        itself (``display_url``); a video's poster."""
        return self.display_url or self.medium_url or self.thumb_url


@dataclass(frozen=True, slots=True)
class LostCopy:
    """A copy the host stored on an earlier try whose answer never reached us: no link,
    no delete button; the user finds it among their images on the site."""

    job_id: UploadId
    name: str
    sent_at: datetime
    content_md5: str | None


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """How a job that outlived its caller ended; handed to the front-end to answer."""

    upload_id: UploadId
    user: UserRef
    chat: ChatRef | None
    reply_target: str | None
    result: UploadView | None
    error: PicloudError | None
    reply_secret: SecretStr | None = None


Deliver = Callable[[JobOutcome], Awaitable[None]]
