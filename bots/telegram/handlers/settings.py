"""``/settings``: an inline menu for default expiry, nsfw and language; the album is
set with ``/settings album ID``. ``/history``: the last 10 uploads, to delete."""

from __future__ import annotations

import contextlib
import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bots.telegram.answers import Outcome, render
from bots.telegram.deps import acknowledge, deps, translator_for, user_ref
from core.expiry import parse_optional_expiry
from core.i18n import N_, Translator
from core.messages import describe_lost_copies
from core.refs import UserRef
from core.service.profiles import Preferences

SETTING = "set"
EXPIRY_CHOICES = ("off", "1h", "1d", "1w", "1mo", "6mo")
LANGUAGE_CHOICES = (("auto", N_("Auto")), ("en", "English"), ("ru", "Русский"))
HISTORY_SIZE = 10


async def settings(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or message.from_user is None:
        return
    user = user_ref(message.from_user)
    _ = await translator_for(update, context)
    args = context.args or []
    if args and args[0].lower() == "album":
        album = args[1] if len(args) > 1 and args[1].lower() not in ("off", "none") else None
        await deps(context).profiles.set_album(user, album)
    text, markup = await _menu(user, context, _)
    await message.reply_text(text, reply_markup=markup)


async def setting_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A menu button: ``set:<name>:<value>``; the menu is redrawn with the change."""
    query = update.callback_query
    assert query is not None
    user = user_ref(query.from_user)
    _prefix, name, value = (query.data or "::").split(":", 2)
    profiles = deps(context).profiles
    if name == "exp" and value in EXPIRY_CHOICES:
        await profiles.set_default_expiry(user, parse_optional_expiry(value))
    elif name == "nsfw":
        await profiles.set_nsfw(user, value == "1")
    elif name == "lang" and value in dict(LANGUAGE_CHOICES):
        await profiles.set_language(user, None if value == "auto" else value)
    _ = await translator_for(update, context)
    text, markup = await _menu(user, context, _)
    await acknowledge(query, _("Saved."))
    # Pressing the choice already in force is "message is not modified": nothing to do.
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(text, reply_markup=markup)


async def _menu(
    user: UserRef, context: ContextTypes.DEFAULT_TYPE, _: Translator
) -> tuple[str, InlineKeyboardMarkup]:
    prefs = await deps(context).profiles.preferences(user)
    current = prefs.default_expiry.iso if prefs.default_expiry else None
    expiry_row = [
        InlineKeyboardButton(
            _mark(_expiry_label(choice, _), _iso(choice) == current),
            callback_data=f"{SETTING}:exp:{choice}",
        )
        for choice in EXPIRY_CHOICES
    ]
    nsfw_row = [
        InlineKeyboardButton(_mark(_("NSFW: on"), prefs.nsfw), callback_data=f"{SETTING}:nsfw:1"),
        InlineKeyboardButton(
            _mark(_("NSFW: off"), not prefs.nsfw), callback_data=f"{SETTING}:nsfw:0"
        ),
    ]
    language_row = [
        InlineKeyboardButton(
            _mark(_(label) if code == "auto" else label, (prefs.language or "auto") == code),
            callback_data=f"{SETTING}:lang:{code}",
        )
        for code, label in LANGUAGE_CHOICES
    ]
    return _describe(prefs, _), InlineKeyboardMarkup([expiry_row, nsfw_row, language_row])


def _describe(prefs: Preferences, _: Translator) -> str:
    return "\n".join(
        [
            _("Your settings for new uploads:"),
            _("Expiry: {expiry}").format(
                expiry=prefs.default_expiry.iso if prefs.default_expiry else _("never")
            ),
            _("Album: {album} (change with /settings album ID, or /settings album off)").format(
                album=prefs.album_id or _("none")
            ),
        ]
    )


def _expiry_label(choice: str, _: Translator) -> str:
    return _("never") if choice == "off" else choice


def _iso(choice: str) -> str | None:
    expiry = parse_optional_expiry(choice)
    return expiry.iso if expiry else None


def _mark(label: str, chosen: bool) -> str:
    return f"✓ {label}" if chosen else label


async def history(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or message.from_user is None:
        return
    _ = await translator_for(update, context)
    found = deps(context)
    user = user_ref(message.from_user)
    views = await found.service.history(user, HISTORY_SIZE)
    lost = await found.service.lost_copies(user, HISTORY_SIZE)
    if not views and not lost:
        await message.reply_text(_("You have no uploads yet."))
        return
    outcomes = [Outcome(view.title or view.upload_id, view=view) for view in views]
    answer = render(outcomes, _) if views else None
    parts = [answer.text] if answer else []
    if lost:
        parts.append(html.escape(describe_lost_copies(lost, _, found.hints)))
    await message.reply_text(
        "\n\n".join(parts),
        parse_mode=ParseMode.HTML,
        reply_markup=answer.markup if answer else None,
        link_preview_options=answer.preview if answer else LinkPreviewOptions(is_disabled=True),
    )
