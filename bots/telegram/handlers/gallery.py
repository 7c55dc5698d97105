"""``/gallery``: the user's uploads in the web gallery, opened as a Mini App from the
private chat (Telegram signs who opened it). Where the gallery's address is plain http
(a server on a home network), Telegram refuses a Mini App: a one-time link instead."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update, WebAppInfo
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bots.telegram.deps import deps, language_for, translator_for, user_ref
from bots.telegram.handlers.keys import deep_link

GALLERY_PAYLOAD = "gallery"


async def gallery(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or message.from_user is None:
        return
    _ = await translator_for(update, context)
    found = deps(context)
    if not found.gallery.enabled:
        await message.reply_text(
            _("The gallery is off on this bot (its operator has not set PICLOUD_PUBLIC_URL).")
        )
        return
    if message.chat.type != ChatType.PRIVATE:
        # Telegram allows Mini App buttons in private chats only.
        open_private = InlineKeyboardButton(
            _("Open my gallery"), url=deep_link(found.bot_username, GALLERY_PAYLOAD)
        )
        await message.reply_text(
            _("Your gallery opens in our private chat."),
            reply_markup=InlineKeyboardMarkup([[open_private]]),
        )
        return
    language = await language_for(update, context)
    passes = found.gallery
    page = passes.page_url(language)
    if page.startswith("https://"):
        button = InlineKeyboardButton(_("Open my gallery"), web_app=WebAppInfo(url=page))
        text = _("Your uploads: search them, copy their codes, delete them.")
    else:
        link = passes.one_time_link(user_ref(message.from_user), language)
        button = InlineKeyboardButton(_("Open my gallery"), url=link)
        text = _(
            "Your uploads: search them, copy their codes, delete them. "
            "The link is yours alone: it opens once, within 10 minutes."
        )
    await message.reply_text(text, reply_markup=InlineKeyboardMarkup([[button]]))
