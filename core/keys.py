"""API keys as people paste them: checked, normalised and masked, never echoed."""

from __future__ import annotations

import re

from pydantic import SecretStr

from core.errors import InvalidApiKey

KEY_MIN_LENGTH = 8
KEY_MAX_LENGTH = 200
_PRINTABLE_NO_SPACE = re.compile(r"^[\x21-\x7e]+$")


def normalize_api_key(text: str) -> SecretStr:
    """Outer whitespace (from copy and paste) is dropped; anything else odd is refused.

    A key with inner spaces or newlines was pasted wrong, and a newline sent in a
    header would be an injection, so it is an error rather than something fixed.
    """
    key = text.strip()
    if not key:
        raise InvalidApiKey("the API key is empty")
    if not _PRINTABLE_NO_SPACE.match(key):
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
