"""Logging that cannot leak: secrets are masked in every record, whoever logs it.

httpx logs each request URL at INFO, and every Bot API URL holds the bot token,
so those loggers stay at WARNING; the redacting filter catches the rest (tokens,
API keys and delete links inside any message or traceback).
"""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar

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


ABOUT: ContextVar[tuple[tuple[str, str], ...]] = ContextVar("about", default=())
"""What the lines logged now are about: platform, chat, job (see :func:`about`)."""


def about(**fields: str) -> None:
    """Name what the current task works on: every line it logs from now on (and the
    tasks it starts) carries these fields."""
    ABOUT.set(tuple({**dict(ABOUT.get()), **fields}.items()))


class AboutFilter(logging.Filter):
    """Gives each record the fields of :func:`about` (``record.about``) for a formatter."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.about = dict(ABOUT.get())
        return True


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields: dict[str, str] = getattr(record, "about", {})
        if not fields:
            return line
        first, newline, rest = line.partition("\n")
        named = " ".join(f"{name}={value}" for name, value in fields.items())
        return f"{first} [{named}]{newline}{rest}"


class _JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the fields of
    :func:`about`, and the traceback if any (all redacted already)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "about", {}),
        }
        if record.exc_text:
            entry["traceback"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: int | str = logging.INFO, log_format: str = "text") -> None:
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    handler.addFilter(AboutFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
