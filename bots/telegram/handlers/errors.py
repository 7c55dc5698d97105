"""The one error handler: log with a reference, tell the user briefly in their language."""

from __future__ import annotations

import logging
import secrets

from telegram import Update
from telegram.error import Forbidden, RetryAfter, TelegramError
from telegram.ext import ContextTypes

from bots.telegram.deps import deps, translator_for
from core.errors import PicloudError
from core.messages import describe_error

log = logging.getLogger(__name__)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    error = context.error
    if isinstance(error, Forbidden):
        log.info("a user blocked the bot or left the chat; nothing to answer")
        return
    if isinstance(error, RetryAfter):
        # Back-pressure, not a fault: an apology would only spend more of the budget.
        log.info("Telegram asked to slow down; a reply was dropped")
        return
    reference = secrets.token_hex(3)
    log.error("update failed (ref %s)", reference, exc_info=error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    _ = await translator_for(update, context)
    if isinstance(error, PicloudError):
        text = describe_error(error, _, deps(context).hints)
    else:
        text = _("Something went wrong on our side (ref {ref}). Try again later.").format(
            ref=reference
        )
    try:
        await update.effective_chat.send_message(text)
    except TelegramError:
        log.warning("could not tell the user about ref %s", reference)
