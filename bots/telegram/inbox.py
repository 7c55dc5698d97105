"""Telegram's updates through the inbox: kept before Telegram is told we have them.

Long polling confirms updates with the next ``getUpdates`` offset, and
python-telegram-bot asks for it only after it has put every fetched update on its
update queue; a webhook answers 200 only after that put too. So the queue's ``put``
is where an update is kept (:class:`InboxQueue`), and an update is done once the
application has processed it (:class:`InboxApplication`). Updates kept and not done
when the process died are put on the queue again at the next start
(:func:`replayer`), and handlers are idempotent for them (see ``uploading.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Bot, Update
from telegram.error import TelegramError
from telegram.ext import Application

from core.errors import DatabaseUnavailable
from core.i18n import translator
from core.messages import describe_delay
from core.refs import Platform
from core.service.inbox import Inbox, Replay

log = logging.getLogger(__name__)


class InboxQueue(asyncio.Queue[object]):
    """The application's update queue; every update put on it is kept first.

    ``on_arrival`` hears of each new update before it is kept: the first sign of life
    need not wait for the database (a burst of updates is kept one by one)."""

    def __init__(self, inbox: Inbox) -> None:
        super().__init__()
        self.inbox = inbox
        self.on_arrival: Callable[[Update], None] = _ignore
        self._replayed: set[int] = set()

    async def put(self, item: object) -> None:
        if isinstance(item, Update):
            self.on_arrival(item)
            await self.inbox.keep(
                Platform.TELEGRAM, str(item.update_id), item.to_json(), _busy_notice(item)
            )
        await super().put(item)

    async def put_again(self, update: Update) -> None:
        """An update kept before a restart and never done: handled again, as such."""
        self._replayed.add(update.update_id)
        await super().put(update)

    def was_replayed(self, update: Update) -> bool:
        return update.update_id in self._replayed

    async def done(self, update: Update) -> None:
        await self.inbox.done(Platform.TELEGRAM, str(update.update_id))
        self._replayed.discard(update.update_id)


class InboxApplication(Application):  # type: ignore[type-arg]
    """An application that marks each kept update done once it was processed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        assert isinstance(self.update_queue, InboxQueue)
        self.inbox_queue: InboxQueue = self.update_queue

    async def process_update(self, update: object) -> None:
        await super().process_update(update)
        # Not reached when cancelled by a stop: the update is handled again at next start.
        if isinstance(update, Update):
            await self.inbox_queue.done(update)


def _ignore(update: Update) -> None:
    return None


def _busy_notice(update: Update) -> Callable[[], Awaitable[None]]:
    """Tells the sender that their message waits for the bot's database."""

    async def tell() -> None:
        chat, user = update.effective_chat, update.effective_user
        if chat is None or update.callback_query is not None:
            return
        _ = translator(user.language_code if user else None)
        with contextlib.suppress(TelegramError):
            await chat.send_message(describe_delay(DatabaseUnavailable("busy"), _))

    return tell


def replayer(queue: InboxQueue, bot: Bot) -> Replay:
    """Puts a kept update that was never done on the queue again."""

    async def replay(_key: str, payload: str) -> None:
        update = Update.de_json(json.loads(payload), bot)
        log.info("handling update %d again: it was not done before a restart", update.update_id)
        await queue.put_again(update)

    return replay
