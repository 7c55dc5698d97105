"""Uploading what a message carries and answering it: the flow every handler shares.

Each item (a file, a link) is checked before anything is downloaded, recorded as a
job whose origin is the message (``chat:message:item``), uploaded through the core
service, and reported in the answer whether it worked or not. A status message
appears first and becomes the answer; it is noted on the update, so an update
handled again after a restart edits the same message instead of sending a second
one, and items already recorded are left to the service, which answers them.

Only the answer is essential: a status message or chat action Telegram refuses (a
429 storm) costs the progress display, never the upload. The answer waits out 429s
as often as they come, and its jobs are reported answered only once Telegram took it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from telegram import Message, ReplyParameters
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ExtBot

from bots.telegram.answers import Answer, Outcome, render
from bots.telegram.deps import Deps, chat_ref, user_ref
from bots.telegram.files import BOT_API_FILE_LIMIT_MB, BotApiFileTooBig, FileInChat
from bots.telegram.limits import ESSENTIAL_RETRIES
from core.chevereto.models import UploadOptions
from core.errors import PicloudError
from core.i18n import Translator, translator
from core.messages import describe_delay, describe_error
from core.refs import Platform
from core.service.batch import (
    Item,
    ItemOutcome,
    Refused,
    RequestFor,
    answered_jobs,
    fresh_items,
    upload_items,
)
from core.service.types import JobOutcome, MediaInput, UploadRequest

log = logging.getLogger(__name__)

Bot = ExtBot[Any]

PROGRESS_FROM_BYTES = 5 * 1024 * 1024
PROGRESS_EVERY_S = 2.0
MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Upload:
    """Who uploads which items where; the answer replies to ``message``.

    ``origins`` name each item for the service (one job per origin, ever);
    ``event`` is the update that carried the message, ``replayed`` whether it is
    being handled again after a restart."""

    message: Message
    items: Sequence[Item]
    origins: Sequence[str]
    options: UploadOptions
    _: Translator
    event: int
    replayed: bool = False


def origins_of(message: Message, count: int) -> list[str]:
    return [f"{message.chat_id}:{message.message_id}:{index}" for index in range(count)]


class Status:
    """The message that says "Uploading…" and becomes the answer. Progress texts
    never land after the answer: edits go one at a time, and once the answer is in,
    progress is skipped."""

    def __init__(self, bot: Bot, chat_id: int, message_id: int) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.message_id = message_id
        self._editing = asyncio.Lock()
        self._answered = False

    async def edit(self, answer: Answer) -> None:
        async with self._editing:
            await self.bot.edit_message_text(
                answer.text,
                chat_id=self.chat_id,
                message_id=self.message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=answer.markup,
                link_preview_options=answer.preview,
                rate_limit_args=ESSENTIAL_RETRIES,
            )
            self._answered = True

    async def show(self, text: str) -> None:
        """A progress text: skipped when Telegram will not take it now."""
        async with self._editing:
            if self._answered:
                return
            with contextlib.suppress(TelegramError):
                await self.bot.edit_message_text(
                    text, chat_id=self.chat_id, message_id=self.message_id
                )


async def upload_and_answer(bot: Bot, deps: Deps, job: Upload) -> None:
    job = await _not_yet_accepted(deps, job)
    if not job.items:
        return  # recorded before a restart: the service answers those jobs
    if all(isinstance(item, Refused) for item in job.items):
        answer = _render(job, deps, [ItemOutcome(i) for i in job.items])
        await _deliver(bot, job, None, answer)
        return
    status = await _status(bot, deps, job)
    action = asyncio.create_task(_keep_chat_action(bot, job.message.chat_id, job.items))
    try:
        outcomes = await upload_items(deps.service, deps.links, job.items, _requests(job, status))
    finally:
        action.cancel()
    await _deliver(bot, job, status, _render(job, deps, outcomes))
    await deps.service.answered(answered_jobs(outcomes))


async def _not_yet_accepted(deps: Deps, job: Upload) -> Upload:
    """The job less the items recorded before (only an update handled again has any)."""
    if not job.replayed:
        return job
    items, origins = await fresh_items(deps.service, Platform.TELEGRAM, job.items, job.origins)
    return Upload(job.message, items, origins, job.options, job._, job.event, job.replayed)


async def _status(bot: Bot, deps: Deps, job: Upload) -> Status | None:
    """The status message: the one sent before a restart if there was one, else a new
    one, noted on the update; None when Telegram refuses it (the answer comes anyway)."""
    chat_id, event = job.message.chat_id, str(job.event)
    if job.replayed and (noted := await deps.service.inbox.noted(Platform.TELEGRAM, event)):
        return Status(bot, chat_id, int(noted))
    try:
        sent = await job.message.reply_text(job._("Uploading…"))
    except Forbidden:
        raise
    except TelegramError as error:
        log.info("no status message (%s); the answer will be a new message", error.message)
        return None
    await deps.service.inbox.note(Platform.TELEGRAM, event, str(sent.message_id))
    return Status(bot, chat_id, sent.message_id)


async def _deliver(bot: Bot, job: Upload, status: Status | None, answer: Answer) -> None:
    """The answer: the status message edited, else a reply; 429s are waited out."""
    if status is not None:
        try:
            await status.edit(answer)
            return
        except BadRequest as error:
            if "not modified" in error.message.lower():
                return  # delivered before a restart: the same answer is already there
            log.info("the status message is gone (%s); answering anew", error.message)
    await _reply_anew(bot, job.message.chat_id, job.message.message_id, answer)


def _requests(job: Upload, status: Status | None) -> RequestFor:
    message = job.message
    assert message.from_user is not None
    user = user_ref(message.from_user)
    chat = chat_ref(message.chat_id) if message.chat.type != ChatType.PRIVATE else None
    # Progress is shown for a single large file: an album's answer lists, it doesn't count.
    single = len(job.items) == 1
    origins = {id(item): origin for item, origin in zip(job.items, job.origins, strict=True)}

    def request_for(item: Item, media: MediaInput) -> UploadRequest:
        large = isinstance(item, FileInChat) and (item.size or 0) >= PROGRESS_FROM_BYTES
        return UploadRequest(
            user=user,
            media=media,
            chat=chat,
            options=job.options,
            reply_target=_reply_target(message, status if single else None, item.name),
            progress=ProgressReporter(status, job._) if status and single and large else None,
            on_delay=DelayNotice(status, job._) if status else None,
            origin=origins[id(item)],
        )

    return request_for


def _render(job: Upload, deps: Deps, outcomes: list[ItemOutcome]) -> Answer:
    return render([_outcome(outcome, deps, job._) for outcome in outcomes], job._)


def _outcome(outcome: ItemOutcome, deps: Deps, _: Translator) -> Outcome:
    name = outcome.item.name
    if isinstance(outcome.item, Refused):
        return Outcome(_(name), error=_("{what} cannot be uploaded").format(what=_(name)))
    if outcome.error is not None:
        return Outcome(name, error=describe(outcome.error, deps, _))
    return Outcome(name, view=outcome.view)


def describe(error: PicloudError, deps: Deps, _: Translator) -> str:
    if isinstance(error, BotApiFileTooBig):
        size = f" ({error.size / MB:.1f} MB)" if error.size else ""
        return _(
            "Telegram lets bots fetch files up to {limit} MB and this one is bigger{size}. "
            "Send a link to it instead."
        ).format(limit=BOT_API_FILE_LIMIT_MB, size=size)
    return describe_error(error, _, deps.hints)


def _reply_target(message: Message, status: Status | None, name: str) -> str:
    """Where a job's answer goes if it outlives this process (see resumed_answerer):
    into its status message, unless that lists several items (an album's), then anew."""
    language = message.from_user.language_code if message.from_user else None
    target = {"chat": message.chat_id, "reply_to": message.message_id, "name": name}
    if status is not None:
        target["status"] = status.message_id
    return json.dumps({**target, "lang": language})


async def _keep_chat_action(bot: Bot, chat_id: int, items: Sequence[Item]) -> None:
    """Telegram shows a chat action for five seconds: renew it while work runs."""
    mimes = [item.file.mime for item in items if isinstance(item, FileInChat)]
    action = ChatAction.UPLOAD_DOCUMENT
    if any(mime.startswith("video/") for mime in mimes):
        action = ChatAction.UPLOAD_VIDEO
    elif mimes and len(mimes) == len(items) and all(m.startswith("image/") for m in mimes):
        action = ChatAction.UPLOAD_PHOTO
    with contextlib.suppress(TelegramError):
        while True:
            await bot.send_chat_action(chat_id, action)
            await asyncio.sleep(4.5)


class ProgressReporter:
    """Turns the client's progress calls into status edits, at most one per 2 s."""

    def __init__(self, status: Status, _: Translator) -> None:
        self._status = status
        self._ = _
        self._last_edit = 0.0
        self._last_percent = -1
        self._pending: asyncio.Task[None] | None = None

    def __call__(self, sent: int, total: int) -> None:
        percent = min(100, sent * 100 // max(total, 1))
        now = time.monotonic()
        if percent == self._last_percent or now - self._last_edit < PROGRESS_EVERY_S:
            return
        if self._pending is not None and not self._pending.done():
            return  # the previous edit is still on its way
        self._last_edit, self._last_percent = now, percent
        text = self._("Uploading… {percent}%").format(percent=percent)
        self._pending = asyncio.create_task(self._status.show(text))


class DelayNotice:
    """Says in the status message why an upload waits (the host busy, the database
    locked), once per reason: the answer replaces it when the upload is through."""

    def __init__(self, status: Status, _: Translator) -> None:
        self._status = status
        self._ = _
        self._told: set[type[Exception]] = set()
        self._pending: set[asyncio.Task[None]] = set()

    def __call__(self, error: Exception) -> None:
        if type(error) in self._told:
            return
        self._told.add(type(error))
        task = asyncio.create_task(self._status.show(describe_delay(error, self._)))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)


def resumed_answerer(bot: Bot, deps: Deps) -> Callable[[JobOutcome], Awaitable[None]]:
    """Answers a job that outlived its process: edit its status, or reply anew. A chat
    that is gone (the user blocked the bot) counts as answered: nobody is left to tell."""

    async def deliver(outcome: JobOutcome) -> None:
        target = json.loads(outcome.reply_target or "{}")
        if "chat" not in target:
            return
        _ = translator(target.get("lang"))
        name = target.get("name") or "file"
        if outcome.result is not None:
            item = Outcome(name, view=outcome.result)
        else:
            assert outcome.error is not None
            item = Outcome(name, error=describe_error(outcome.error, _, deps.hints))
        answer = render([item], _)
        try:
            await _deliver_resumed(bot, target, answer)
        except Forbidden:
            log.info("a resumed upload could not be answered: the user blocked the bot")

    return deliver


async def _deliver_resumed(bot: Bot, target: dict[str, int], answer: Answer) -> None:
    if "status" in target:
        try:
            await Status(bot, target["chat"], target["status"]).edit(answer)
            return
        except BadRequest as error:
            if "not modified" in error.message.lower():
                return  # the answer went out before the restart
            log.info("the status message is gone (%s); answering anew", error.message)
    await _reply_anew(bot, target["chat"], target["reply_to"], answer)


async def _reply_anew(bot: Bot, chat_id: int, reply_to: int, answer: Answer) -> None:
    await bot.send_message(
        chat_id,
        answer.text,
        parse_mode=ParseMode.HTML,
        reply_markup=answer.markup,
        link_preview_options=answer.preview,
        reply_parameters=ReplyParameters(reply_to, allow_sending_without_reply=True),
        rate_limit_args=ESSENTIAL_RETRIES,
    )
