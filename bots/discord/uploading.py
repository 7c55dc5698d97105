"""Uploading what an interaction or a message carries, and answering it."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import discord

from bots.discord.answers import Answer, render
from bots.discord.buttons import upload_buttons
from bots.discord.deps import Deps, server_ref, user_ref
from bots.discord.embeds import failure_embed, upload_embed
from core.chevereto.models import UploadOptions
from core.i18n import Translator, translator
from core.links import find_links
from core.messages import describe_error
from core.service.batch import Item, ItemOutcome, Link, RequestFor, upload_items
from core.service.types import JobOutcome, MediaInput, UploadRequest

log = logging.getLogger(__name__)

MAX_ITEMS = 10
MEDIA_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".avif", ".mp4", ".mov", ".webm"}
)


def items_of(message: discord.Message, deps: Deps, *, media_links_only: bool = False) -> list[Item]:
    """A message's attachments, then its http(s) links (only image/video ones if asked)."""
    items: list[Item] = [deps.files.of(attachment) for attachment in message.attachments]
    for url in find_links(message.content or ""):
        if not media_links_only or looks_like_media(url):
            items.append(Link(url))
    return items[:MAX_ITEMS]


def looks_like_media(url: str) -> bool:
    return PurePosixPath(urlsplit(url).path).suffix.lower() in MEDIA_SUFFIXES


async def upload_all(
    deps: Deps,
    items: Sequence[Item],
    *,
    user: discord.abc.User,
    guild_id: int | None,
    channel_id: int | None,
    options: UploadOptions,
    language: str,
) -> Answer:
    requests = _requests(user, guild_id, channel_id, options, language)
    outcomes = await upload_items(deps.service, deps.links, items, requests)
    return answer_for(outcomes, deps, translator(language))


def answer_for(outcomes: list[ItemOutcome], deps: Deps, _: Translator) -> Answer:
    return render(outcomes, _, deps.hints)


def _requests(
    user: discord.abc.User,
    guild_id: int | None,
    channel_id: int | None,
    options: UploadOptions,
    language: str,
) -> RequestFor:
    # Where the answer goes if the job outlives this process (see resumed_answerer).
    target = json.dumps({"channel": channel_id, "user": user.id, "lang": language})

    def request_for(item: Item, media: MediaInput) -> UploadRequest:
        return UploadRequest(
            user=user_ref(user),
            media=media,
            chat=server_ref(guild_id),
            options=options,
            reply_target=target,
        )

    return request_for


def resumed_answerer(client: discord.Client, deps: Deps) -> Callable[[JobOutcome], Awaitable[None]]:
    """Answers a job that finished after a restart: the interaction has long expired,
    so a new message in the channel names the uploader."""

    async def deliver(outcome: JobOutcome) -> None:
        target = json.loads(outcome.reply_target or "{}")
        if not target.get("channel"):
            return
        _ = translator(target.get("lang"))
        if outcome.result is not None:
            embed = upload_embed(outcome.result, _)
            view = upload_buttons([outcome.result], _)
        else:
            assert outcome.error is not None
            embed = failure_embed(_("this upload"), describe_error(outcome.error, _, deps.hints))
            view = discord.utils.MISSING
        channel = client.get_partial_messageable(int(target["channel"]))
        try:
            await channel.send(content=f"<@{target['user']}>", embed=embed, view=view)
        except discord.HTTPException as exc:
            log.info("a resumed upload could not be answered (HTTP %s)", exc.status)

    return deliver
