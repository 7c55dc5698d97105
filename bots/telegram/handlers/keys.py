"""API keys: ``/setkey`` and ``/delkey`` in a private chat, and a group's key set by
an admin through a deep link into the private chat, never typed in the group."""

from __future__ import annotations

import contextlib

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bots.telegram.deps import chat_ref, deps, translator_for, user_ref
from core.errors import InputError
from core.i18n import Translator

AWAITING_GROUP_KEY = "awaiting_group_key"
GROUP_KEY_PAYLOAD = "gk"
SETKEY_PAYLOAD = "setkey"


async def setkey(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or message.from_user is None:
        return
    _ = await translator_for(update, context)
    if message.chat.type != ChatType.PRIVATE:
        await refuse_key_in_group(message, context, _)
        return
    if not context.args:
        await message.reply_text(_("Send it like this: /setkey YOUR_API_KEY"))
        return
    key_text = " ".join(context.args)
    await _forget_message(message)
    try:
        masked = await deps(context).service.keys.set_user_key(
            user_ref(message.from_user), key_text
        )
    except InputError:
        await _say(
            message, _("That is not an API key: it has no spaces or line breaks. Copy it again.")
        )
        return
    await _say(message, _("Key saved: {masked}").format(masked=masked))


async def refuse_key_in_group(
    message: Message, context: ContextTypes.DEFAULT_TYPE, _: Translator
) -> None:
    """A key sent in a group is gone from the group at once, if the bot may delete."""
    await _forget_message(message)
    button = InlineKeyboardButton(
        _("Open a private chat"), url=deep_link(deps(context).bot_username, SETKEY_PAYLOAD)
    )
    await message.chat.send_message(
        _("Never send an API key in a group. Set it in a private chat with me."),
        reply_markup=InlineKeyboardMarkup([[button]]),
    )


async def delkey(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or message.from_user is None:
        return
    _ = await translator_for(update, context)
    removed = await deps(context).service.keys.remove_user_key(user_ref(message.from_user))
    await message.reply_text(_("Your key is removed.") if removed else _("You have no key stored."))


async def start_group_key(
    update: Update, context: ContextTypes.DEFAULT_TYPE, chat_id: int, _: Translator
) -> None:
    """``/start gk_<chat id>`` from a group's (or a channel's) button: ask an admin for
    the key."""
    message = update.effective_message
    assert message is not None and message.from_user is not None
    channel = await _is_channel(context, chat_id)
    if not await deps(context).admins.is_admin(context.bot, chat_id, message.from_user.id):
        await message.reply_text(
            _("Only an admin of that channel can set its key.")
            if channel
            else _("Only an admin of that group can set its key.")
        )
        return
    assert context.user_data is not None
    context.user_data[AWAITING_GROUP_KEY] = (chat_id, channel)
    await message.reply_text(
        _(
            "Send the channel's API key now. It is used for posts when the admin who "
            "switched mirroring on has no key of their own. Send off to remove the "
            "channel's key."
        )
        if channel
        else _(
            "Send the group's API key now. It is used for members who have no key of their "
            "own. Send off to remove the group's key."
        )
    )


async def group_key_reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """The private message after ``/start gk_…`` is the group's (or channel's) key. True
    if it was."""
    message = update.effective_message
    if message is None or message.from_user is None or not message.text:
        return False
    if context.user_data is None or AWAITING_GROUP_KEY not in context.user_data:
        return False
    chat_id, channel = context.user_data.pop(AWAITING_GROUP_KEY)
    _ = await translator_for(update, context)
    await _forget_message(message)
    keys = deps(context).service.keys
    try:
        masked = await keys.set_chat_key(
            chat_ref(chat_id), message.text, user_ref(message.from_user)
        )
    except InputError:
        await _say(
            message, _("That is not an API key: it has no spaces or line breaks. Copy it again.")
        )
        return True
    if masked is None:
        removed = (
            _("The channel's key is removed.") if channel else _("The group's key is removed.")
        )
        await _say(message, removed)
    else:
        saved = _("Channel key saved: {masked}") if channel else _("Group key saved: {masked}")
        await _say(message, saved.format(masked=masked))
    return True


async def _is_channel(context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> bool:
    try:
        chat = await context.bot.get_chat(chat_id)
    except TelegramError:
        return False  # the admin check that follows refuses it anyway
    return chat.type == ChatType.CHANNEL


def deep_link(bot_username: str, payload: str) -> str:
    return f"https://t.me/{bot_username}?start={payload}"


async def _say(deleted: Message, text: str) -> None:
    """Answer in the chat of a message we deleted (there is nothing left to reply to)."""
    await deleted.chat.send_message(text)


async def _forget_message(message: Message) -> None:
    # Best effort: in a group the bot may lack the right, and the key must not stay
    # visible in our own chat either once it is stored.
    with contextlib.suppress(TelegramError):
        await message.delete()
