"""Every string shown to people is translated, with the same placeholders."""

from __future__ import annotations

import re

import pytest

from core.i18n import LANGUAGES, language_of, translator
from scripts.i18n_catalog import extract

PLACEHOLDER = re.compile(r"\{(\w*)\}")
MESSAGES = [message.id for message in extract() if message.id]


def test_strings_are_found_in_the_code() -> None:
    assert "Uploaded" in MESSAGES
    assert len(MESSAGES) > 50


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_every_string_is_translated_with_its_placeholders(language: str) -> None:
    _ = translator(language)
    untranslated = [message for message in MESSAGES if _(message) == message]
    assert untranslated == []
    mismatched = [
        message
        for message in MESSAGES
        if set(PLACEHOLDER.findall(_(message))) != set(PLACEHOLDER.findall(message))
    ]
    assert mismatched == []


@pytest.mark.parametrize(
    ("code", "language"),
    [("ru", "ru"), ("ru-RU", "ru"), ("RU_ru", "ru"), ("en-GB", "en"), ("de", "en"), (None, "en")],
)
def test_client_language_codes_map_to_catalogs(code: str | None, language: str) -> None:
    assert language_of(code) == language


def test_english_is_the_source_text() -> None:
    assert translator("en")("Uploaded") == "Uploaded"
    assert translator("ru")("Uploaded") == "Загружено"
