"""How results look in Telegram: the answer text (HTML), its buttons and preview.

Callback data carries an opaque upload id only. The delete link is never in any
text or button: a link preview (Telegram's, or a chat client's) would visit it,
and any visit deletes the file.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions

from core.codes import EmbedCodes, Format
from core.i18n import Translator
from core.service.types import UploadView

DELETE = "del"
DELETE_YES = "delyes"
DELETE_NO = "delno"
CODES = "codes"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One item of an answer: what was sent and how it ended; or, with ``left_out``,
    the line that says how many items a message had past what one upload takes."""

    name: str
    view: UploadView | None = None
    error: str | None = None
    left_out: int = 0


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    markup: InlineKeyboardMarkup | None
    preview: LinkPreviewOptions


def callback(action: str, upload_id: str) -> str:
    return f"{action}:{upload_id}"


def render(outcomes: list[Outcome], _: Translator) -> Answer:
    if len(outcomes) == 1 and outcomes[0].view is not None:
        return _render_one(outcomes[0].view, _)
    return _render_many(outcomes, _)


def _render_one(view: UploadView, _: Translator) -> Answer:
    heading = _("Already uploaded earlier") if view.repeated else _("Uploaded")
    lines = [f"✅ <b>{heading}</b>" + (f": {html.escape(view.title)}" if view.title else "")]
    lines.extend(_link_lines(view, _))
    buttons = [
        InlineKeyboardButton(_("Codes"), callback_data=callback(CODES, view.upload_id)),
        InlineKeyboardButton(_("Delete"), callback_data=callback(DELETE, view.upload_id)),
    ]
    if view.url_viewer:
        buttons.insert(0, InlineKeyboardButton(_("Open"), url=view.url_viewer))
    return Answer("\n".join(lines), InlineKeyboardMarkup([buttons]), _preview(view))


def _link_lines(view: UploadView, _: Translator) -> list[str]:
    if not view.is_approved:
        return [_("The upload awaits the site's moderation; its links appear once approved.")]
    lines = []
    if view.url_viewer:
        lines.append(_("Viewer: {url}").format(url=html.escape(view.url_viewer)))
    if view.url:
        lines.append(_("Direct: {url}").format(url=html.escape(view.url)))
    if view.expires_at:
        when = view.expires_at.strftime("%Y-%m-%d %H:%M UTC")
        lines.append(_("Deleted by the site after {when}").format(when=when))
    return lines


def _render_many(outcomes: list[Outcome], _: Translator) -> Answer:
    done = sum(1 for outcome in outcomes if outcome.view)
    total = sum(outcome.left_out or 1 for outcome in outcomes)
    lines = ["<b>" + _("Uploaded {done} of {total}").format(done=done, total=total) + "</b>"]
    rows: list[list[InlineKeyboardButton]] = []
    for number, outcome in enumerate(outcomes, start=1):
        if outcome.left_out:
            lines.append(f"❌ {html.escape(outcome.error or '')}")
            continue
        lines.append(_item_line(number, outcome, _))
        if outcome.view is not None:
            rows.append(_item_buttons(number, outcome.view, _))
    preview = next((_preview(o.view) for o in outcomes if o.view), _NO_PREVIEW)
    return Answer("\n".join(lines), InlineKeyboardMarkup(rows) if rows else None, preview)


def _item_line(number: int, outcome: Outcome, _: Translator) -> str:
    name = html.escape(outcome.name)
    view = outcome.view
    if view is None:
        return f"{number}. ❌ {name}: {html.escape(outcome.error or '')}"
    if not view.url_viewer:
        return f"{number}. ⏳ {name}: " + _("awaits moderation")
    return f'{number}. <a href="{html.escape(view.url_viewer)}">{name}</a>'


def _item_buttons(number: int, view: UploadView, _: Translator) -> list[InlineKeyboardButton]:
    row = [InlineKeyboardButton(f"🗑 {number}", callback_data=callback(DELETE, view.upload_id))]
    if view.url_viewer:
        row.insert(0, InlineKeyboardButton(f"↗ {number}", url=view.url_viewer))
    return row


_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def _preview(view: UploadView) -> LinkPreviewOptions:
    """The thumbnail as the message's link preview: a picture of the upload."""
    if not view.thumbnail:
        return _NO_PREVIEW
    return LinkPreviewOptions(url=view.thumbnail, prefer_small_media=True, show_above_text=True)


def confirm_delete(view: UploadView, _: Translator) -> Answer:
    name = html.escape(view.title or _("this upload"))
    text = _("Delete {name} from picloud? This cannot be undone.").format(name=name)
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("Yes, delete"), callback_data=callback(DELETE_YES, view.upload_id)
                ),
                InlineKeyboardButton(
                    _("Cancel"), callback_data=callback(DELETE_NO, view.upload_id)
                ),
            ]
        ]
    )
    return Answer(text, markup, _NO_PREVIEW)


def without_upload(
    markup: InlineKeyboardMarkup | None, upload_id: str
) -> InlineKeyboardMarkup | None:
    """The answer's keyboard less the buttons of a deleted upload (and its Open link)."""
    if markup is None:
        return None
    rows = [
        row
        for row in markup.inline_keyboard
        if not any(str(button.callback_data or "").endswith(upload_id) for button in row)
    ]
    return InlineKeyboardMarkup(rows) if rows else None


def codes_answer(codes: EmbedCodes, form: Format, upload_id: str, _: Translator) -> Answer:
    """One compact message: the links, then each variant in ``form``, each code in a
    monospace block (a tap copies it); buttons switch the format in place."""
    lines = [f"<b>{_('Codes')}</b> · {form.label}"]
    lines.extend(
        f"{html.escape(_(label))}\n<code>{html.escape(code)}</code>"
        for label, code in codes.lines(form)
    )
    switch = [
        InlineKeyboardButton(
            each.switch_label(form), callback_data=f"{callback(CODES, upload_id)}:{each}"
        )
        for each in Format
    ]
    return Answer("\n".join(lines), InlineKeyboardMarkup([switch]), _NO_PREVIEW)
