"""Text as the server sees it: UTF-16 offsets, the entities it detects by itself, trimming,
and the strict HTML parse mode."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tests.fakes.telegram.models import JSON


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of every entity offset and length."""
    return len(text.encode("utf-16-le")) // 2


def _entity(kind: str, text: str, start: int, end: int, **extra: Any) -> JSON:
    return {
        "type": kind,
        "offset": utf16_len(text[:start]),
        "length": utf16_len(text[start:end]),
        **extra,
    }


_LEADING_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?=\s|$)")
_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}\b")
_URL_TRAILING = ".,;:!?)]}'\""


def detect_entities(text: str) -> list[JSON]:
    """Entities a client or the server adds by itself: a leading /command, @mentions, links."""
    found: list[JSON] = []
    if command := _LEADING_COMMAND.match(text):
        found.append(_entity("bot_command", text, 0, command.end()))
    for mention in _MENTION.finditer(text):
        found.append(_entity("mention", text, mention.start(), mention.end()))
    for url in _URL.finditer(text):
        end = url.end()
        while end > url.start() and text[end - 1] in _URL_TRAILING:
            end -= 1  # "see https://x.org." links to https://x.org
        found.append(_entity("url", text, url.start(), end))
    return sorted(found, key=lambda e: (e["offset"], -e["length"]))


def _merge_detected(text: str, entities: list[JSON]) -> list[JSON]:
    """Add detected entities that no given entity overlaps."""

    def overlaps(one: JSON, other: JSON) -> bool:
        return bool(
            one["offset"] < other["offset"] + other["length"]
            and other["offset"] < one["offset"] + one["length"]
        )

    extra = [e for e in detect_entities(text) if not any(overlaps(e, o) for o in entities)]
    return sorted([*entities, *extra], key=lambda e: (e["offset"], -e["length"]))


_WHITESPACE = " \t\r\n"


def _strip(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Trim the text as the server does, moving and clipping entities with it."""
    left = text.lstrip(_WHITESPACE)
    lead = utf16_len(text) - utf16_len(left)
    stripped = left.rstrip(_WHITESPACE)
    total = utf16_len(stripped)
    kept: list[JSON] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


class EntityParseError(ValueError):
    """What the server reports after ``Bad Request: can't parse entities: ``."""


_HTML_TAGS = {
    "a": "text_link",
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "tg-emoji": "custom_emoji",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_NAMED_CHARACTERS = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_CHARACTER_REFERENCE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,4});")


def decode_character(source: str, at: int) -> tuple[str, int]:
    """The character an ``&`` at ``at`` stands for and where the text resumes.

    Only ``&lt; &gt; &amp; &quot;`` and numeric references are decoded; any other ``&``
    is kept as a literal, as the server does.
    """
    match = _CHARACTER_REFERENCE.match(source, at)
    if match is not None:
        name = match.group(1)
        if name.startswith("#"):
            number = int(name[2:], 16) if name[1:2] in "xX" else int(name[1:])
            if 0 < number <= 0x10FFFF and not 0xD800 <= number <= 0xDFFF:
                return chr(number), match.end()
        elif name in _NAMED_CHARACTERS:
            return _NAMED_CHARACTERS[name], match.end()
    return "&", at + 1


@dataclass
class _OpenTag:
    name: str
    start: int  # UTF-16 offset in the output text
    begin: int  # index of "<" in the source, for messages
    attributes: dict[str, str]


