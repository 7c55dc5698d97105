"""Expiry: what people type (``10m``, ``2h``, ``3d``, ``1w``, ``1mo``, ``PT5M``) to
what the host accepts (an ISO 8601 duration between five minutes and one year).

The host turns an invalid string into five minutes without a word, and clamps
anything out of range, so every value is checked here and a wrong one is refused
with a clear message instead of being sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import InvalidExpiry

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEEK = 7 * DAY
MONTH = 30 * DAY
YEAR = 365 * DAY

SHORTEST = 5 * MINUTE
LONGEST = YEAR

# Longest names first so that "mo" wins over "m" and "min" over "m".
_UNITS: dict[str, tuple[int, str]] = {
    "minutes": (MINUTE, "M"),
    "minute": (MINUTE, "M"),
    "mins": (MINUTE, "M"),
    "min": (MINUTE, "M"),
    "m": (MINUTE, "M"),
    "hours": (HOUR, "H"),
    "hour": (HOUR, "H"),
    "hrs": (HOUR, "H"),
    "hr": (HOUR, "H"),
    "h": (HOUR, "H"),
    "days": (DAY, "D"),
    "day": (DAY, "D"),
    "d": (DAY, "D"),
    "weeks": (WEEK, "W"),
    "week": (WEEK, "W"),
    "w": (WEEK, "W"),
    "months": (MONTH, "MO"),
    "month": (MONTH, "MO"),
    "mo": (MONTH, "MO"),
    "years": (YEAR, "Y"),
    "year": (YEAR, "Y"),
    "y": (YEAR, "Y"),
}
_UNIT_PATTERN = "|".join(sorted(_UNITS, key=len, reverse=True))
_HUMAN_PART = re.compile(rf"(\d+)\s*({_UNIT_PATTERN})", re.IGNORECASE)
_HUMAN = re.compile(rf"^(?:\s*\d+\s*(?:{_UNIT_PATTERN})\s*)+$", re.IGNORECASE)
_ISO = re.compile(
    r"^P(?!$)(?:(?P<Y>\d+)Y)?(?:(?P<MO>\d+)M)?(?:(?P<W>\d+)W)?(?:(?P<D>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<H>\d+)H)?(?:(?P<M>\d+)M)?(?:(?P<S>\d+)S)?)?$"
)
_ISO_SECONDS = {"Y": YEAR, "MO": MONTH, "W": WEEK, "D": DAY, "H": HOUR, "M": MINUTE, "S": 1}
_NONE_WORDS = frozenset({"", "0", "off", "none", "never", "no", "forever", "-"})


@dataclass(frozen=True, slots=True)
class Expiry:
    """A checked expiry: ``iso`` is sent to the host, ``seconds`` is for display."""

    iso: str
    seconds: int


def parse_expiry(text: str) -> Expiry:
    """Parse a human or ISO 8601 duration; raise :class:`InvalidExpiry` otherwise."""
    value = text.strip()
    iso_match = _ISO.match(value.upper())
    if iso_match:
        parts = {name: int(n) for name, n in iso_match.groupdict().items() if n is not None}
    elif _HUMAN.match(value):
        parts = {}
        for number, unit in _HUMAN_PART.findall(value):
            _, part = _UNITS[unit.lower()]
            parts[part] = parts.get(part, 0) + int(number)
    else:
        raise InvalidExpiry(
            f"'{_shorten(value)}' is not a duration: use e.g. 10m, 2h, 3d, 1w, 1mo or PT30M"
        )
    seconds = sum(_ISO_SECONDS[part] * n for part, n in parts.items())
    if not SHORTEST <= seconds <= LONGEST:
        raise InvalidExpiry("an expiry must be between 5 minutes and 1 year")
    return Expiry(iso=_to_iso(parts), seconds=seconds)


def parse_optional_expiry(text: str | None) -> Expiry | None:
    """Like :func:`parse_expiry`, but ``off``/``never``/empty mean no expiry."""
    if text is None or text.strip().lower() in _NONE_WORDS:
        return None
    return parse_expiry(text)


def _to_iso(parts: dict[str, int]) -> str:
    date = "".join(f"{parts[p]}{p[0]}" for p in ("Y", "MO", "W", "D") if parts.get(p))
    time = "".join(f"{parts[p]}{p}" for p in ("H", "M", "S") if parts.get(p))
    return "P" + date + (f"T{time}" if time else "")


def _shorten(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"
