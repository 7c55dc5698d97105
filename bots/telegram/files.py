"""Telegram files as upload sources, streamed from the Bot API to the host.

A Bot API file URL holds the bot token, so it is only ever fetched here, by our own
HTTP client (whose logs are redacted), and never handed to the upload host as a URL.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from telegram.error import BadRequest, TelegramError
from telegram.ext import ExtBot

from bots.telegram.limits import ESSENTIAL_RETRIES
from core.chevereto.files import read_file_chunks
from core.chevereto.models import UploadSource
from core.downloads import download_chunks
from core.errors import MediaUnavailable, TooBig
from core.service.types import MediaInput

SCHEME = "telegram"
BOT_API_FILE_LIMIT_MB = 20
"""getFile on the cloud Bot API serves files up to 20 MB; a local server (--local) more."""


class BotApiFileTooBig(TooBig):
    """The Bot API will not hand this file to a bot: it is over its download limit."""

    def __init__(self, size: int | None) -> None:
        super().__init__("over the Bot API download limit", max_mb=BOT_API_FILE_LIMIT_MB)
        self.size = size


@dataclass(frozen=True, slots=True)
class TelegramFile:
    """A file in a message: enough to fetch it, now or after a restart."""

    file_id: str
    unique_id: str
    size: int | None
    filename: str
    mime: str

    @property
    def ref(self) -> str:
        fields = {"id": self.file_id, "uid": self.unique_id, "name": self.filename}
        return f"{SCHEME}:" + json.dumps({**fields, "mime": self.mime, "size": self.size})

    @classmethod
    def from_ref(cls, rest: str) -> TelegramFile:
        data = json.loads(rest)
        return cls(data["id"], data["uid"], data.get("size"), data["name"], data["mime"])


@dataclass(frozen=True, slots=True)
class FileInChat:
    """A Telegram file as core's batch upload sees it (a ``ChatFile``)."""

    file: TelegramFile
    files: TelegramFiles

    @property
    def name(self) -> str:
        return self.file.filename

    @property
    def size(self) -> int | None:
        return self.file.size

    async def media(self) -> MediaInput:
        return await self.files.media(self.file)


class TelegramFiles:
    """Fetches files from the Bot API; ``download_limit`` is what getFile serves (20 MB
    on the cloud API; None for a local server, which serves anything)."""

    def __init__(
        self, bot: ExtBot[Any], http: httpx.AsyncClient, download_limit: int | None
    ) -> None:
        self._bot = bot
        self._http = http
        self._download_limit = download_limit

    def in_chat(self, file: TelegramFile) -> FileInChat:
        return FileInChat(file, self)

    async def source(self, file: TelegramFile) -> UploadSource:
        """The file as a source. With its size known (Telegram almost always says), it
        costs no request now: getFile is asked when the upload starts (``ready``), so
        the job is recorded before any network call."""
        if file.size is None:
            location, size = await self._locate(file)
            return self._source(file, location, size)
        located: list[str] = []

        async def ready() -> None:
            if not located:
                located.append((await self._locate(file))[0])

        async def chunks() -> AsyncIterator[bytes]:
            await ready()
            async for chunk in self._read(located[0]):
                yield chunk

        return UploadSource.from_stream(
            chunks, size=file.size, filename=file.filename, content_type=file.mime, ready=ready
        )

    def _source(self, file: TelegramFile, location: str, size: int) -> UploadSource:
        def chunks() -> AsyncIterator[bytes]:
            return self._read(location)

        return UploadSource.from_stream(
            chunks, size=size, filename=file.filename, content_type=file.mime
        )

    def _read(self, location: str) -> AsyncIterator[bytes]:
        if Path(location).is_absolute():
            # A local Bot API server (--local) hands out paths on its own disk.
            return read_file_chunks(Path(location))
        return download_chunks(self._http, location, "Telegram")

    async def _locate(self, file: TelegramFile) -> tuple[str, int]:
        """getFile: where the file is and how big."""
        try:
            found = await self._bot.get_file(file.file_id, rate_limit_args=ESSENTIAL_RETRIES)
        except BadRequest as exc:
            if "too big" in exc.message.lower():
                raise BotApiFileTooBig(file.size) from None
            raise MediaUnavailable(f"Telegram did not hand over the file ({exc.message})") from None
        except TelegramError as exc:
            raise MediaUnavailable(f"Telegram did not hand over the file ({exc.message})") from None
        size = found.file_size or file.size
        if found.file_path is None or size is None:
            raise MediaUnavailable("Telegram did not say where or how big the file is")
        return found.file_path, size

    async def media(self, file: TelegramFile) -> MediaInput:
        """The file ready to stream; refused first if the Bot API would not serve it."""
        limit = self._download_limit
        if limit is not None and file.size is not None and file.size > limit:
            raise BotApiFileTooBig(file.size)
        return MediaInput(ref=file.ref, source=await self.source(file))

    async def reopen(self, rest: str) -> UploadSource:
        """The service's opener for ``telegram:`` refs, after a restart."""
        return await self.source(TelegramFile.from_ref(rest))
