"""Logging that cannot leak: secrets are masked in every record, whoever logs it.

httpx logs each request URL at INFO, and every Bot API URL holds the bot token,
so those loggers stay at WARNING; the redacting filter catches the rest (tokens,
API keys and delete links inside any message or traceback).
"""

from __future__ import annotations

import logging
import re

_SECRETS = (
    (re.compile(r"(?<!\d)\d{5,12}:[A-Za-z0-9_-]{30,}"), "<bot-token>"),
    (re.compile(r"\bchv_[A-Za-z0-9_]{4,}"), "chv_<key>"),
    (re.compile(r"(/delete/)[A-Za-z0-9]{8,}"), r"\1<secret>"),
    (re.compile(r"(?i)(x-api-key['\"]?\s*[:=]\s*['\"]?)[^'\"\s,}]+"), r"\1<key>"),
)
QUIET_LOGGERS = ("httpx", "httpcore", "hpack", "aiosqlite", "asyncio")


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
