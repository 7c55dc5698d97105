"""Uploading what a message carries and answering it: the flow every handler shares.

Each item (a file, a link) is checked before anything is downloaded, recorded as a
job whose origin is the message (``chat:message:item``), uploaded through the core
service, and reported in the answer whether it worked or not. The chat action
("sending photo…") is the first sign of life. A quick upload's answer is its only
message (through the chat's answer queue, which folds answers that wait for the
chat's budget into one). An upload that takes a while gets a status message that
becomes the answer; it is noted on the update, so an update handled again after a
restart edits the same message instead of sending a second one, and items already
recorded are left to the service, which answers them.

Only the answer is essential: a status message or chat action Telegram refuses (a
429 storm) costs the progress display, never the upload. The answer waits out 429s
as often as they come, and its jobs are reported answered only once Telegram took it.
The one window with two answers: a quick answer Telegram took just before a kill,
whose job was not yet marked answered, is sent again after the restart (a new
message cannot be sent idempotently; a status message, edited, can).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyParameters
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ExtBot

from bots.telegram.answer_queue import NewAnswer
from bots.telegram.answers import Answer, Outcome, render
from bots.telegram.chat_actions import action_for
from bots.telegram.deps import Deps, chat_ref, user_ref
from bots.telegram.files import BOT_API_FILE_LIMIT_MB, BotApiFileTooBig, FileInChat
from bots.telegram.limits import ESSENTIAL_RETRIES, MessageRateLimiter
from core.chevereto.models import UploadOptions
from core.errors import PicloudError
from core.i18n import Translator, translator
from core.messages import describe_delay, describe_error
from core.refs import Platform, UserRef
from core.service.batch import (
    Item,
    ItemOutcome,
    Refused,
    RequestFor,
    answered_jobs,
    fresh_items,
    upload_items,
)
from core.service.types import JobOutcome, MediaInput, UploadRequest, UploadView

log = logging.getLogger(__name__)

Bot = ExtBot[Any]

STATUS_AFTER_S = 1.5
"""An upload still running after this long gets a status message; a quicker one is
answered by its first and only message (the chat action says "sending photo…")."""
MAX_LINKS = 10
"""Links uploaded from one message; the answer says how many more it held."""
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
    left_out: int = 0
    """Links past the per-message cap: not uploaded, and the answer says so."""
    owner: UserRef | None = None
    """Whose uploads they are when the message has no sender (a channel's post)."""


def origins_of(message: Message, count: int) -> list[str]:
    return [f"{message.chat_id}:{message.message_id}:{index}" for index in range(count)]


class Status:
    """The message that says "Uploading…" and becomes the answer, for uploads that take
    a while: it appears only once an upload has run ``STATUS_AFTER_S``, reports progress
    or a delay, and only while the chat has room to spare for it (the answer must not
    wait for a progress message). A quick upload has none: its answer is its first and
    only message. Progress never lands after the answer: edits go one at a time, and
    once the answer is in, progress is skipped."""

    def __init__(
        self,
        bot: Bot,
        chat_id: int,
        reply_to: int,
        on_sent: Callable[[int], Awaitable[None]],
        message_id: int | None = None,
    ) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.reply_to = reply_to
        self.message_id = message_id
        self._on_sent = on_sent
        self._editing = asyncio.Lock()
        self._answered = False
        self._showing: set[asyncio.Task[None]] = set()

    async def answer(self, answer: Answer) -> bool:
        """The status edited into the answer; False when there is no status message to
        edit (none was needed, or it is gone), and the answer must go anew."""
        async with self._editing:
            self._answered = True
            if self.message_id is None:
                return False
            return await _edited_into(self.bot, self.chat_id, self.message_id, answer)

    def show_soon(self, text: str, delay_s: float = 0.0) -> asyncio.TimerHandle:
        """Show a progress text in ``delay_s`` (cancel the handle to call it off)."""
        return asyncio.get_running_loop().call_later(delay_s, self._start_showing, text)

    def _start_showing(self, text: str) -> None:
        task = asyncio.create_task(self.show(text))
        self._showing.add(task)
        task.add_done_callback(self._showing.discard)

    async def show(self, text: str) -> None:
        """A progress text: skipped when the chat has no room to spare for it, or
        Telegram will not take it now."""
        async with self._editing:
            if self._answered or not _room_to_spare(self.bot, self.chat_id):
                return
            if self.message_id is None:
                await self._appear(text)
                return
            with contextlib.suppress(TelegramError):
                await self.bot.edit_message_text(
                    text, chat_id=self.chat_id, message_id=self.message_id
                )

    async def _appear(self, text: str) -> None:
        reply = ReplyParameters(self.reply_to, allow_sending_without_reply=True)
        try:
            sent = await self.bot.send_message(self.chat_id, text, reply_parameters=reply)
        except TelegramError:
            return
        self.message_id = sent.message_id
        try:
            await self._on_sent(sent.message_id)
        except PicloudError as error:  # the upload goes on; a restart would answer anew
            log.info("the status message could not be noted: %s", error.message)


def _room_to_spare(bot: Bot, chat_id: int) -> bool:
    limiter = bot.rate_limiter
    return not isinstance(limiter, MessageRateLimiter) or limiter.has_room_to_spare(chat_id)


async def _edited_into(bot: Bot, chat_id: int, message_id: int, answer: Answer) -> bool:
    """Whether the status message now shows the answer (False: it is gone)."""
    try:
        await bot.edit_message_text(
            answer.text,
            chat_id=chat_id,
            message_id=message_id,
            parse_mode=ParseMode.HTML,
            reply_markup=answer.markup,
            link_preview_options=answer.preview,
            rate_limit_args=ESSENTIAL_RETRIES,
        )
    except BadRequest as error:
        if "not modified" in error.message.lower():
            return True  # delivered before a restart: the same answer is already there
        log.info("the status message is gone (%s); answering anew", error.message)
        return False
    return True


async def upload_and_answer(bot: Bot, deps: Deps, job: Upload) -> None:
    job = await _not_yet_accepted(deps, job)
    if not job.items:
        return  # recorded before a restart: the service answers those jobs
    if job.message.chat.type == ChatType.CHANNEL:
        await _upload_post(bot, deps, job)
        return
    outcomes = [ItemOutcome(item) for item in job.items]
    status = await _status(bot, deps, job)
    if not all(isinstance(item, Refused) for item in job.items):
        appearing = status.show_soon(job._("Uploading…"), STATUS_AFTER_S)
        try:
            chat_id = job.message.chat_id
            async with deps.chat_actions.during(chat_id, _action(job.items)):
                with deps.answers.coming(chat_id):
                    outcomes = await upload_items(
                        deps.service, deps.links, job.items, _requests(job, status)
                    )
        finally:
            appearing.cancel()
    items = [_outcome(outcome, deps, job._) for outcome in outcomes]
    if job.left_out:
        items.append(_left_out(job.left_out, job._))
    if not await status.answer(render(items, job._)):
        message = job.message
        await deps.answers.send(message.chat_id, NewAnswer(message.message_id, items, job._))
    # The update is done with its answer, in one write (the queue's own "done" then
    # costs nothing).
    event = str(job.event)
    await deps.service.inbox.done(Platform.TELEGRAM, event, answered=answered_jobs(outcomes))


async def _upload_post(bot: Bot, deps: Deps, job: Upload) -> None:
    """A channel's post: uploaded without a word in the channel, then given Open buttons
    (the post is the answer; subscribers see no bot message)."""
    outcomes = await upload_items(deps.service, deps.links, job.items, _requests(job, None))
    views = [outcome.view for outcome in outcomes]
    await mark_post(bot, job.message.chat_id, job.message.message_id, views, job._)
    event = str(job.event)
    await deps.service.inbox.done(Platform.TELEGRAM, event, answered=answered_jobs(outcomes))


async def mark_post(
    bot: Bot, chat_id: int, post_id: int, views: Sequence[UploadView | None], _: Translator
) -> None:
    """Open buttons under a channel's post, one for each upload that has a page."""
    opened = [view.url_viewer for view in views if view is not None and view.url_viewer]
    if not opened:
        log.info("a channel post's uploads have no page to show")
        return
    label = _("Open")
    buttons = [
        InlineKeyboardButton(label if len(opened) == 1 else f"{label} {number}", url=url)
        for number, url in enumerate(opened, start=1)
    ]
    with contextlib.suppress(BadRequest):  # "not modified": shown before a restart
        await bot.edit_message_reply_markup(
            chat_id,
            post_id,
            reply_markup=InlineKeyboardMarkup([buttons]),
            rate_limit_args=ESSENTIAL_RETRIES,
        )


async def _not_yet_accepted(deps: Deps, job: Upload) -> Upload:
    """The job less the items recorded before (only an update handled again has any)."""
    if not job.replayed:
        return job
    items, origins = await fresh_items(deps.service, Platform.TELEGRAM, job.items, job.origins)
    return replace(job, items=items, origins=origins)


async def _status(bot: Bot, deps: Deps, job: Upload) -> Status:
    """The upload's status: the message shown before a restart if there was one (noted
    on the update), else one that appears when needed and is noted then."""
    chat_id, event = job.message.chat_id, str(job.event)
    noted = None
    if job.replayed:
        noted = await deps.service.inbox.noted(Platform.TELEGRAM, event)

    async def note(message_id: int) -> None:
        await deps.service.inbox.note(Platform.TELEGRAM, event, str(message_id))

    message_id = int(noted) if noted else None
    return Status(bot, chat_id, job.message.message_id, note, message_id)


def _requests(job: Upload, status: Status | None) -> RequestFor:
    """``status`` None: nothing is shown while the uploads run (a channel's post)."""
    message = job.message
    if job.owner is not None:
        user = job.owner
    else:
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
            reply_target=_reply_target(job, item.name, single),
            progress=ProgressReporter(status, job._) if status and single and large else None,
            on_delay=DelayNotice(status, job._) if status else None,
            origin=origins[id(item)],
        )

    return request_for


