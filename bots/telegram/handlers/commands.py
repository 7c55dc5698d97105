"""``/start``, ``/help`` and ``/me``, and the word for a private text we don't use."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bots.telegram.deps import deps, translator_for, user_ref
from bots.telegram.handlers.gallery import GALLERY_PAYLOAD, gallery
from bots.telegram.handlers.keys import GROUP_KEY_PAYLOAD, group_key_reply, start_group_key
from core.i18n import Translator


def help_text(_: Translator, settings_url: str) -> str:
    return "\n".join(
        [
            _("Send me a photo, video, GIF, file or link and I upload it to picloud."),
            "",
            _("/setkey KEY — store your picloud API key (get it at {url})").format(
                url=settings_url
            ),
            _("/delkey — forget your key"),
            _("/me — your key, settings and uploads"),
            _("/upload — in a group, reply it to a message to upload that message"),
            _("/mirror on|off|status — group admins: upload every media message"),
            _("/settings — default expiry, nsfw, album, language"),
            _("/history — your last 10 uploads"),
            _("/gallery — all your uploads: search, copy codes, delete"),
        ]
    )


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None:
        return
    _ = await translator_for(update, context)
    payload = context.args[0] if context.args else ""
    if payload == GALLERY_PAYLOAD:
        await gallery(update, context)
        return
    if payload.startswith(GROUP_KEY_PAYLOAD + "_"):
        chat_id = payload.removeprefix(GROUP_KEY_PAYLOAD + "_")
        if chat_id.lstrip("-").isdigit():
            await start_group_key(update, context, int(chat_id), _)
            return
    await message.reply_text(
        _("Hi! I upload media to picloud.")
        + "\n\n"
        + help_text(_, deps(context).hints.settings_url),
        disable_web_page_preview=True,
    )


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None:
        return
    _ = await translator_for(update, context)
    await message.reply_text(
        help_text(_, deps(context).hints.settings_url), disable_web_page_preview=True
    )


async def me(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or message.from_user is None:
        return
    _ = await translator_for(update, context)
    user = user_ref(message.from_user)
    found = deps(context)
    masked = await found.service.keys.show_user_key(user)
    prefs = await found.profiles.preferences(user)
    count = await found.service.upload_count(user)
    lines = [
        _("Key: {key}").format(key=masked or _("none (/setkey KEY)")),
        _("Default expiry: {expiry}").format(
            expiry=prefs.default_expiry.iso if prefs.default_expiry else _("never")
        ),
        _("NSFW by default: {nsfw}").format(nsfw=_("yes") if prefs.nsfw else _("no")),
        _("Album: {album}").format(album=prefs.album_id or _("none")),
        _("Uploads: {count}").format(count=count),
    ]
    await message.reply_text("\n".join(lines))


async def private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A private text with no link: a group key we asked for, or a pointer to /help."""
    if await group_key_reply(update, context):
        return
    message = update.effective_message
    if message is None or not deps(context).stray_hints.allow(message.chat_id):
        return
    _ = await translator_for(update, context)
    await message.reply_text(_("Send me a photo, video, GIF, file or link. /help lists the rest."))
