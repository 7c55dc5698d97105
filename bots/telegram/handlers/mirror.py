"""``/mirror on|off|status``: group admins switch auto-uploading of every media message;
``/mirror channel @name [on|off|status]`` in the private chat does it for a channel (no
command can be sent as a channel), whose posts then get Open buttons."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bots.telegram.admins import ADMIN_STATUSES
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
        args = context.args or []
        if len(args) >= 2 and args[0].lower() == "channel":
            word = args[2].lower() if len(args) > 2 else "on"
            await _mirror_channel(message, context, _, args[1], word)
            return
        await message.reply_text(
            _(
                "/mirror works in groups: add me to one and use it there. For a channel: "
                "/mirror channel @name, here."
            )
        )
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


async def _mirror_channel(
    message: Message, context: ContextTypes.DEFAULT_TYPE, _: Translator, name: str, word: str
) -> None:
    """Switch a channel's mirroring, if the sender administers it and the bot is an admin
    there that may edit posts (the answer is buttons under each post)."""
    assert message.from_user is not None
    if word not in ("on", "off", "status"):
        await message.reply_text(_("Use /mirror channel @name on, off or status."))
        return
    try:
        channel = await context.bot.get_chat(name if name.startswith(("@", "-")) else f"@{name}")
    except TelegramError:
        await message.reply_text(_("I cannot find that channel: add me to it as an admin first."))
        return
    if channel.type != ChatType.CHANNEL:
        await message.reply_text(_("That is not a channel: in a group, send /mirror there."))
        return
    found = deps(context)
    if not await found.admins.is_admin(context.bot, channel.id, message.from_user.id):
        await message.reply_text(_("Only the channel's admins can change its mirroring."))
        return
    if word == "on" and not await _may_edit_posts(context, channel.id):
        await message.reply_text(
            _("Make me an admin of the channel who may edit messages: I add the links there.")
        )
        return
    chat = chat_ref(channel.id)
    if word != "status":
        await found.profiles.set_mirroring(chat, word == "on", user_ref(message.from_user))
    switches = await found.profiles.chat(chat)
    title = channel.title or name
    text = (
        _("Mirroring is on for {channel}: each post with media gets an Open button.")
        if switches.mirroring
        else _("Mirroring is off for {channel}.")
    ).format(channel=title)
    button = InlineKeyboardButton(
        _("Set the channel key"),
        url=deep_link(found.bot_username, f"{GROUP_KEY_PAYLOAD}_{channel.id}"),
    )
    await message.reply_text(text, reply_markup=InlineKeyboardMarkup([[button]]))


async def _may_edit_posts(context: ContextTypes.DEFAULT_TYPE, channel_id: int) -> bool:
    try:
        member = await context.bot.get_chat_member(channel_id, context.bot.id)
    except TelegramError:
        return False
    return member.status in ADMIN_STATUSES and bool(getattr(member, "can_edit_messages", False))