def _outcome(outcome: ItemOutcome, deps: Deps, _: Translator) -> Outcome:
    name = outcome.item.name
    if isinstance(outcome.item, Refused):
        return Outcome(_(name), error=_("{what} cannot be uploaded").format(what=_(name)))
    if outcome.error is not None:
        return Outcome(name, error=describe(outcome.error, deps, _))
    return Outcome(name, view=outcome.view)


def _left_out(count: int, _: Translator) -> Outcome:
    text = _("{count} more links were left out: at most {most} per message.")
    return Outcome("", error=text.format(count=count, most=MAX_LINKS), left_out=count)


def describe(error: PicloudError, deps: Deps, _: Translator) -> str:
    if isinstance(error, BotApiFileTooBig):
        size = f" ({error.size / MB:.1f} MB)" if error.size else ""
        return _(
            "Telegram lets bots fetch files up to {limit} MB and this one is bigger{size}. "
            "Send a link to it instead."
        ).format(limit=BOT_API_FILE_LIMIT_MB, size=size)
    return describe_error(error, _, deps.hints)


def _reply_target(job: Upload, name: str, single: bool) -> str:
    """Where a job's answer goes if it outlives this process (see resumed_answerer):
    into the status message noted on its update, unless that lists several items (an
    album's), then anew."""
    message = job.message
    language = message.from_user.language_code if message.from_user else None
    target = {"chat": message.chat_id, "reply_to": message.message_id, "name": name}
    if message.chat.type == ChatType.CHANNEL:
        target["post"] = message.message_id  # answered by the post's buttons
    elif single:
        target["event"] = job.event
    return json.dumps({**target, "lang": language})


def _action(items: Sequence[Item]) -> ChatAction:
    mimes = [item.file.mime for item in items if isinstance(item, FileInChat)]
    return action_for(mimes, len(items))


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

    def __call__(self, error: Exception) -> None:
        if type(error) in self._told:
            return
        self._told.add(type(error))
        self._status.show_soon(describe_delay(error, self._))


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
        if "post" in target:
            await mark_post(bot, target["chat"], target["post"], [outcome.result], _)
            return
        try:
            status = await _resumed_status(deps, target)
            answer = render([item], _)
            if status is None or not await _edited_into(bot, target["chat"], status, answer):
                await deps.answers.send(target["chat"], NewAnswer(target["reply_to"], [item], _))
        except Forbidden:
            log.info("a resumed upload could not be answered: the user blocked the bot")

    return deliver


async def _resumed_status(deps: Deps, target: dict[str, Any]) -> int | None:
    """The status message of a resumed job's update, if one was shown."""
    if "status" in target:  # a job recorded by an earlier version, which named it here
        return int(target["status"])
    if "event" not in target:
        return None
    noted = await deps.service.inbox.noted(Platform.TELEGRAM, str(target["event"]))
    return int(noted) if noted else None
