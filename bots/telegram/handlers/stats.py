"""``/stats``: a group's uploads for its admins (sent in the group), everything for the
operator (``PICLOUD_ADMIN_IDS``, in the private chat): counts, bytes and top uploaders
over 7 and 30 days, with a chart of uploads per day."""

from __future__ import annotations

from telegram import InputFile, Update
from telegram.constants import ChatType, ParseMode
from telegram.ext import ContextTypes

from bots.telegram.deps import chat_ref, deps, translator_for, user_ref
from core.charts import bar_chart_png
from core.messages import describe_stats
from core.refs import Platform


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or message.from_user is None:
        return
    _ = await translator_for(update, context)
    found = deps(context)
    statistics = found.statistics
    if message.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP):
        if not await found.admins.is_admin(context.bot, message.chat_id, message.from_user.id):
            await message.reply_text(_("Only the group's admins can see its statistics."))
            return
        counted, heading = await statistics.of_chat(chat_ref(message.chat_id)), _("This group")
    elif statistics.is_operator(user_ref(message.from_user)):
        counted, heading = await statistics.of_everything(), _("Everything")
    else:
        await message.reply_text(
            _("Statistics are for a group's admins (send /stats there) and the bot's operator.")
        )
        return
    text = describe_stats(counted, _, Platform.TELEGRAM, _mention)
    await message.reply_photo(
        InputFile(bar_chart_png(counted.daily), filename="stats.png"),
        caption=f"<b>📊 {heading}</b>\n{text}\n" + _("Uploads per day, last 30 days."),
        parse_mode=ParseMode.HTML,
    )


def _mention(user_id: str) -> str:
    return f'<a href="tg://user?id={user_id}">{user_id}</a>'
