"""The Telegram user a Mini App was opened by, from the ``initData`` Telegram hands the
page, checked exactly as Telegram documents it
(https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app):

- the data-check-string is every received field but ``hash``, as ``key=value``, sorted
  by key, joined by line feeds;
- the secret key is HMAC-SHA256 of the bot token, keyed with ``WebAppData``;
- ``hash`` is the hex HMAC-SHA256 of the data-check-string under that secret key;
- ``auth_date`` says when the app was opened: older data is refused, so data copied
  out of a page is no good for long.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import parse_qsl

from core.refs import UserId
from core.service.gallery import PassRefused, Refusal

INIT_DATA_MAX_AGE_S = 3600
"""Telegram signs the data as the app opens; the page trades it for a session at once."""
CLOCK_SKEW_S = 60


def telegram_user_id(init_data: str, bot_token: str, now: float) -> UserId:
    if not init_data.isascii():  # Telegram sends it URL-encoded
        raise PassRefused(Refusal.INVALID)
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise PassRefused(Refusal.INVALID) from None
    fields = dict(pairs)
    received = fields.pop("hash", "")
    if len(fields) + 1 != len(pairs) or not received:  # a field twice: which was signed?
        raise PassRefused(Refusal.INVALID)
    check = "\n".join(f"{key}={value}" for key, value in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    expected = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), received.encode()):
        raise PassRefused(Refusal.INVALID)
    opened = fields.get("auth_date", "")
    if not opened.isdecimal() or int(opened) > now + CLOCK_SKEW_S:
        raise PassRefused(Refusal.INVALID)
    if now - int(opened) > INIT_DATA_MAX_AGE_S:
        raise PassRefused(Refusal.EXPIRED)
    return UserId(str(_user_id(fields.get("user", ""))))


def _user_id(user_json: str) -> int:
    try:
        user = json.loads(user_json)
    except ValueError:
        raise PassRefused(Refusal.INVALID) from None
    user_id = user.get("id") if isinstance(user, dict) else None
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        raise PassRefused(Refusal.INVALID)
    return user_id
