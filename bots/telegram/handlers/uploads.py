"""Media in: private chats upload everything, groups on /upload or when mirroring."""

from __future__ import annotations

from telegram import Message, Update
from telegram.ext import ContextTypes

from bots.telegram.deps import chat_ref, deps, translator_for
from bots.telegram.files import TelegramFile
from bots.telegram.media import file_of, links_of, options_of
from bots.telegram.uploading import Upload, upload_and_answer
from core.chevereto.models import UploadOptions
from core.i18n import Translator
from core.service.batch import Item, Link

MAX_LINKS = 10
ALBUMS_KEY = "albums"


async def private_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A photo, video, GIF, sticker, file or text with links sent to the bot: upload it."""
    message = update.effective_message
    if message is not None:
        await _upload_message(message, update, context)


async def upload_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``/upload`` replying to a message with media or links, or ``/upload URL``."""
    message = update.effective_message
    if message is None:
        return
    _ = await translator_for(update, context)
    source = message.reply_to_message
    links = [Link(arg) for arg in context.args or [] if _is_link(arg)][:MAX_LINKS]
    items: list[Item] = [*links] if links else _items_of(source, context) if source else []
    if not items:
        await message.reply_text(
            _("Reply /upload to a message with a photo, video, file or link, or write /upload URL.")
        )
        return
    options = options_of(source) if source is not None and source.caption else UploadOptions()
    await upload_and_answer(context.bot, deps(context), Upload(message, items, options, _))


async def group_media(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any media posted in a group that has mirroring on."""
    message = update.effective_message
    if message is None or message.from_user is None or message.from_user.is_bot:
        return
    switches = await deps(context).profiles.chat(chat_ref(message.chat_id))
    if switches.mirroring:
        await _upload_message(message, update, context)


async def _upload_message(
    message: Message, update: Update, context: ContextTypes.DEFAULT_TYPE
) -> None:
    _ = await translator_for(update, context)
    if message.media_group_id:
        _collect_album(message, update, context, _)
        return
    items = _items_of(message, context)
    if items:
        job = Upload(message, items, options_of(message), _)
        await upload_and_answer(context.bot, deps(context), job)


def _collect_album(
    message: Message, update: Update, context: ContextTypes.DEFAULT_TYPE, _: Translator
) -> None:
    collector = deps(context).albums

    async def when_complete(album: list[Message]) -> None:
        items = [item for part in album for item in _items_of(part, context)]
        # The album's caption, if any, sits on one of its messages.
        captioned = next((part for part in album if part.caption), album[0])
        job = Upload(album[0], items, options_of(captioned), _)
        context.application.create_task(
            upload_and_answer(context.bot, deps(context), job), update=update
        )

    collector.add(message, when_complete)


def _items_of(message: Message, context: ContextTypes.DEFAULT_TYPE) -> list[Item]:
    found = file_of(message)
    if isinstance(found, TelegramFile):
        return [deps(context).files.in_chat(found)]
    if found is not None:
        return [found]
    return list(links_of(message)[:MAX_LINKS])


def _is_link(text: str) -> bool:
    return text.lower().startswith(("http://", "https://"))
