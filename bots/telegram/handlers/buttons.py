"""The answer's buttons: Delete (with a Yes/No confirmation) and Codes.

The callback data holds an opaque upload id; who may delete is decided by the core
service (the uploader, or an admin of the chat, checked here with the Bot API).
"""

from __future__ import annotations

import contextlib

from telegram import CallbackQuery, Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bots.telegram.answers import codes_answer, confirm_delete, without_upload
from bots.telegram.deps import acknowledge, chat_ref, deps, translator_for, user_ref
from core.chevereto.models import DeleteOutcome
from core.codes import Format, embed_codes
from core.errors import NotFound, PermissionDenied
from core.i18n import Translator
from core.refs import ChatRef, UploadId
from core.service.types import UploadView


async def delete_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Delete: ask the presser to confirm, if the upload is theirs to delete."""
    query = update.callback_query
    assert query is not None
    _ = await translator_for(update, context)
    view = await _deletable(query, context, _)
    if view is None or not isinstance(query.message, Message):
        return
    confirm = confirm_delete(view, _)
    await query.message.reply_text(
        confirm.text, parse_mode=ParseMode.HTML, reply_markup=confirm.markup
    )
    await acknowledge(query)


async def delete_confirmed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Yes: the bot visits the delete link itself, then edits the answer."""
    query = update.callback_query
    assert query is not None
    _ = await translator_for(update, context)
    upload_id = _upload_id(query)
    admin_of = await _admin_chat(query, context)
    try:
        outcome = await deps(context).service.delete(
            upload_id, user_ref(query.from_user), admin_of=admin_of
        )
    except (NotFound, PermissionDenied) as refusal:
        await acknowledge(query, _refusal_text(refusal, _), alert=True)
        return
    if outcome is DeleteOutcome.FAILED:
        await acknowledge(
            query,
            _("The upload host did not answer; nothing was deleted. Try again later."),
            alert=True,
        )
        return
    await acknowledge(query, _("Deleted."))
    confirmation = query.message if isinstance(query.message, Message) else None
    if confirmation is not None:
        await _mark_deleted(confirmation.reply_to_message, upload_id, _)
        with contextlib.suppress(TelegramError):
            await confirmation.delete()


async def delete_cancelled(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await acknowledge(query)
    if isinstance(query.message, Message):
        with contextlib.suppress(TelegramError):
            await query.message.delete()


async def codes_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Codes: the links and the embed codes in one format, in a message of their own;
    its format buttons switch that message to another format."""
    query = update.callback_query
    assert query is not None
    _ = await translator_for(update, context)
    upload_id, switched = _codes_wanted(query)
    view = await deps(context).service.find(upload_id)
    codes = embed_codes(view) if view else None
    if codes is None or not isinstance(query.message, Message):
        await acknowledge(
            query, _("No codes for this upload (deleted, or awaiting moderation)."), alert=True
        )
        return
    answer = codes_answer(codes, switched or Format.MARKDOWN, upload_id, _)
    if switched is None:
        await query.message.reply_text(
            answer.text,
            parse_mode=ParseMode.HTML,
            reply_markup=answer.markup,
            link_preview_options=answer.preview,
        )
    else:
        with contextlib.suppress(BadRequest):  # pressed twice: "message is not modified"
            await query.message.edit_text(
                answer.text,
                parse_mode=ParseMode.HTML,
                reply_markup=answer.markup,
                link_preview_options=answer.preview,
            )
    await acknowledge(query)


def _codes_wanted(query: CallbackQuery) -> tuple[UploadId, Format | None]:
    """``codes:<id>`` (the answer's button) or ``codes:<id>:<format>`` (a switch)."""
    _action, upload_id, form = [*(query.data or "").split(":"), ""][:3]
    return UploadId(upload_id), Format(form) if form in set(Format) else None


async def unknown_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button whose data no handler knows (an old message, a forged press): answered,
    so the client stops spinning."""
    query = update.callback_query
    assert query is not None
    _ = await translator_for(update, context)
    await acknowledge(query, _("This button no longer does anything."))


async def _deletable(
    query: CallbackQuery, context: ContextTypes.DEFAULT_TYPE, _: Translator
) -> UploadView | None:
    service = deps(context).service
    presser = user_ref(query.from_user)
    try:
        return await service.check_delete(
            _upload_id(query), presser, admin_of=await _admin_chat(query, context)
        )
    except (NotFound, PermissionDenied) as refusal:
        await acknowledge(query, _refusal_text(refusal, _), alert=True)
        return None


async def _admin_chat(query: CallbackQuery, context: ContextTypes.DEFAULT_TYPE) -> ChatRef | None:
    """The group, if the presser administers the group the button is in."""
    message = query.message
    if message is None or message.chat.type == ChatType.PRIVATE:
        return None
    if await deps(context).admins.is_admin(context.bot, message.chat.id, query.from_user.id):
        return chat_ref(message.chat.id)
    return None


def _refusal_text(refusal: NotFound | PermissionDenied, _: Translator) -> str:
    if isinstance(refusal, PermissionDenied):
        return _("This is not your upload: only the uploader or a chat admin can delete it.")
    return _("This upload is already deleted or no longer known.")


async def _mark_deleted(answer: Message | None, upload_id: UploadId, _: Translator) -> None:
    if answer is None:
        return
    markup = without_upload(answer.reply_markup, upload_id)
    with contextlib.suppress(TelegramError):
        if markup is None:
            await answer.edit_text("🗑 " + _("Deleted from picloud."))
        else:
            await answer.edit_text(
                answer.text_html + "\n🗑 " + _("One upload was deleted."),
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                disable_web_page_preview=True,
            )


def _upload_id(query: CallbackQuery) -> UploadId:
    _action, _sep, upload_id = (query.data or "").partition(":")
    return UploadId(upload_id)
