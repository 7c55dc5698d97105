"""API keys as people paste them: checked, normalised and masked, never echoed."""

from __future__ import annotations

import re

from pydantic import SecretStr

from core.errors import InvalidApiKey

KEY_MIN_LENGTH = 8
KEY_MAX_LENGTH = 200
# Printable ASCII without spaces: a key is one word, and a CR/LF in a header value
# would be an injection.
_ONE_WORD = re.compile(r"[\x21-\x7e]+")


def is_one_word(key: str) -> bool:
    """Whether ``key`` has the only shape a key can have (refused, never repaired)."""
    return _ONE_WORD.fullmatch(key) is not None


def normalize_api_key(text: str) -> SecretStr:
    """Outer whitespace (from copy and paste) is dropped; anything else odd is refused.

    A key with inner spaces or newlines was pasted wrong, and a newline sent in a
    header would be an injection, so it is an error rather than something fixed.
    """
    key = text.strip()
    if not key:
        raise InvalidApiKey("the API key is empty")
    if not is_one_word(key):
        raise InvalidApiKey(
            "an API key has no spaces, line breaks or special characters: copy it again"
        )
    if not KEY_MIN_LENGTH <= len(key) <= KEY_MAX_LENGTH:
        raise InvalidApiKey("that does not look like an API key (chv_…): copy it again")
    return SecretStr(key)


def mask_api_key(key: SecretStr) -> str:
    """Enough to recognise a key, not enough to use it: ``chv_12…wxyz``."""
    value = key.get_secret_value()
    if len(value) <= 12:
        return "…" + value[-2:]
    return f"{value[:6]}…{value[-4:]}"
