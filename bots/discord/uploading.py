"""Uploading what an interaction or a message carries, and answering it."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import discord
from pydantic import SecretStr

from bots.discord.answers import Answer, render
from bots.discord.buttons import upload_buttons
from bots.discord.deps import Deps, server_ref, user_ref
from bots.discord.embeds import failure_embed, upload_embed
from core.chevereto.models import UploadOptions
from core.i18n import Translator, translator
from core.links import find_links
from core.messages import describe_error
from core.service.batch import Item, ItemOutcome, Link, upload_items
from core.service.types import JobOutcome, MediaInput, UploadRequest

log = logging.getLogger(__name__)

INTERACTION_TOKEN_S = 14 * 60
"""Discord accepts an interaction's token for 15 minutes; a margin for the request."""

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
    interaction: discord.Interaction | None = None,
) -> Answer:
    """Upload every item; ``interaction``, when the answer goes to its deferred
    response, so that a job outliving this process is answered there too."""
    target = _reply_target(user, channel_id, language, interaction, len(items))
    secret = SecretStr(interaction.token) if interaction else None

    def request_for(item: Item, media: MediaInput) -> UploadRequest:
        return UploadRequest(
            user=user_ref(user),
            media=media,
            chat=server_ref(guild_id),
            options=options,
            reply_target=target,
            reply_secret=secret,
        )

    outcomes = await upload_items(deps.service, deps.links, items, request_for)
    return answer_for(outcomes, deps, translator(language))


def answer_for(outcomes: list[ItemOutcome], deps: Deps, _: Translator) -> Answer:
    return render(outcomes, _, deps.hints)


def _reply_target(
    user: discord.abc.User,
    channel_id: int | None,
    language: str,
    interaction: discord.Interaction | None,
    items: int,
) -> str:
    """Where the answer goes if the job outlives this process (see resumed_answerer)."""
    target: dict[str, object] = {"channel": channel_id, "user": user.id, "lang": language}
    if interaction is not None:
        # The interaction's token (kept encrypted, apart from this) answers it for 15 min.
        target |= {
            "app": interaction.application_id,
            "at": interaction.created_at.timestamp(),
            "items": items,
        }
    return json.dumps(target)


def resumed_answerer(client: discord.Client, deps: Deps) -> Callable[[JobOutcome], Awaitable[None]]:
    """Answers a job that outlived its process: through the interaction's deferred
    response while its token is valid (editing ``@original`` is idempotent: a second
    delivery after a kill shows the same answer), else in the channel, naming the
    uploader."""

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
            view = None
        if await _answer_interaction(client, target, outcome.reply_secret, embed, view):
            return
        channel = client.get_partial_messageable(int(target["channel"]))
        try:
            await channel.send(
                content=f"<@{target['user']}>", embed=embed, view=view or discord.utils.MISSING
            )
        except (discord.Forbidden, discord.NotFound) as exc:
            log.info("a resumed upload could not be answered (HTTP %s)", exc.status)

    return deliver


async def _answer_interaction(
    client: discord.Client,
    target: dict[str, Any],
    token: SecretStr | None,
    embed: discord.Embed,
    view: discord.ui.View | None,
) -> bool:
    """Answer through the interaction's webhook; False when its token is too old."""
    if token is None or "app" not in target:
        return False
    if time.time() - float(target["at"]) > INTERACTION_TOKEN_S:
        return False
    webhook = discord.Webhook.partial(int(target["app"]), token.get_secret_value(), client=client)
    try:
        if target.get("items", 1) == 1:
            # The deferred "thinking…" response becomes the answer, or is rewritten.
            original: Any = "@original"  # discord.py types message ids as ints only
            await webhook.edit_message(original, embed=embed, view=view)
        else:
            # One answer per item of several: follow-ups (the first resolves "thinking…").
            await webhook.send(embed=embed, view=view or discord.utils.MISSING)
    except discord.HTTPException as exc:
        log.info(
            "the interaction could not be answered (HTTP %s); answering in the channel", exc.status
        )
        return False
    return True
