"""Discord attachments as upload sources, streamed from the CDN to the host."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import discord
import httpx

from core.chevereto.models import UploadSource
from core.downloads import download_chunks
from core.service.types import MediaInput

SCHEME = "discord"


@dataclass(frozen=True, slots=True)
class AttachmentFile:
    """An attachment as core's batch upload sees it (a ``ChatFile``)."""

    url: str
    filename: str
    content_type: str
    file_size: int
    files: DiscordFiles

    @property
    def name(self) -> str:
        return self.filename

    @property
    def size(self) -> int | None:
        return self.file_size

    @property
    def ref(self) -> str:
        fields = {"url": self.url, "name": self.filename, "mime": self.content_type}
        return f"{SCHEME}:" + json.dumps({**fields, "size": self.file_size})

    async def media(self) -> MediaInput:
        return MediaInput(ref=self.ref, source=self.files.source(self))


class DiscordFiles:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    def of(self, attachment: discord.Attachment) -> AttachmentFile:
        return AttachmentFile(
            url=attachment.url,
            filename=attachment.filename.removeprefix("SPOILER_"),
            content_type=(attachment.content_type or "application/octet-stream").split(";")[0],
            file_size=attachment.size,
            files=self,
        )

    def source(self, file: AttachmentFile) -> UploadSource:
        def chunks() -> AsyncIterator[bytes]:
            return download_chunks(self._http, file.url, "Discord")

        return UploadSource.from_stream(
            chunks, size=file.file_size, filename=file.filename, content_type=file.content_type
        )

    def from_ref(self, rest: str) -> AttachmentFile:
        """The attachment a ``discord:`` ref names (``rest`` follows the scheme)."""
        data = json.loads(rest)
        return AttachmentFile(data["url"], data["name"], data["mime"], data["size"], self)

    async def reopen(self, rest: str) -> UploadSource:
        """The service's opener for ``discord:`` refs, after a restart."""
        return self.source(self.from_ref(rest))
