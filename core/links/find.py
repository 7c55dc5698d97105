"""Finding the http(s) links in a message's text, the way chat clients draw them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

# A link starts at "http://" or "https://" not glued to a preceding word, and runs
# to the first character that cannot be part of a link in running text.
_CANDIDATE = re.compile(r"(?<![\w@.+-])https?://[^\s<>\"'`\u00a0\u2000-\u200f\u2028-\u202f]+", re.I)
# Punctuation that ends a sentence rather than a link (GitHub's autolink set).
_TRAILING = frozenset(".,:;!?*_~'\"")
_CLOSERS = {")": "(", "]": "[", "}": "{"}


def find_links(text: str, entities: Iterable[str] | None = None) -> list[str]:
    """The http(s) URLs of ``text``, in order of appearance and without repeats.

    ``entities`` are the URLs a chat platform already found in the message (Telegram
    ``url``/``text_link`` entities, say). When given they are used instead of
    scanning ``text``: the platform's own parser decided what the user saw as a
    link, and hidden text links are not in the text at all. Either way only http
    and https links with a host are kept. Pure: no I/O, no network.
    """
    found = (link.strip() for link in entities) if entities is not None else _scan(text)
    return list(dict.fromkeys(link for link in found if _is_web_link(link)))


def _scan(text: str) -> Iterable[str]:
    for match in _CANDIDATE.finditer(text):
        yield _trim(match.group())


def _trim(link: str) -> str:
    """Drop what a chat client would not make part of the link: ``a.png).`` → ``a.png``.

    A closing bracket stays when it closes one opened inside the link, as in
    ``https://en.wikipedia.org/wiki/Bracket_(disambiguation)``.
    """
    while link and _dangles(link):
        link = link[:-1]
    return link


def _dangles(link: str) -> bool:
    """Whether the last character belongs to the sentence around the link."""
    last = link[-1]
    if last in _CLOSERS:
        return link.count(_CLOSERS[last]) < link.count(last)
    return last in _TRAILING


def _is_web_link(link: str) -> bool:
    try:
        parts = urlsplit(link)
    except ValueError:  # a malformed IPv6 literal, say
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
