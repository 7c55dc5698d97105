"""Telegram's updates through the inbox: kept before Telegram is told we have them.

Long polling confirms updates with the next ``getUpdates`` offset, which waits until
the queue has kept every update put on it (:class:`KeptFirstRequest`); a webhook
answers 200 only after its update's ``put``, which waits until it is kept. So the
queue is where an update is kept (:class:`InboxQueue`), and an update is done once the
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
from telegram.request import HTTPXRequest

from bots.telegram.limits import OncePer
from core.errors import DatabaseUnavailable
from core.i18n import translator
from core.logging_setup import about
from core.messages import describe_delay
from core.refs import Platform
from core.service.inbox import Inbox, Replay

log = logging.getLogger(__name__)

KEEP_RETRY_S = 1.0
BUSY_NOTICE_EVERY_S = 60.0


class InboxQueue(asyncio.Queue[object]):
    """The application's update queue: an update put on it is handed to the handlers
    once it is kept.

    Updates that arrive together are kept together, in one transaction (the inbox
    keeps whatever is kept at the same moment at once). With long polling ``put``
    returns at once: Telegram learns we have the updates from the next getUpdates, and
    that request waits until they are kept (:class:`KeptFirstRequest`). A webhook's
    ``put`` (``wait_until_kept``) returns once its update is kept: the webhook answers
    200 after it. ``on_arrival`` hears of each new update as it arrives: the first sign
    of life does not wait for the database."""

    def __init__(self, inbox: Inbox, *, wait_until_kept: bool) -> None:
        super().__init__()
        self.inbox = inbox
        self.on_arrival: Callable[[Update], None] = _ignore
        self._wait_until_kept = wait_until_kept
        self._keeping: set[asyncio.Task[None]] = set()
        self._busy_told = OncePer(BUSY_NOTICE_EVERY_S)
        self._replayed: set[int] = set()

    async def put(self, item: object) -> None:
        if not isinstance(item, Update):
            await super().put(item)
            return
        self.on_arrival(item)
        keeping = asyncio.create_task(self._keep(item))
        self._keeping.add(keeping)
        keeping.add_done_callback(self._keeping.discard)
        if self._wait_until_kept:
            await asyncio.shield(keeping)

    async def kept(self) -> None:
        """Returns once every update put so far is kept (and handed on)."""
        if self._keeping:
            await asyncio.wait(set(self._keeping))

    async def _keep(self, update: Update) -> None:
        notice = _busy_notice(update, self._busy_told)
        while True:
            try:
                kept_now = await self.inbox.keep(
                    Platform.TELEGRAM, str(update.update_id), update.to_json(), notice
                )
                break
            except Exception:  # never confirm what is not kept: try again
                log.exception("update %d could not be kept; trying again", update.update_id)
                await asyncio.sleep(KEEP_RETRY_S)
        if not kept_now:
            # Sent again (a webhook whose 200 Telegram never saw, maybe to another
            # instance): it is handled where it was kept, or taken over from there.
            log.info("update %d came again; it was kept before", update.update_id)
            return
        await super().put(update)

    async def put_again(self, update: Update) -> None:
        """An update kept before a restart and never done: handled again, as such."""
        self._replayed.add(update.update_id)
        await super().put(update)

    def was_replayed(self, update: Update) -> bool:
        return update.update_id in self._replayed

    async def done(self, update: Update) -> None:
        await self.inbox.done(Platform.TELEGRAM, str(update.update_id))
        self._replayed.discard(update.update_id)


class KeptFirstRequest(HTTPXRequest):
    """The connection that polls getUpdates. Its offset tells Telegram the bot has every
    update before it, so it waits until the queue has kept them."""

    def __init__(self, queue: InboxQueue) -> None:
        super().__init__(connection_pool_size=1)
        self._queue = queue

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        await self._queue.kept()
        return await super().do_request(*args, **kwargs)


class InboxApplication(Application):  # type: ignore[type-arg]
    """An application that marks each kept update done once it was processed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        assert isinstance(self.update_queue, InboxQueue)
        self.inbox_queue: InboxQueue = self.update_queue

    async def process_update(self, update: object) -> None:
        if isinstance(update, Update):  # each update is handled in a task of its own
            chat = update.effective_chat
            about(platform=Platform.TELEGRAM, chat=str(chat.id) if chat else "-")
        await super().process_update(update)
        # Not reached when cancelled by a stop: the update is handled again at next start.
        if isinstance(update, Update):
            await self.inbox_queue.done(update)


def _ignore(update: Update) -> None:
    return None


def _busy_notice(update: Update, told: OncePer) -> Callable[[], Awaitable[None]]:
    """Tells the sender that their message waits for the bot's database: once a minute
    per chat, however many of its messages wait."""

    async def tell() -> None:
        chat, user = update.effective_chat, update.effective_user
        if chat is None or update.callback_query is not None or not told.allow(chat.id):
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
