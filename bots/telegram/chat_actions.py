"""The chat action ("sending photo…"): the first sign of life an upload gives.

Telegram shows a chat action for five seconds. It is sent once as an update with media
arrives (before the update is even written down: a sign costs nothing if lost), then
renewed every 4.5 s while any upload in that chat runs: one renewal per chat, however
many uploads run there. Chat actions are not counted in a chat's message budget, but
each is a request: 30 uploads in a group need one every 4.5 s, not 30.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from telegram import Message, Update
from telegram.constants import ChatAction, ChatType
from telegram.error import TelegramError
from telegram.ext import ExtBot

SHOWN_FOR_S = 4.5
"""Telegram shows an action for 5 s; renewed a little sooner."""
MAX_CHATS = 10_000


def action_for(mimes: list[str], items: int) -> ChatAction:
    """What the chat sees: a video if any item is one, a photo if all are images."""
    if any(mime.startswith("video/") for mime in mimes):
        return ChatAction.UPLOAD_VIDEO
    if mimes and len(mimes) == items and all(mime.startswith("image/") for mime in mimes):
        return ChatAction.UPLOAD_PHOTO
    return ChatAction.UPLOAD_DOCUMENT


def action_for_message(message: Message) -> ChatAction | None:
    """The action for a message's media as it arrives; None when it carries none."""
    if message.photo:
        return ChatAction.UPLOAD_PHOTO
    if message.video or message.animation or message.video_note:
        return ChatAction.UPLOAD_VIDEO
    if message.document or message.sticker or message.audio or message.voice:
        return ChatAction.UPLOAD_DOCUMENT
    return None


def sign_of_life(actions: ChatActions, update: Update) -> None:
    """As media arrives in a private chat (everything there is uploaded), show the
    action at once. In a group the action waits for the handler: it knows whether the
    group mirrors."""
    message = update.message
    if message is None or message.chat.type != ChatType.PRIVATE:
        return
    if (action := action_for_message(message)) is not None:
        actions.sign(message.chat_id, action)


class ChatActions:
    def __init__(self, bot: ExtBot[Any]) -> None:
        self._bot = bot
        self._running: dict[int, int] = {}  # chat -> uploads running there
        self._renewing: dict[int, asyncio.Task[None]] = {}
        self._sent_at: dict[int, float] = {}
        self._signs: set[asyncio.Task[None]] = set()

    def sign(self, chat_id: int, action: ChatAction) -> None:
        """Show ``action`` now, without waiting for Telegram (unless it shows already)."""
        if self._shown_recently(chat_id):
            return
        now = time.monotonic()
        if len(self._sent_at) >= MAX_CHATS:  # forget chats whose action has faded
            self._sent_at = {c: t for c, t in self._sent_at.items() if now - t < SHOWN_FOR_S}
        self._sent_at[chat_id] = now
        task = asyncio.create_task(self._send(chat_id, action))
        self._signs.add(task)
        task.add_done_callback(self._signs.discard)

    @contextlib.asynccontextmanager
    async def during(self, chat_id: int, action: ChatAction) -> AsyncIterator[None]:
        """Keep ``action`` shown in the chat while the block runs."""
        self._running[chat_id] = self._running.get(chat_id, 0) + 1
        if chat_id not in self._renewing:
            self._renewing[chat_id] = asyncio.create_task(self._renew(chat_id, action))
        try:
            yield
        finally:
            self._running[chat_id] -= 1
            if not self._running[chat_id]:
                del self._running[chat_id]
                self._renewing.pop(chat_id).cancel()

    async def _renew(self, chat_id: int, action: ChatAction) -> None:
        while True:
            if not self._shown_recently(chat_id):
                self._sent_at[chat_id] = time.monotonic()
                await self._send(chat_id, action)
            await asyncio.sleep(self._sent_at[chat_id] + SHOWN_FOR_S - time.monotonic())

    def _shown_recently(self, chat_id: int) -> bool:
        sent_at = self._sent_at.get(chat_id)
        if sent_at is not None and time.monotonic() - sent_at >= SHOWN_FOR_S:
            del self._sent_at[chat_id]  # so that quiet chats are not remembered
            return False
        return sent_at is not None

    async def _send(self, chat_id: int, action: ChatAction) -> None:
        with contextlib.suppress(TelegramError):  # a sign of life, nothing more
            await self._bot.send_chat_action(chat_id, action)
