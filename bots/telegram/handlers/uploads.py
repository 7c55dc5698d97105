"""Media in: private chats upload everything, groups on /upload or when mirroring."""

from __future__ import annotations

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bots.telegram.deps import chat_ref, deps, translator_for
from bots.telegram.files import TelegramFile
from bots.telegram.inbox import InboxApplication
from bots.telegram.media import file_of, links_of, options_of, other_links
from bots.telegram.uploading import MAX_LINKS, Upload, origins_of, upload_and_answer
from core.chevereto.models import UploadOptions
from core.i18n import Translator, translator
from core.refs import Platform, UserId, UserRef
from core.service.batch import Item, Link

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
    links = [Link(arg) for arg in context.args or [] if _is_link(arg)]
    items: list[Item] = [*links] if links else _items_of(source, context) if source else []
    if not items:
        await message.reply_text(
            _("Reply /upload to a message with a photo, video, file or link, or write /upload URL.")
        )
        return
    options = options_of(source) if source is not None and source.caption else UploadOptions()
    job = _upload(update, context, message, items, options, _)
    await upload_and_answer(context.bot, deps(context), job)


async def group_media(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any media posted in a group that has mirroring on."""
    message = update.effective_message
    if message is None or message.from_user is None or message.from_user.is_bot:
        return
    if await deps(context).profiles.mirrors(chat_ref(message.chat_id)):
        await _upload_message(message, update, context)


async def channel_post(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A post with media in a channel that has mirroring on: uploaded as the admin who
    switched it on (their key, else the channel's), answered by buttons on the post."""
    post = update.channel_post
    if post is None:
        return
    switches = await deps(context).profiles.switches(chat_ref(post.chat_id))
    if not switches.mirroring or switches.mirrored_by is None:
        return
    owner = UserRef(Platform.TELEGRAM, UserId(switches.mirrored_by))
    items = _items_of(post, context)[:MAX_LINKS]
    if not items:
        return
    prefs = await deps(context).profiles.preferences(owner)
    job = Upload(
        post,
        items,
        origins_of(post, len(items)),
        options_of(post),
        translator(prefs.language),
        update.update_id,
        _replayed(update, context),
        owner=owner,
    )
    await upload_and_answer(context.bot, deps(context), job)


async def _upload_message(
    message: Message, update: Update, context: ContextTypes.DEFAULT_TYPE
) -> None:
    _ = await translator_for(update, context)
    if message.media_group_id:
        await _collect_album(update, context, _)
        return
    items = _items_of(message, context)
    if items:
        job = _upload(update, context, message, items, options_of(message), _)
        await upload_and_answer(context.bot, deps(context), job)
    elif message.chat.type == ChatType.PRIVATE and other_links(message):
        await message.reply_text(_("Only http and https links can be uploaded."))


async def _collect_album(update: Update, context: ContextTypes.DEFAULT_TYPE, _: Translator) -> None:
    async def when_complete(album: list[Update]) -> None:
        messages = [part.message for part in album if part.message is not None]
        items: list[Item] = []
        origins: list[str] = []
        for part in messages:
            found = _items_of(part, context)
            items += found
            origins += origins_of(part, len(found))
        # The album's caption, if any, sits on one of its messages.
        captioned = next((part for part in messages if part.caption), messages[0])
        job = Upload(
            messages[0],
            items,
            origins,
            options_of(captioned),
            _,
            event=album[0].update_id,
            replayed=any(_replayed(part, context) for part in album),
        )
        await upload_and_answer(context.bot, deps(context), job)

    await deps(context).albums.collect(update, when_complete)


def _upload(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    message: Message,
    items: list[Item],
    options: UploadOptions,
    _: Translator,
) -> Upload:
    """The upload of a message's items (the first ``MAX_LINKS``: a message may hold any
    number of links), named after the message (see ``origins_of``)."""
    left_out = max(0, len(items) - MAX_LINKS)
    items = items[:MAX_LINKS]
    origins = origins_of(message, len(items))
    replayed = _replayed(update, context)
    return Upload(message, items, origins, options, _, update.update_id, replayed, left_out)


def _replayed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Whether this update is handled again after a restart (see ``bots/telegram/inbox.py``)."""
    application = context.application
    return isinstance(application, InboxApplication) and application.inbox_queue.was_replayed(
        update
    )


def _items_of(message: Message, context: ContextTypes.DEFAULT_TYPE) -> list[Item]:
    found = file_of(message)
    if isinstance(found, TelegramFile):
        return [deps(context).files.in_chat(found)]
    if found is not None:
        return [found]
    return list(links_of(message))


def _is_link(text: str) -> bool:
    return text.lower().startswith(("http://", "https://"))
