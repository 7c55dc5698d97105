"""The gallery's one page, in the user's language: the front-end puts ``?hl=`` in the
address it hands out. The page holds no user's data: its script asks the API for it."""

from __future__ import annotations

import html
import json
from pathlib import Path

from core.codes import DIRECT_LABEL, VIEWER_LABEL, Format, Variant
from core.i18n import Translator, language_of, translator
from core.service.gallery import Refusal

STATIC = Path(__file__).parent / "static"
_TEMPLATE = (STATIC / "gallery.html").read_text(encoding="utf-8")


def render_page(language_code: str | None) -> str:
    language = language_of(language_code)
    _ = translator(language)
    texts = page_texts(_)
    return (
        _TEMPLATE.replace("{{lang}}", language)
        .replace("{{title}}", html.escape(texts["title"]))
        .replace("{{search}}", html.escape(texts["search"]))
        .replace("{{more}}", html.escape(texts["more"]))
        .replace("{{loading}}", html.escape(texts["loading"]))
        # Inside <script>, only "</" could end it early: JSON escapes it as "<\/".
        .replace("{{texts}}", json.dumps(texts, ensure_ascii=False).replace("</", "<\\/"))
    )


def page_texts(_: Translator) -> dict[str, str]:
    refusals = {
        Refusal.INVALID: _("This gallery link is not valid: send the bot /gallery for a new one."),
        Refusal.EXPIRED: _(
            "This gallery link has expired (a link lasts 10 minutes): "
            "send the bot /gallery for a new one."
        ),
        Refusal.USED: _(
            "This gallery link was opened before (a link opens once): "
            "send the bot /gallery for a new one."
        ),
    }
    return {
        "title": _("Your uploads"),
        "search": _("Search by title or tag"),
        "more": _("Show more"),
        "loading": _("Loading…"),
        "empty": _("Nothing here yet: send the bot a photo and it shows up here."),
        "no_match": _("No upload matches your search."),
        "no_pass": _("Open the gallery from the bot: send it /gallery."),
        "session_over": _("This gallery session has ended: send the bot /gallery again."),
        "failed": _("Something went wrong; try again in a moment."),
        "open": _("Open"),
        "copy": _("Copy"),
        "copied": _("Copied"),
        "close": _("Close"),
        "viewer": _(VIEWER_LABEL),
        "direct": _(DIRECT_LABEL),
        "delete": _("Delete"),
        "keep": _("Keep"),
        "confirm": _("Delete this upload? It is removed from picloud for good."),
        "deleted": _("Deleted."),
        "delete_failed": _("picloud did not confirm the deletion; try again."),
        **{f"refused_{refusal}": text for refusal, text in refusals.items()},
        **{f"form_{form}": form.label for form in Format},
        **{f"variant_{variant}": _(variant.label) for variant in Variant},
    }
