"""Uploading what a message carries and answering it: the flow every handler shares.

A status message appears at once and becomes the answer. Each item (a file, a link)
is checked before anything is downloaded, uploaded through the core service, and
reported in the answer whether it worked or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from telegram import Bot, Message, ReplyParameters
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError

from bots.telegram.answers import Answer, Outcome, render
from bots.telegram.deps import Deps, chat_ref, user_ref
from bots.telegram.files import BOT_API_FILE_LIMIT_MB, BotApiFileTooBig, FileInChat
from core.chevereto.models import UploadOptions
from core.errors import PicloudError
from core.i18n import Translator, translator
from core.messages import describe_error
from core.service.batch import (
    Item,
    ItemOutcome,
    Refused,
    RequestFor,
    answered_jobs,
    upload_items,
)
from core.service.types import JobOutcome, MediaInput, UploadRequest

log = logging.getLogger(__name__)

PROGRESS_FROM_BYTES = 5 * 1024 * 1024
PROGRESS_EVERY_S = 2.0
MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Upload:
    """Who uploads which items where; the answer replies to ``message``."""

    message: Message
    items: Sequence[Item]
    options: UploadOptions
    _: Translator


async def upload_and_answer(bot: Bot, deps: Deps, job: Upload) -> None:
    _ = job._
    if all(isinstance(item, Refused) for item in job.items):
        await job.message.reply_text(_render(job, deps, [ItemOutcome(i) for i in job.items]).text)
        return
    status = await job.message.reply_text(_("Uploading…"))
    action = asyncio.create_task(_keep_chat_action(bot, job.message.chat_id, job.items))
    try:
        outcomes = await upload_items(deps.service, deps.links, job.items, _requests(job, status))
    finally:
        action.cancel()
    await _edit(status, _render(job, deps, outcomes))
    await deps.service.answered(answered_jobs(outcomes))


def _requests(job: Upload, status: Message) -> RequestFor:
    message = job.message
    assert message.from_user is not None
    user = user_ref(message.from_user)
    chat = chat_ref(message.chat_id) if message.chat.type != ChatType.PRIVATE else None
    # Progress is shown for a single large file: an album's answer lists, it doesn't count.
    single = len(job.items) == 1

    def request_for(item: Item, media: MediaInput) -> UploadRequest:
        large = isinstance(item, FileInChat) and (item.size or 0) >= PROGRESS_FROM_BYTES
        return UploadRequest(
            user=user,
            media=media,
            chat=chat,
            options=job.options,
            reply_target=_reply_target(message, status if single else None, item.name),
            progress=ProgressReporter(status, job._) if single and large else None,
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


def _reply_target(message: Message, status: Message | None, name: str) -> str:
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

    def __init__(self, status: Message, _: Translator) -> None:
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
        self._pending = asyncio.create_task(_quiet_edit(self._status, text))


async def _quiet_edit(status: Message, text: str) -> None:
    with contextlib.suppress(TelegramError):
        await status.edit_text(text)


async def _edit(status: Message, answer: Answer) -> None:
    await status.edit_text(
        answer.text,
        parse_mode=ParseMode.HTML,
        reply_markup=answer.markup,
        link_preview_options=answer.preview,
    )


def resumed_answerer(bot: Bot, deps: Deps) -> Callable[[JobOutcome], Awaitable[None]]:
    """Answers a job that finished after a restart: edit its status, or reply anew."""

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
        if "status" not in target:
            await _reply_anew(bot, target, answer)
            return
        try:
            await bot.edit_message_text(
                answer.text,
                chat_id=target["chat"],
                message_id=target["status"],
                parse_mode=ParseMode.HTML,
                reply_markup=answer.markup,
                link_preview_options=answer.preview,
            )
        except BadRequest:
            await _reply_anew(bot, target, answer)
        except Forbidden:
            log.info("a resumed upload could not be answered: the user blocked the bot")

    return deliver


async def _reply_anew(bot: Bot, target: dict[str, int], answer: Answer) -> None:
    with contextlib.suppress(Forbidden):
        await bot.send_message(
            target["chat"],
            answer.text,
            parse_mode=ParseMode.HTML,
            reply_markup=answer.markup,
            link_preview_options=answer.preview,
            reply_parameters=ReplyParameters(target["reply_to"], allow_sending_without_reply=True),
        )
