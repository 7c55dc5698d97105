"""Translations: stdlib ``gettext`` catalogs, kept as ``.po`` files and managed with Babel.

English is the source language (the msgids); ``core/locales/<lang>/LC_MESSAGES/
picloud.po`` holds each translation. The ``.po`` files are read directly through
Babel and compiled in memory at first use, so no binary ``.mo`` file is committed
and none can drift from its source. ``tests/test_i18n.py`` fails when a string
marked with ``_()`` in the code has no translation.

    _ = translator("ru-RU")
    _("Uploaded")               # -> "Загружено"
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DOMAIN = "picloud"
LOCALES = Path(__file__).parent / "locales"
DEFAULT_LANGUAGE = "en"
LANGUAGES = ("en", "ru")

Translator = Callable[[str], str]


def language_of(code: str | None) -> str:
    """The supported language for a client's code (``ru-RU`` -> ``ru``), else English."""
    base = (code or "").replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


def translator(code: str | None) -> Translator:
    return _catalog(language_of(code)).gettext


def N_(message: str) -> str:
    """Marks a string for extraction where it is defined; translate it where shown."""
    return message


@cache
def _catalog(language: str) -> gettext.NullTranslations:
    path = LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as source:
        catalog = read_po(source, locale=language, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)
