"""Uploading what an interaction or a message carries, and answering it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import discord
from pydantic import SecretStr

from bots.discord.answer_queue import ChannelAnswer
from bots.discord.answers import Answer, render
from bots.discord.arrivals import Arrival
from bots.discord.buttons import upload_buttons
from bots.discord.deps import Deps, server_ref, user_ref
from bots.discord.embeds import failure_embed, upload_embed
from core.chevereto.models import DelayCallback
from core.i18n import Translator, translator
from core.links import find_links
from core.messages import describe_delay, describe_error
from core.refs import Platform
from core.service.batch import Item, ItemOutcome, Link, fresh_items, upload_items
from core.service.inbox import Replay
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


async def keep(deps: Deps, arrival: Arrival) -> None:
    """Keep ``arrival`` in the inbox: before the bot's first network call for it."""
    await deps.service.inbox.keep(Platform.DISCORD, arrival.key, arrival.to_json())


async def answered(deps: Deps, arrival: Arrival, answer: Answer) -> None:
    """Discord took the answer: its jobs and its inbox entry are done."""
    await deps.service.inbox.done(Platform.DISCORD, arrival.key, answered=answer.jobs)


async def upload_arrival(
    deps: Deps,
    arrival: Arrival,
    items: Sequence[Item] | None = None,
    origins: Sequence[str] | None = None,
    *,
    on_delay: DelayCallback | None = None,
) -> Answer:
    """Upload what ``arrival`` asks for (or only ``items``, named ``origins``);
    ``on_delay`` hears when an upload waits out a busy host or database."""
    if items is None or origins is None:
        items, origins = arrival.items(deps.files), arrival.origins()
    target = _reply_target(arrival, len(items))
    secret = SecretStr(arrival.token) if arrival.token else None
    origin_of = {id(item): origin for item, origin in zip(items, origins, strict=True)}
    options = arrival.upload_options()

    def request_for(item: Item, media: MediaInput) -> UploadRequest:
        return UploadRequest(
            user=user_ref(arrival.user),
            media=media,
            chat=server_ref(arrival.guild_id),
            options=options,
            reply_target=target,
            reply_secret=secret,
            origin=origin_of[id(item)],
            on_delay=on_delay,
        )

    outcomes = await upload_items(deps.service, deps.links, items, request_for)
    return answer_for(outcomes, deps, translator(arrival.language))


def answer_for(outcomes: list[ItemOutcome], deps: Deps, _: Translator) -> Answer:
    return render(outcomes, _, deps.hints)


def _reply_target(arrival: Arrival, items: int) -> str:
    """Where the answer goes if the job outlives this process (see resumed_answerer)."""
    target: dict[str, object] = {
        "channel": arrival.channel_id,
        "user": arrival.user_id,
        "lang": arrival.language,
    }
    if arrival.app_id is not None:
        # The interaction's token (kept encrypted, apart from this) answers it for 15 min.
        target |= {"app": arrival.app_id, "at": arrival.created_at, "items": items}
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
        if outcome.reply_secret and "app" in target:
            token = outcome.reply_secret.get_secret_value()
            edit = target.get("items", 1) == 1  # else one follow-up per item
            sent = {"embed": embed, "view": view}
            if await _answer_interaction(client, target["app"], token, target["at"], sent, edit):
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
    app_id: int,
    token: str,
    created_at: float,
    message: dict[str, Any],
    edit: bool,
) -> bool:
    """Answer through the interaction's webhook: ``edit`` its ``@original`` (the deferred
    "thinking…", or the answer already there: idempotent), else a follow-up. False
    when its token is too old or Discord refuses it."""
    if time.time() - created_at > INTERACTION_TOKEN_S:
        return False
    webhook = discord.Webhook.partial(app_id, token, client=client)
    view = message.get("view") or discord.utils.MISSING
    try:
        if edit:
            original: Any = "@original"  # discord.py types message ids as ints only
            await webhook.edit_message(original, **{**message, "view": message.get("view")})
        else:
            await webhook.send(**{**message, "view": view})
    except discord.HTTPException as exc:
        log.info(
            "the interaction could not be answered (HTTP %s); answering in the channel",
            exc.status,
        )
        return False
    return True


class DeferredResponse:
    """An interaction's deferred response: "thinking…", a note on why the upload waits
    (the host busy, the database locked) once per reason, then the answer. Once a
    note is shown, the answer replaces it; notes never land after the answer."""

    def __init__(
        self, interaction: discord.Interaction, _: Translator, *, ephemeral: bool = False
    ) -> None:
        self._interaction = interaction
        self._ = _
        self._ephemeral = ephemeral
        self._told: set[type[Exception]] = set()
        self._editing = asyncio.Lock()
        self._answered = False
        self._notes: set[asyncio.Task[None]] = set()

    def note_delay(self, error: Exception) -> None:
        if type(error) in self._told:
            return
        self._told.add(type(error))
        task = asyncio.create_task(self._note(describe_delay(error, self._)))
        self._notes.add(task)
        task.add_done_callback(self._notes.discard)

    async def _note(self, text: str) -> None:
        async with self._editing:
            if self._answered:
                return
            with contextlib.suppress(discord.HTTPException):
                await self._interaction.edit_original_response(content=text)

    async def answer(self, answer: Answer) -> None:
        view = answer.view or discord.utils.MISSING
        async with self._editing:
            self._answered = True
            if self._told:
                await self._interaction.edit_original_response(
                    content=None, embeds=answer.embeds, view=answer.view
                )
            else:
                await self._interaction.followup.send(
                    embeds=answer.embeds, view=view, ephemeral=self._ephemeral
                )


def replayer(client: discord.Client, deps: Deps) -> Replay:
    """Handles again an upload request kept before a restart and never answered."""

    async def replay(_key: str, payload: str) -> None:
        arrival = Arrival.from_json(payload)
        log.info("handling %s again: it was not answered before a restart", arrival.key)
        task = asyncio.create_task(_upload_again(client, deps, arrival))
        deps.background.add(task)
        task.add_done_callback(deps.background.discard)

    return replay


async def _upload_again(client: discord.Client, deps: Deps, arrival: Arrival) -> None:
    # Items recorded as jobs before the restart are answered by the service.
    items, origins = await fresh_items(
        deps.service, Platform.DISCORD, arrival.items(deps.files), arrival.origins()
    )
    if not items:
        await deps.service.inbox.done(Platform.DISCORD, arrival.key)
        return
    answer = await upload_arrival(deps, arrival, items, origins)
    message = {"embeds": answer.embeds, "view": answer.view}
    if not (
        arrival.token
        and arrival.app_id
        and await _answer_interaction(
            client, arrival.app_id, arrival.token, arrival.created_at, message, edit=True
        )
    ):
        await _answer_in_channel(client, deps, arrival, answer)
    await answered(deps, arrival, answer)


async def _answer_in_channel(
    client: discord.Client, deps: Deps, arrival: Arrival, answer: Answer
) -> None:
    if arrival.channel_id is None:
        return
    channel = client.get_partial_messageable(arrival.channel_id)
    try:
        await deps.answers.send(arrival.channel_id, ChannelAnswer(channel, arrival, answer))
    except (discord.Forbidden, discord.NotFound) as exc:
        log.info("an upload kept before a restart could not be answered (HTTP %s)", exc.status)
