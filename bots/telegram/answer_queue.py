"""Answers sent as new messages into a Telegram chat, as its budget allows: those that
had to wait for it go together, as one message listing them all, each item with its
own buttons (see ``core/pacing.py``)."""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from telegram import ReplyParameters
from telegram.constants import ParseMode
from telegram.ext import ExtBot

from bots.telegram.answers import Outcome, render
from bots.telegram.chat_actions import ChatActions
from bots.telegram.limits import ESSENTIAL_RETRIES, MessageRateLimiter
from core.i18n import Translator
from core.pacing import AnswerQueue

log = logging.getLogger(__name__)

MAX_ITEMS_PER_ANSWER = 20
"""Items listed in one message: 20 lines and 40 buttons stay well inside Telegram's
4096 characters and 100 buttons."""


@dataclass(frozen=True, slots=True)
class NewAnswer:
    """An answer to the message ``reply_to``, not yet sent."""

    reply_to: int
    outcomes: Sequence[Outcome]
    _: Translator


def answer_queue(bot: ExtBot[Any], actions: ChatActions) -> AnswerQueue[NewAnswer]:
    """The chat's answers; ``actions`` hears of each message (it ends a chat action)."""
    limiter = bot.rate_limiter
    budget = limiter if isinstance(limiter, MessageRateLimiter) else None

    async def send(chat: Hashable, answers: list[NewAnswer]) -> None:
        if len(answers) > 1:
            log.info("%d answers in one message, to spare the chat's budget", len(answers))
        first = answers[0]
        answer = render([outcome for each in answers for outcome in each.outcomes], first._)
        await bot.send_message(
            int(str(chat)),
            answer.text,
            parse_mode=ParseMode.HTML,
            reply_markup=answer.markup,
            link_preview_options=answer.preview,
            reply_parameters=ReplyParameters(first.reply_to, allow_sending_without_reply=True),
            rate_limit_args=ESSENTIAL_RETRIES,
        )

    return AnswerQueue(
        send,
        budget,
        size=lambda answer: len(answer.outcomes),
        max_size=MAX_ITEMS_PER_ANSWER,
        signs=actions,
    )
