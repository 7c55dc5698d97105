"""``/sharex``: a ShareX uploader (``.sxcu``) with the user's own key, sent to them alone
(it holds the key, so never into a group)."""

from __future__ import annotations

from telegram import InputFile, Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bots.telegram.deps import deps, translator_for, user_ref
from core.messages import sharex_warning
from core.sharex import FILE_NAME


async def sharex(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or message.from_user is None:
        return
    _ = await translator_for(update, context)
    if message.chat.type != ChatType.PRIVATE:
        await message.reply_text(
            _("The ShareX file holds your key: send me /sharex in our private chat.")
        )
        return
    uploader = await deps(context).sharex.uploader_for(user_ref(message.from_user))
    if uploader is None:
        await message.reply_text(
            _("Store your own key first (/setkey KEY): the ShareX file uploads with it.")
        )
        return
    await message.reply_document(
        InputFile(uploader, filename=FILE_NAME), caption=sharex_warning(_, "/delkey")
    )
