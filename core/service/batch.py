"""A message's media uploaded together, each item on its own: the rules both front-ends
share. Every item ends as an outcome (a result, an error, or refused for its kind), so
one answer can list them all and one bad item never sinks the others."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from core.errors import PicloudError
from core.links import LinkFetcher
from core.refs import Platform, UploadId
from core.service.types import MediaInput, UploadRequest, UploadView
from core.service.uploads import UploadService


class ChatFile(Protocol):
    """A file in a chat message, as its front-end knows it."""

    @property
    def name(self) -> str: ...

    @property
    def size(self) -> int | None: ...

    async def media(self) -> MediaInput:
        """Check the platform's own limits, then open the file for streaming."""
        ...


@dataclass(frozen=True, slots=True)
class Link:
    """A link in a message's text: fetched by the guarded link fetcher."""

    url: str

    @property
    def name(self) -> str:
        return self.url


@dataclass(frozen=True, slots=True)
class Refused:
    """Media the host cannot take; ``what`` is a msgid naming its kind for the user."""

    what: str

    @property
    def name(self) -> str:
        return self.what


Item = ChatFile | Link | Refused


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    item: Item
    view: UploadView | None = None
    error: PicloudError | None = None

    @property
    def refused(self) -> bool:
        return isinstance(self.item, Refused)

    @property
    def job_id(self) -> UploadId | None:
        """The recorded job whose answer this outcome is, if one was recorded."""
        if self.view is not None:
            return self.view.job_id
        return self.error.job_id if self.error is not None else None


def answered_jobs(outcomes: Sequence[ItemOutcome]) -> list[UploadId]:
    """The jobs an answer listing ``outcomes`` answers."""
    return [job for outcome in outcomes if (job := outcome.job_id) is not None]


RequestFor = Callable[[Item, MediaInput], UploadRequest]
"""Builds the upload request for an item once its media is open (who, where, options)."""


async def fresh_items(
    service: UploadService, platform: Platform, items: Sequence[Item], origins: Sequence[str]
) -> tuple[list[Item], list[str]]:
    """An event handled again after a restart: its items not recorded as jobs before
    (those are answered by the service). Refused items are dropped once any item was
    recorded: their refusal was answered with it."""
    accepted = await service.accepted(platform, origins)
    if not accepted:
        return list(items), list(origins)
    kept = [
        (item, origin)
        for item, origin in zip(items, origins, strict=True)
        if origin not in accepted and not isinstance(item, Refused)
    ]
    return [item for item, _origin in kept], [origin for _item, origin in kept]


async def upload_items(
    service: UploadService, links: LinkFetcher, items: Sequence[Item], request_for: RequestFor
) -> list[ItemOutcome]:
    """Upload every item at once (the service's pool paces them); outcomes in order."""
    return list(await asyncio.gather(*(_upload(service, links, i, request_for) for i in items)))


async def _upload(
    service: UploadService, links: LinkFetcher, item: Item, request_for: RequestFor
) -> ItemOutcome:
    if isinstance(item, Refused):
        return ItemOutcome(item)
    try:
        if isinstance(item, Link):
            async with await links.open(item.url) as fetched:
                view = await service.upload(request_for(item, fetched.media))
        else:
            # Our own limit first: nothing is fetched for a file the site would refuse.
            service.check_size(item.size)
            view = await service.upload(request_for(item, await item.media()))
    except PicloudError as error:
        return ItemOutcome(item, error=error)
    return ItemOutcome(item, view=view)
