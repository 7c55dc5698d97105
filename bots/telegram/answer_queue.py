"""Answers sent as new messages, in the order they finish, as each chat's budget allows.

Telegram takes about one message a second into a private chat and 20 a minute into a
group. An answer that finds its chat's budget spent waits; the answers that wait
together for the same chat go out as ONE message that lists them all, each item with
its own buttons. A group past half its minute gathers answers a few seconds before
each message, so the rest of its minute lasts. On an idle chat nothing waits: each
answer is its own reply, at once. So 30 photos mirrored in a group within seconds are
all answered within seconds, in fewer messages than the group's minute allows, not
in 30 messages queued for a minute and a half.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from telegram import ReplyParameters
from telegram.constants import ParseMode
from telegram.ext import ExtBot

from bots.telegram.answers import Outcome, render
from bots.telegram.limits import ESSENTIAL_RETRIES, MessageRateLimiter
from core.i18n import Translator

log = logging.getLogger(__name__)

MAX_ITEMS_PER_ANSWER = 20
"""Items listed in one message: 20 lines and 40 buttons stay well inside Telegram's
4096 characters and 100 buttons."""


@dataclass(eq=False)
class _Waiting:
    reply_to: int
    outcomes: Sequence[Outcome]
    _: Translator
    sent: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class AnswerQueue:
    def __init__(self, bot: ExtBot[Any], max_items: int = MAX_ITEMS_PER_ANSWER) -> None:
        self._bot = bot
        self._max_items = max_items
        self._waiting: dict[int, list[_Waiting]] = {}
        self._senders: dict[int, asyncio.Task[None]] = {}

    async def send(
        self, chat_id: int, reply_to: int, outcomes: Sequence[Outcome], _: Translator
    ) -> None:
        """Returns once Telegram took the message that carries these outcomes; raises
        what Telegram refused it with (a 429 is waited out, never raised)."""
        waiting = _Waiting(reply_to, outcomes, _)
        self._waiting.setdefault(chat_id, []).append(waiting)
        if chat_id not in self._senders:
            self._senders[chat_id] = asyncio.create_task(self._send_all(chat_id))
        try:
            await asyncio.shield(waiting.sent)
        except asyncio.CancelledError:
            with contextlib.suppress(ValueError):  # not taken yet: nobody wants it now
                self._waiting.get(chat_id, []).remove(waiting)
            raise

    async def _send_all(self, chat_id: int) -> None:
        try:
            while batch := await self._next_batch(chat_id):
                try:
                    await self._send_one_message(chat_id, batch)
                except Exception as error:  # every waiter hears what became of its answer
                    for waiting in batch:
                        waiting.sent.set_exception(error)
                else:
                    for waiting in batch:
                        waiting.sent.set_result(None)
        finally:
            del self._senders[chat_id]
            if not self._waiting.get(chat_id):
                self._waiting.pop(chat_id, None)

    async def _next_batch(self, chat_id: int) -> list[_Waiting]:
        """The answers waiting once the chat has room for a message: as many as one
        message lists (at least one, whatever its size)."""
        if not self._waiting.get(chat_id):
            return []
        limiter = self._bot.rate_limiter
        if isinstance(limiter, MessageRateLimiter):
            await asyncio.sleep(limiter.gathering_s(chat_id))
            await limiter.until_room(chat_id)
        waiting = self._waiting[chat_id]
        batch = [waiting.pop(0)]
        items = len(batch[0].outcomes)
        while waiting and items + len(waiting[0].outcomes) <= self._max_items:
            items += len(waiting[0].outcomes)
            batch.append(waiting.pop(0))
        return batch

    async def _send_one_message(self, chat_id: int, batch: list[_Waiting]) -> None:
        if len(batch) > 1:
            log.info("%d answers in one message: the chat's message budget is spent", len(batch))
        answer = render([outcome for waiting in batch for outcome in waiting.outcomes], batch[0]._)
        await self._bot.send_message(
            chat_id,
            answer.text,
            parse_mode=ParseMode.HTML,
            reply_markup=answer.markup,
            link_preview_options=answer.preview,
            reply_parameters=ReplyParameters(batch[0].reply_to, allow_sending_without_reply=True),
            rate_limit_args=ESSENTIAL_RETRIES,
        )
