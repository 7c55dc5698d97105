"""Captions to upload fields: the first line is the title, the rest the description,
and ``#hashtags`` anywhere become tags.

A run of hashtags at the end of a line is only tags and leaves the text; a hashtag
inside a sentence is both a tag and a word, so it stays as the plain word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from core.chevereto.models import TITLE_LIMIT

_HASHTAG = re.compile(r"(?<![\w#])#(\w[\w-]*)")
_TRAILING_HASHTAGS = re.compile(r"(?:\s*(?<![\w#])#\w[\w-]*)+\s*$")
_SPACES = re.compile(r"[ \t]+")


@dataclass(frozen=True, slots=True)
class Caption:
    title: str | None
    description: str | None
    tags: tuple[str, ...]


def parse_caption(text: str | None) -> Caption:
    if not text or not text.strip():
        return Caption(title=None, description=None, tags=())
    tags = _unique(match.group(1) for match in _HASHTAG.finditer(text))
    lines = [_clean_line(line) for line in text.strip().splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return Caption(title=None, description=None, tags=tags)
    title, rest = lines[0], lines[1:]
    if len(title) > TITLE_LIMIT:
        # Too long for a title: the whole text is a description and the title is its start.
        rest = [title, *rest]
        title = title[: TITLE_LIMIT - 1].rstrip() + "…"
    return Caption(title=title, description="\n".join(rest) or None, tags=tags)


def _clean_line(line: str) -> str:
    line = _TRAILING_HASHTAGS.sub("", line)
    line = _HASHTAG.sub(lambda match: match.group(1), line)
    return _SPACES.sub(" ", line).strip()


def _unique(tags: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for tag in tags:
        seen.setdefault(tag.casefold(), tag)
    return tuple(seen.values())
