"""The chat action ("sending photo…"): the first sign of life an upload gives.

Telegram shows a chat action for five seconds. It is sent once as an update with media
arrives (before the update is even written down: a sign costs nothing if lost), then
renewed every 4.5 s while any upload in that chat runs: one renewal per chat, however
many uploads run there (``core/signs.py``). Chat actions are not counted in a chat's
message budget, but each is a request: 30 uploads in a group need one every 4.5 s, not
30.
"""

from __future__ import annotations

import contextlib
from collections.abc import Hashable
from typing import Any

from telegram import Message, Update
from telegram.constants import ChatAction, ChatType
from telegram.error import TelegramError
from telegram.ext import ExtBot

from core.signs import Signs

SHOWN_FOR_S = 4.5
"""Telegram shows an action for 5 s; renewed a little sooner."""


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
        actions.show(message.chat_id, action)


ChatActions = Signs[ChatAction]


def chat_actions(bot: ExtBot[Any]) -> ChatActions:
    async def send(chat: Hashable, action: ChatAction) -> None:
        with contextlib.suppress(TelegramError):  # a sign of life, nothing more
            await bot.send_chat_action(int(str(chat)), action)

    return Signs(send, SHOWN_FOR_S, sent_before_work=False)
