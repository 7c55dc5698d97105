"""``/mirror on|off|status``: group admins switch auto-uploading of every media message."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bots.telegram.deps import chat_ref, deps, translator_for, user_ref
from bots.telegram.handlers.keys import GROUP_KEY_PAYLOAD, deep_link
from core.i18n import Translator
from core.messages import mirroring_status


async def mirror(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or message.from_user is None:
        return
    _ = await translator_for(update, context)
    if message.chat.type == ChatType.PRIVATE:
        await message.reply_text(_("/mirror works in groups: add me to one and use it there."))
        return
    found = deps(context)
    if not await found.admins.is_admin(context.bot, message.chat_id, message.from_user.id):
        await message.reply_text(_("Only group admins can change mirroring."))
        return
    word = (context.args or ["status"])[0].lower()
    chat = chat_ref(message.chat_id)
    if word in ("on", "off"):
        if word == "on" and not await _can_read_group(message, context):
            await message.reply_text(_privacy_hint(_, found.bot_username))
            return
        await found.profiles.set_mirroring(chat, word == "on", user_ref(message.from_user))
    elif word != "status":
        await message.reply_text(_("Use /mirror on, /mirror off or /mirror status."))
        return
    await _status(message, context, _)


async def _status(message: Message, context: ContextTypes.DEFAULT_TYPE, _: Translator) -> None:
    found = deps(context)
    switches = await found.profiles.chat(chat_ref(message.chat_id))
    text = mirroring_status(switches.mirroring, switches.has_key, _)
    payload = f"{GROUP_KEY_PAYLOAD}_{message.chat_id}"
    button = InlineKeyboardButton(
        _("Set the group key"), url=deep_link(found.bot_username, payload)
    )
    await message.reply_text(text, reply_markup=InlineKeyboardMarkup([[button]]))


async def _can_read_group(message: Message, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """With privacy mode on, a bot sees only commands and replies, unless it is an admin."""
    if context.bot.can_read_all_group_messages:
        return True
    return await deps(context).admins.is_admin(context.bot, message.chat_id, context.bot.id)


def _privacy_hint(_: Translator, bot_username: str) -> str:
    return _(
        "I cannot see the messages of this group, so I cannot mirror them. Either make "
        "me an admin of the group, or turn my privacy mode off: in @BotFather send "
        "/setprivacy, choose @{bot} and pick Disable, then remove me from the group "
        "and add me again."
    ).format(bot=bot_username)
