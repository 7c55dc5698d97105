"""Field values read and formatted as the server does: expiration durations, tags,
slugs and titles, byte sizes, durations, dates and short ids."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from tests.fakes.chevereto.models import DAY, MINUTE, SHORTEST_EXPIRY, TAG_LIMIT, YEAR

_ISO_DURATION = re.compile(
    r"^P(?!$)(?:(?P<Y>\d+)Y)?(?:(?P<MO>\d+)M)?(?:(?P<W>\d+)W)?(?:(?P<D>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<H>\d+)H)?(?:(?P<MI>\d+)M)?(?:(?P<S>\d+)S)?)?$"
)
_ISO_UNIT_SECONDS = {
    "Y": YEAR,
    "MO": 30 * DAY,
    "W": 7 * DAY,
    "D": DAY,
    "H": 60 * MINUTE,
    "MI": MINUTE,
    "S": 1,
}
# Padding required, standard alphabet only: what the server's check accepts.
_STRICT_BASE64 = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")
_URL_SOURCE = re.compile(r"^https?://", re.IGNORECASE)
_NOT_SLUG = re.compile(r"[^A-Za-z0-9]+")


def expiration_seconds(value: str | None) -> int | None:
    """Seconds until expiry for an ``expiration`` field, as the server reads it."""
    if value is None:
        return None
    match = _ISO_DURATION.match(value)
    if match is None:
        return SHORTEST_EXPIRY
    seconds = sum(
        int(count) * _ISO_UNIT_SECONDS[unit]
        for unit, count in match.groupdict().items()
        if count is not None
    )
    return min(max(seconds, SHORTEST_EXPIRY), YEAR)


def parse_tags(value: str | None) -> list[str]:
    tags: list[str] = []
    for raw in (value or "").split(","):
        tag = raw.strip()
        if tag and len(tag) <= TAG_LIMIT and tag not in tags:
            tags.append(tag)
    return tags


def slugify(text: str, limit: int = 100) -> str:
    return _NOT_SLUG.sub("-", text).strip("-")[:limit].strip("-")


def title_from_filename(filename: str) -> str:
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    return " ".join(stem.replace("_", " ").split())


def format_bytes(size: float) -> str:
    """Chevereto's byte formatter: decimal units, one decimal, no trailing ``.0``."""
    if size < 1000:
        return f"{size:g} B"
    for power, unit in enumerate(("KB", "MB", "GB"), start=1):
        scaled = size / 1000**power
        if scaled < 1000:
            return f"{round(scaled, 1):g} {unit}"
    return f"{round(size / 1000**4, 1):g} TB"


def duration_time(seconds: int) -> str:
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def gmt(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ID_SPACE = 62**4


def encode_id(number: int) -> str:
    """A short id like Chevereto's: the counter scrambled, in base 62."""
    # 7368787 is coprime with 62**4: the first 62**4 numbers all get distinct ids.
    value = (number * 7368787) % _ID_SPACE
    digits = ""
    while True:
        value, digit = divmod(value, 62)
        digits = _ID_ALPHABET[digit] + digits
        if not value:
            return digits.rjust(4, "0")