class _HtmlParser:
    """Telegram's HTML parse mode, after tdlib's ``parse_html``: strict about tags."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.pos = 0
        self.parts: list[str] = []
        self.length = 0  # UTF-16 length of the output so far
        self.stack: list[_OpenTag] = []
        self.entities: list[JSON] = []

    def parse(self) -> tuple[str, list[JSON]]:
        source = self.source
        while self.pos < len(source):
            char = source[self.pos]
            if char == "<":
                self._tag()
            elif char == "&":
                decoded, self.pos = decode_character(source, self.pos)
                self._emit(decoded)
            else:
                end = min(_find(source, "<", self.pos), _find(source, "&", self.pos))
                self._emit(source[self.pos : end])
                self.pos = end
        if self.stack:
            name = self.stack[-1].name
            raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{name}"')
        entities = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), entities

    def _emit(self, text: str) -> None:
        self.parts.append(text)
        self.length += utf16_len(text)

    def _byte_offset(self, index: int) -> int:
        return len(self.source[:index].encode())

    def _skip_spaces(self, index: int) -> int:
        while index < len(self.source) and self.source[index].isspace():
            index += 1
        return index

    def _tag(self) -> None:
        begin = self.pos
        if self.source.startswith("</", begin):
            self._end_tag(begin)
            return
        source, index = self.source, begin + 1
        while index < len(source) and not source[index].isspace() and source[index] != ">":
            index += 1
        if index >= len(source):
            raise EntityParseError(f"Unclosed start tag at byte offset {self._byte_offset(begin)}")
        name = source[begin + 1 : index].lower()
        if name not in _HTML_TAGS:
            offset = self._byte_offset(begin)
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {offset}')
        attributes, index = self._attributes(name, begin, index)
        if name == "span" and attributes.get("class") != "tg-spoiler":
            offset = self._byte_offset(begin)
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {offset}'
            )
        self.pos = index + 1
        self.stack.append(_OpenTag(name, self.length, begin, attributes))

    def _attributes(self, tag: str, begin: int, index: int) -> tuple[dict[str, str], int]:
        """Read ``name=value`` pairs up to the closing ``>``; answer them and its index."""
        source = self.source
        attributes: dict[str, str] = {}
        offset = self._byte_offset(begin)
        while True:
            index = self._skip_spaces(index)
            if index >= len(source):
                raise EntityParseError(f"Unclosed start tag at byte offset {offset}")
            if source[index] == ">":
                return attributes, index
            name_start = index
            while index < len(source) and not source[index].isspace() and source[index] not in "=>":
                index += 1
            name = source[name_start:index].lower()
            if not name:
                raise EntityParseError(
                    f'Empty attribute name in the tag "{tag}" at byte offset {offset}'
                )
            index = self._skip_spaces(index)
            if name == "expandable" and (index >= len(source) or source[index] != "="):
                attributes[name] = ""  # <blockquote expandable> has no value
                continue
            if index >= len(source) or source[index] != "=":
                raise EntityParseError(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{tag}" at byte offset {offset}'
                )
            attributes[name], index = self._attribute_value(self._skip_spaces(index + 1), offset)

    def _attribute_value(self, index: int, tag_offset: int) -> tuple[str, int]:
        source = self.source
        if index >= len(source):
            raise EntityParseError(f"Unclosed start tag at byte offset {tag_offset}")
        if source[index] not in "'\"":
            # An unquoted value is a name token: letters, digits, periods and hyphens.
            start = index
            while index < len(source) and (source[index].isalnum() or source[index] in ".-"):
                index += 1
            if index < len(source) and not source[index].isspace() and source[index] != ">":
                offset = self._byte_offset(start)
                raise EntityParseError(f"Unexpected end of name token at byte offset {offset}")
            return source[start:index].lower(), index
        quote, index = source[index], index + 1
        value: list[str] = []
        while index < len(source) and source[index] != quote:
            if source[index] == "&":
                char, index = decode_character(source, index)
                value.append(char)
            else:
                value.append(source[index])
                index += 1
        return "".join(value), index + 1

    def _end_tag(self, begin: int) -> None:
        source, offset = self.source, self._byte_offset(begin)
        if not self.stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {offset}")
        index = begin + 2
        while index < len(source) and not source[index].isspace() and source[index] != ">":
            index += 1
        name = source[begin + 2 : index].lower()
        index = self._skip_spaces(index)
        if index >= len(source) or source[index] != ">":
            raise EntityParseError(f"Unclosed end tag at byte offset {offset}")
        open_tag = self.stack[-1]
        if name and name != open_tag.name:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {offset}, expected "</{open_tag.name}>", '
                f'found "</{name}>"'
            )
        self.stack.pop()
        self.pos = index + 1
        self._close(open_tag)

    def _close(self, tag: _OpenTag) -> None:
        length = self.length - tag.start
        language = tag.attributes.get("class", "")
        inside_pre = bool(self.stack) and self.stack[-1].name == "pre"
        if tag.name == "code" and inside_pre and language.startswith("language-"):
            # <pre><code class="language-x"> is one pre entity with a language.
            self.stack[-1].attributes["language"] = language.removeprefix("language-")
            return
        entity = {"type": _HTML_TAGS[tag.name], "offset": tag.start, "length": length}
        if tag.name == "a":
            if not tag.attributes.get("href"):
                return
            entity["url"] = tag.attributes["href"]
        elif tag.name == "tg-emoji":
            if not tag.attributes.get("emoji-id"):
                return
            entity["custom_emoji_id"] = tag.attributes["emoji-id"]
        elif tag.name == "pre" and tag.attributes.get("language"):
            entity["language"] = tag.attributes["language"]
        elif tag.name == "blockquote" and "expandable" in tag.attributes:
            entity["type"] = "expandable_blockquote"
        if length > 0:
            self.entities.append(entity)


def _find(text: str, char: str, start: int) -> int:
    found = text.find(char, start)
    return len(text) if found < 0 else found


def parse_html(source: str) -> tuple[str, list[JSON]]:
    """Plain text and entities of an HTML-formatted text; EntityParseError if invalid."""
    return _HtmlParser(source).parse()
