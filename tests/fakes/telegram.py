"""A Telegram Bot API fake, for end-to-end tests that run the real python-telegram-bot.

It serves the Bot API over real HTTP on 127.0.0.1 (aiohttp), answering as the cloud
API does closely enough that PTB 22 runs against it unmodified::

    async with TelegramFake(token=TOKEN) as fake:
        app = (
            ApplicationBuilder().token(TOKEN)
            .base_url(fake.api_url)          # f"{fake.base_url}/bot"
            .base_file_url(fake.file_url)    # f"{fake.base_url}/file/bot"
            .build()
        )

Routes
    ``/bot{token}/{method}``        any HTTP method; parameters from the query string and
                                    a JSON, urlencoded or multipart/form-data body
                                    (file parts are spooled to a temporary directory)
    ``GET /file/bot{token}/{path}`` the bytes of a registered file, streamed (a file
                                    registered as a ``Path`` is never loaded whole); 404
                                    for unknown paths
    Answers are ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N,
    "description": "...", "parameters": {"retry_after": N}}`` with N as the HTTP status.
    A wrong token of the right shape gets 401 Unauthorized, a malformed one 404, an
    unknown method 404 Not Found (method names are case-insensitive, as on the server),
    parameters of the wrong shape 400.

Methods
    getMe, logOut, close, getUpdates (long polling), setWebhook, deleteWebhook,
    getWebhookInfo, setMyCommands, getMyCommands, deleteMyCommands, setMyDescription,
    getMyDescription, setMyShortDescription, getMyShortDescription, setMyName, getMyName;
    sendMessage, sendPhoto, sendDocument, sendVideo, sendAnimation, sendAudio, sendVoice,
    sendSticker, sendMediaGroup, copyMessage, forwardMessage, editMessageText,
    editMessageCaption, editMessageReplyMarkup, editMessageMedia, deleteMessage,
    deleteMessages, sendChatAction, answerCallbackQuery, getFile; getChat,
    getChatMember, getChatAdministrators, getChatMemberCount. Accepted and answered
    ``true`` without a model: setChatMenuButton, setMyDefaultAdministratorRights,
    setMessageReaction, pinChatMessage, unpinChatMessage, unpinAllChatMessages, leaveChat.

Knobs (plain attributes, settable at any time)
    privacy_mode          True (the real default): getMe answers
                          ``can_read_all_group_messages: false`` and group messages the
                          bot would not see are withheld (see below).
    blocked_chats         chat ids whose sends get 403 ``Forbidden: bot was blocked by
                          the user``.
    max_download_bytes    getFile refuses larger files with 400 ``Bad Request: file is
                          too big`` (default 20 MiB, the server's ``20 << 20``).
    max_upload_bytes      a larger file part gets 413 ``Request Entity Too Large``
                          (default 50 MiB).
    clock                 ``time.time``; the source of every ``date``.
    fail_next(method, error_code=429, description=None, retry_after=None, times=1)
                          the next ``times`` calls of ``method`` fail before doing
                          anything; 429 defaults to ``Too Many Requests: retry after 1``
                          with ``parameters.retry_after``.

Registering chats, users and files (each returns what it registered)
    user(id, first_name, language_code="en", username=None) -> dict (a User)
    private_chat(user) -> dict, group(chat_id, title, supergroup=True) -> dict (a Chat;
    the bot is a plain member of a new group)
    set_member(chat_id, user_id, status="member", **rights): "creator", "administrator"
    (all usual rights on unless given, e.g. ``can_delete_messages=False``), "member",
    "restricted", "left", "kicked"; the bot's own id sets the bot's membership.
    add_file(content: bytes | Path, *, file_id=None, unique_id=None, file_path=None)
    -> FileRef (a Path is read from disk only when downloaded).
    The bot can send only to registered chats (else 400 ``chat not found``, or 403
    ``bot can't initiate conversation with a user`` for a user without a private chat);
    injected updates register their chat and user, and make both members of a group.

Injecting updates (each queues an Update with a fresh update_id and returns it)
    send_text, send_photo, send_document, send_video, send_animation, send_sticker,
    send_audio, send_voice (all take ``reply_to=`` a message id or dict, ``forward=``
    True, a user dict or a channel chat dict), press_button, my_chat_member,
    chat_member. A text's leading /command, @mentions and http(s) links get entities,
    as the clients send them. ``await deliver_webhook(update, secret_token=...)`` POSTs
    an update to the registered webhook and answers the HTTP status.

Inspection
    calls: list[Call] (every call with the right token, in the order its answer was
    decided; getUpdates when it arrives). A Call has method, params (JSON-decoded),
    files (field -> UploadedFile(filename, size, content_type, path)), time,
    error_code/description (None when ok), result, and ``source(field)``: "upload",
    "url" or "file_id", how a file parameter was given.
    calls_to(method), ``await wait_for(method, count=1, timeout=5.0, where=None)``
    (TimeoutError naming the calls seen), messages(chat_id) (the bot's current
    messages, edits applied, deleted ones gone), message(chat_id, message_id) (any
    message, the users' too), file(file_id), deleted, downloads, callback_answers,
    webhook, pending_updates, withheld, my_commands(language_code="", scope=None).

Deliberate simplifications
    - Nothing is rate-limited unless ``fail_next`` says so. Files sent by URL are not
      fetched (a placeholder stands for them); uploads are stored as sent (no
      re-encoding), so a sent photo's largest size is the uploaded file itself.
    - A photo has two smaller sizes (boxes of 90 and 320 pixels, fewer for tiny
      images) that are real small JPEGs; for a tiny photo their ``file_size`` can
      exceed the largest one's, so pick ``photo[-1]`` as Telegram's own clients do.
    - parse_mode HTML is parsed strictly the way the server's parser does (tags, the
      four named entities and numeric ones, byte offsets in errors); Markdown and
      MarkdownV2 text is stored as sent, unchecked. URLs, @mentions and /commands in the
      bot's own text get entities where no other entity covers them.
    - An edit without ``reply_markup`` removes the inline keyboard, as on the server.
      Only inline keyboards are kept on messages (reply keyboards are in the call).
    - Privacy mode: in groups where the bot is neither admin nor creator, only
      commands (bare or addressed to this bot), replies to the bot's messages and
      messages that @mention it are delivered; the rest go to ``withheld``.
    - Updates are never pushed to a webhook on their own: tests call
      ``deliver_webhook``. A set webhook still makes getUpdates a 409, and any URL
      with http or https is accepted (the real server wants HTTPS on 443/80/88/8443).
    - Message ids count per chat, shared by the bot and the users. Inline-message
      edits answer ``true`` and are not stored. Sends to a blocked chat fail; edits
      and deletions there do not. Missing required parameters read
      ``Bad Request: <name> is empty``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import aiohttp
from aiohttp import BodyPartReader, web

from tests.fakes import media
from tests.fakes.chevereto import SNIFF_BYTES, dimensions, sniff
from tests.fakes.server import LocalServer, Spool

JSON = dict[str, Any]

# 35 characters after the colon, like a real token (the server checks only the shape
# before it answers 401).
TOKEN = "123456789:AAFakeTokenForTestsOnly_01234567890"
BOT_ID = 123456789
BOT_USERNAME = "picloud_test_bot"
BOT_NAME = "picloud test bot"

MIB = 1024 * 1024
READ_CHUNK = 256 * 1024
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
FIRST_UPDATE_ID = 500_000_001

_TOKEN_SHAPE = re.compile(r"[0-9]+:[A-Za-z0-9_-]{35}")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_HTTP_URL = re.compile(r"https?://", re.IGNORECASE)
_BUTTON_URL = re.compile(r"(https?|tg)://", re.IGNORECASE)

# Update kinds delivered only when allowed_updates names them.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "restricted", "left", "kicked"})
_ADMIN_RIGHTS: JSON = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
    "can_pin_messages": True,
    "can_manage_topics": False,
}
_RESTRICTIONS: JSON = {
    "is_member": True,
    "can_send_messages": False,
    "can_send_audios": False,
    "can_send_documents": False,
    "can_send_photos": False,
    "can_send_videos": False,
    "can_send_video_notes": False,
    "can_send_voice_notes": False,
    "can_send_polls": False,
    "can_send_other_messages": False,
    "can_add_web_page_previews": False,
    "can_change_info": False,
    "can_invite_users": False,
    "can_pin_messages": False,
    "can_manage_topics": False,
    "can_edit_tag": False,
    "until_date": 0,
}

# Form values are JSON-encoded unless the parameter is a string: these stay as sent,
# so a text "123" is not read as a number.
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "url",
        "secret_token",
        "ip_address",
        "callback_query_id",
        "inline_message_id",
        "language_code",
        "description",
        "short_description",
        "name",
        "action",
        "file_id",
        "emoji",
        "title",
        "performer",
        "file_name",
        "business_connection_id",
        "message_effect_id",
        "custom_title",
        "photo",
        "document",
        "video",
        "animation",
        "audio",
        "voice",
        "sticker",
        "video_note",
        "thumbnail",
        "certificate",
        "query",
        "question",
        "explanation",
        "first_name",
        "last_name",
        "phone_number",
        "address",
        "payload",
        "currency",
        "provider_token",
        "start_parameter",
    }
)
# Objects that a JSON body may still carry as JSON strings (PTB's habit in forms).
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "allowed_updates",
        "commands",
        "scope",
        "media",
        "reply_parameters",
        "link_preview_options",
        "message_ids",
    }
)

# kind -> (folder of its file_path, default extension)
_MEDIA_KINDS: dict[str, tuple[str, str]] = {
    "photo": ("photos", "jpg"),
    "document": ("documents", "bin"),
    "video": ("videos", "mp4"),
    "animation": ("animations", "mp4"),
    "audio": ("music", "mp3"),
    "voice": ("voice", "oga"),
    "sticker": ("stickers", "webp"),
}
_MEDIA_KEYS = tuple(_MEDIA_KINDS)
_CONTENT_KEYS = (*_MEDIA_KEYS, "text", "entities", "caption", "caption_entities")
_THUMB_BOXES = (90, 320)

_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply "
    "markup are exactly the same as a current content and reply markup of the message"
)
_WRONG_FILE = "Bad Request: wrong file identifier/HTTP URL specified"
_STALE_QUERY = "Bad Request: query is too old and response timeout expired or query ID is invalid"
_POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot "
    "instance is running"
)
_WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook "
    "to delete the webhook first"
)


class ApiError(Exception):
    """An error answer: HTTP status ``code``, ``description``, maybe ``retry_after``."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


class UploadedFile(NamedTuple):
    """A file part of a multipart request, spooled to ``path`` (kept until stop)."""

    filename: str | None
    size: int
    content_type: str | None
    path: Path


@dataclass
class Call:
    """One Bot API call: parameters JSON-decoded, file parts by field name."""

    method: str
    params: JSON
    files: dict[str, UploadedFile]
    time: float
    error_code: int | None = None
    description: str | None = None
    result: Any = None

    @property
    def ok(self) -> bool:
        return self.error_code is None

    def source(self, name: str) -> Literal["upload", "url", "file_id"] | None:
        """How the file parameter ``name`` was given: a multipart upload, a URL, a file_id."""
        value = self.params.get(name)
        if name in self.files or (isinstance(value, str) and value.startswith("attach://")):
            return "upload"
        if not isinstance(value, str):
            return None
        return "url" if _HTTP_URL.match(value) else "file_id"


@dataclass
class FileRef:
    """A file the fake can serve. ``meta`` holds the kind's fields (width, file_name...)."""

    file_id: str
    file_unique_id: str
    file_size: int
    file_path: str
    content: bytes | Path = field(repr=False)
    meta: JSON = field(default_factory=dict)

    def json(self) -> JSON:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
            **self.meta,
        }


@dataclass(frozen=True)
class Download:
    file_id: str
    file_path: str
    size: int
    time: float


@dataclass
class Webhook:
    url: str
    secret_token: str | None
    drop_pending_updates: bool
    max_connections: int
    allowed_updates: list[str] | None
    ip_address: str | None


@dataclass
class _Failure:
    method: str  # lower-cased
    error: ApiError
    times: int


# --- text: offsets, entities, HTML ---------------------------------------------------------


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


# --- reading requests ----------------------------------------------------------------------


def decode_form_value(name: str, value: str) -> Any:
    """A form field as the server reads it: JSON unless the parameter is a string."""
    if name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # "@channel" as chat_id, a bare word as an enum value


def decode_json_value(name: str, value: Any) -> Any:
    if name in _JSON_PARAMS and isinstance(value, str):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


async def _spool_part(part: BodyPartReader, directory: Path, limit: int) -> UploadedFile:
    spool = Spool(directory)
    try:
        while chunk := await part.read_chunk(READ_CHUNK):
            if spool.size + len(chunk) > limit:
                raise ApiError(413, "Request Entity Too Large")
            spool.write(chunk)
    finally:
        spool.close()
    return UploadedFile(part.filename, spool.size, part.headers.get("Content-Type"), spool.path)


async def read_params(
    request: web.Request, directory: Path, limit: int
) -> tuple[JSON, dict[str, UploadedFile]]:
    """Parameters (query string and body, JSON-decoded) and spooled file parts."""
    params = {name: decode_form_value(name, value) for name, value in request.query.items()}
    files: dict[str, UploadedFile] = {}
    if not request.can_read_body:
        return params, files
    if request.content_type == "application/json":
        params.update(await _json_body(request))
    elif request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        params.update(
            {name: decode_form_value(name, v) for name, v in form.items() if isinstance(v, str)}
        )
    elif request.content_type == "multipart/form-data":
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                await part.release()
            elif part.filename is None:
                params[part.name or ""] = decode_form_value(part.name or "", await part.text())
            else:
                files[part.name or ""] = await _spool_part(part, directory, limit)
    else:
        await request.release()
    return params, files


async def _json_body(request: web.Request) -> JSON:
    try:
        body = json.loads(await request.text() or "{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ApiError(400, "Bad Request: can't parse JSON object")
    return {name: decode_json_value(name, value) for name, value in body.items()}


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(error: ApiError) -> web.Response:
    body: JSON = {"ok": False, "error_code": error.code, "description": error.description}
    if error.retry_after is not None:
        body["parameters"] = {"retry_after": error.retry_after}
    return web.json_response(body, status=error.code)


_ERROR_PHRASES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


# --- small helpers over parameters ---------------------------------------------------------


def _required(call: Call, name: str) -> Any:
    value = call.params.get(name)
    if value is None or value == "":
        raise ApiError(400, f"Bad Request: {name} is empty")
    return value


def _int(call: Call, name: str, default: int | None = None) -> int:
    value = call.params.get(name)
    if value is None and default is not None:
        return default
    value = _required(call, name)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Bad Request: invalid {name} specified") from None


def _flag(value: Any) -> bool:
    return value is True or value in ("true", "True", "1", 1)


def _scaled(width: int, height: int, box: int) -> tuple[int, int]:
    scale = box / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _read_head(content: bytes | Path) -> bytes:
    if isinstance(content, bytes):
        return content[:SNIFF_BYTES]
    with content.open("rb") as source:
        return source.read(SNIFF_BYTES)


def _image_size(content: bytes | Path) -> tuple[int, int] | None:
    head = _read_head(content)
    found = sniff(head)
    if found is None or found.kind != "image":
        return None
    return dimensions(found, head)


def _has_button(message: JSON, callback_data: str) -> bool:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return any(button.get("callback_data") == callback_data for row in rows for button in row)


def _check_inline_keyboard(markup: JSON) -> None:
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data, url = button.get("callback_data"), button.get("url")
            if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_LIMIT:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            if url is not None and not _BUTTON_URL.match(str(url)):
                raise ApiError(400, f"Bad Request: inline keyboard button URL '{url}' is invalid")
            if len(button) < 2 or "text" not in button:
                raise ApiError(
                    400,
                    "Bad Request: can't parse inline keyboard button: Text buttons are "
                    "unallowed in the inline keyboard",
                )


def _update_kind(update: JSON) -> str:
    return next(key for key in update if key != "update_id")


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(seconds, 0)):
            await event.wait()


def _without_reply(message: JSON) -> JSON:
    """A message as nested in another one: the server nests one level only."""
    nested = copy.deepcopy(message)
    nested.pop("reply_to_message", None)
    return nested


# --- the fake --------------------------------------------------------------------------------


class TelegramFake(LocalServer):
    """The Bot API on 127.0.0.1 for one bot; see the module docstring."""

    def __init__(self, token: str = TOKEN, *, bot_username: str = BOT_USERNAME) -> None:
        super().__init__()
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_user: JSON = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": BOT_NAME,
            "username": bot_username,
        }
        # knobs
        self.privacy_mode = True
        self.blocked_chats: set[int] = set()
        self.max_download_bytes = 20 * MIB
        self.max_upload_bytes = 50 * MIB
        self.clock: Callable[[], float] = time.time
        # registries
        self.users: dict[int, JSON] = {}
        self.chats: dict[int, JSON] = {}
        self._members: dict[int, dict[int, JSON]] = {}
        self._files_by_id: dict[str, FileRef] = {}
        self._files_by_path: dict[str, FileRef] = {}
        self._thumbs: dict[str, list[FileRef]] = {}
        self._file_numbers = itertools.count(1)
        # messages: chat id -> message id -> Message, users' and the bot's
        self._messages: dict[int, dict[int, JSON]] = {}
        self._last_message_id: dict[int, int] = {}
        self._media_groups = itertools.count(13_000_000_000_000_001)
        # updates
        self._pending: list[JSON] = []
        self._update_ids = itertools.count(FIRST_UPDATE_ID)
        self._query_ids = itertools.count(4_000_000_000_000_000_001)
        self._open_queries: set[str] = set()
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._updates_changed = asyncio.Event()
        # bot settings
        self.webhook: Webhook | None = None
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._bot_texts: dict[tuple[str, str], str] = {}
        self._failures: list[_Failure] = []
        # inspection
        self.calls: list[Call] = []
        self.deleted: list[tuple[int, int]] = []
        self.downloads: list[Download] = []
        self.callback_answers: dict[str, JSON] = {}
        self.withheld: list[JSON] = []
        self._calls_changed = asyncio.Event()
        # server
        self._methods = self._method_table()
        self._spool_dir: Path | None = None
        self._closing = False

    # lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._spool_dir = Path(tempfile.mkdtemp(prefix="telegram-fake-"))
        self._closing = False
        await super().start(host, port)

    async def stop(self) -> None:
        # Waiting long polls answer at once instead of holding up the shutdown.
        self._closing = True
        self._notify_updates()
        await super().stop()
        if self._spool_dir is not None:
            shutil.rmtree(self._spool_dir, ignore_errors=True)
            self._spool_dir = None

    @property
    def api_url(self) -> str:
        """PTB's ``base_url``: the token and the method are appended."""
        return f"{self.base_url}/bot"

    @property
    def file_url(self) -> str:
        """PTB's ``base_file_url``: the token and the file path are appended."""
        return f"{self.base_url}/file/bot"

    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 31)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        app.router.add_route("*", "/bot{token}/{method}", self._endpoint)
        return app

    # knobs

    def fail_next(
        self,
        method: str,
        error_code: int = 429,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with this error, doing nothing."""
        if error_code == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            description = (
                f"Too Many Requests: retry after {retry_after}"
                if error_code == 429
                else _ERROR_PHRASES.get(error_code, "Internal Server Error")
            )
        error = ApiError(error_code, description, retry_after)
        self._failures.append(_Failure(method.lower(), error, times))

    # registries

    def user(
        self,
        id: int,
        first_name: str,
        language_code: str | None = "en",
        username: str | None = None,
        *,
        last_name: str | None = None,
        is_bot: bool = False,
    ) -> JSON:
        user: JSON = {"id": id, "is_bot": is_bot, "first_name": first_name}
        optional = {"last_name": last_name, "username": username, "language_code": language_code}
        user.update({key: value for key, value in optional.items() if value is not None})
        self.users[id] = user
        return user

    def private_chat(self, user: JSON) -> JSON:
        chat: JSON = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        for key in ("last_name", "username"):
            if key in user:
                chat[key] = user[key]
        self.users[user["id"]] = user
        self.chats[chat["id"]] = chat
        return chat

    def group(
        self, chat_id: int, title: str, *, supergroup: bool = True, username: str | None = None
    ) -> JSON:
        chat: JSON = {"id": chat_id, "type": "supergroup" if supergroup else "group"}
        chat["title"] = title
        if username is not None:
            chat["username"] = username
        self.chats[chat_id] = chat
        self._members.setdefault(chat_id, {}).setdefault(self.bot_id, {"status": "member"})
        return chat

    def set_member(self, chat_id: int, user_id: int, status: str = "member", **rights: Any) -> None:
        """Set a user's (or, with the bot's id, the bot's) status and rights in a chat."""
        if status not in _MEMBER_STATUSES:
            raise ValueError(f"unknown status {status!r}; one of {sorted(_MEMBER_STATUSES)}")
        self._members.setdefault(chat_id, {})[user_id] = {"status": status, **rights}

    def add_file(
        self,
        content: bytes | Path,
        *,
        file_id: str | None = None,
        unique_id: str | None = None,
        file_path: str | None = None,
    ) -> FileRef:
        """Register a file for getFile and downloads; a Path is streamed, never loaded."""
        number = next(self._file_numbers)
        suffix = content.suffix.lstrip(".") if isinstance(content, Path) else ""
        size = content.stat().st_size if isinstance(content, Path) else len(content)
        ref = FileRef(
            file_id=file_id or f"BQACAgIAAxkBfake{number:06d}",
            file_unique_id=unique_id or f"AgADfake{number:06d}",
            file_size=size,
            file_path=file_path or f"documents/file_{number}.{suffix or 'bin'}",
            content=content,
        )
        self._files_by_id[ref.file_id] = ref
        self._files_by_path[ref.file_path] = ref
        return ref

    def _register(
        self, content: bytes | Path | FileRef, kind: str, meta: JSON, extension: str = ""
    ) -> FileRef:
        """A file for a message of ``kind``: registered under that kind's folder."""
        if isinstance(content, FileRef):
            content.meta.update(meta)
            return content
        folder, default_extension = _MEDIA_KINDS[kind]
        if not extension and isinstance(content, Path):
            extension = content.suffix.lstrip(".")
        number = next(self._file_numbers)
        ref = self.add_file(
            content,
            file_id=f"{kind[:3].upper()}ACAgIAAxkBfake{number:06d}",
            file_path=f"{folder}/file_{number}.{extension or default_extension}",
        )
        ref.meta = dict(meta)
        return ref

    # injecting updates

    def send_text(
        self,
        chat: JSON,
        user: JSON,
        text: str,
        *,
        reply_to: int | JSON | None = None,
        entities: list[JSON] | None = None,
        forward: bool | JSON = False,
    ) -> JSON:
        """A text message from ``user``; entities are detected unless given."""
        found = detect_entities(text) if entities is None else entities
        content: JSON = {"text": text}
        if found:
            content["entities"] = found
        return self._incoming(chat, user, content, reply_to=reply_to, forward=forward)

    def send_photo(
        self,
        chat: JSON,
        user: JSON,
        content: bytes | Path | FileRef,
        *,
        caption: str | None = None,
        has_spoiler: bool = False,
        media_group_id: str | None = None,
        width: int | None = None,
        height: int | None = None,
        reply_to: int | JSON | None = None,
        forward: bool | JSON = False,
    ) -> JSON:
        """A photo: 2-3 PhotoSizes, the largest being ``content``."""
        size = _image_size(content.content if isinstance(content, FileRef) else content)
        natural_width, natural_height = size or (1280, 960)
        meta = {"width": width or natural_width, "height": height or natural_height}
        ref = self._register(content, "photo", meta)
        fields: JSON = {"photo": self._photo_sizes(ref)}
        if has_spoiler:
            fields["has_media_spoiler"] = True
        return self._incoming_media(chat, user, fields, caption, media_group_id, reply_to, forward)

    def send_document(
        self,
        chat: JSON,
        user: JSON,
        content: bytes | Path | FileRef,
        *,
        file_name: str,
        mime_type: str,
        caption: str | None = None,
        media_group_id: str | None = None,
        reply_to: int | JSON | None = None,
        forward: bool | JSON = False,
    ) -> JSON:
        meta = {"file_name": file_name, "mime_type": mime_type}
        ref = self._register(content, "document", meta, Path(file_name).suffix.lstrip("."))
        fields = {"document": ref.json()}
        return self._incoming_media(chat, user, fields, caption, media_group_id, reply_to, forward)

    def send_video(
        self,
        chat: JSON,
        user: JSON,
        content: bytes | Path | FileRef,
        *,
        mime_type: str = "video/mp4",
        duration: int = 3,
        width: int = 640,
        height: int = 360,
        file_name: str | None = None,
        caption: str | None = None,
        has_spoiler: bool = False,
        media_group_id: str | None = None,
        reply_to: int | JSON | None = None,
        forward: bool | JSON = False,
    ) -> JSON:
        meta: JSON = {"width": width, "height": height, "duration": duration}
        meta["mime_type"] = mime_type
        if file_name is not None:
            meta["file_name"] = file_name
        ref = self._register(content, "video", meta)
        fields: JSON = {"video": ref.json()}
        if has_spoiler:
            fields["has_media_spoiler"] = True
        return self._incoming_media(chat, user, fields, caption, media_group_id, reply_to, forward)

    def send_animation(
        self,
        chat: JSON,
        user: JSON,
        content: bytes | Path | FileRef,
        *,
        mime_type: str = "video/mp4",
        file_name: str = "animation.gif.mp4",
        duration: int = 2,
        width: int = 320,
        height: int = 240,
        caption: str | None = None,
        reply_to: int | JSON | None = None,
        forward: bool | JSON = False,
    ) -> JSON:
        """A GIF as clients send it: ``animation`` and ``document`` for the same file."""
        meta: JSON = {"width": width, "height": height, "duration": duration}
        meta.update({"file_name": file_name, "mime_type": mime_type})
        ref = self._register(content, "animation", meta)
        fields = {"animation": ref.json(), "document": self._document_json(ref)}
        return self._incoming_media(chat, user, fields, caption, None, reply_to, forward)

    def send_sticker(
        self,
        chat: JSON,
        user: JSON,
        content: bytes | Path | FileRef,
        *,
        is_animated: bool = False,
        is_video: bool = False,
        emoji: str = "🙂",
        reply_to: int | JSON | None = None,
        forward: bool | JSON = False,
    ) -> JSON:
        meta: JSON = {"type": "regular", "width": 512, "height": 512, "emoji": emoji}
        meta.update({"is_animated": is_animated, "is_video": is_video})
        extension = "tgs" if is_animated else "webm" if is_video else "webp"
        ref = self._register(content, "sticker", meta, extension)
        return self._incoming_media(
            chat, user, {"sticker": ref.json()}, None, None, reply_to, forward
        )

    def send_audio(
        self,
        chat: JSON,
        user: JSON,
        content: bytes | Path | FileRef,
        *,
        duration: int = 5,
        file_name: str = "audio.mp3",
        mime_type: str = "audio/mpeg",
        title: str | None = None,
        performer: str | None = None,
        caption: str | None = None,
        reply_to: int | JSON | None = None,
        forward: bool | JSON = False,
    ) -> JSON:
        meta: JSON = {"duration": duration, "file_name": file_name, "mime_type": mime_type}
        meta.update({k: v for k, v in (("title", title), ("performer", performer)) if v})
        ref = self._register(content, "audio", meta, Path(file_name).suffix.lstrip("."))
        fields = {"audio": ref.json()}
        return self._incoming_media(chat, user, fields, caption, None, reply_to, forward)

    def send_voice(
        self,
        chat: JSON,
        user: JSON,
        content: bytes | Path | FileRef,
        *,
        duration: int = 2,
        mime_type: str = "audio/ogg",
        caption: str | None = None,
        reply_to: int | JSON | None = None,
        forward: bool | JSON = False,
    ) -> JSON:
        ref = self._register(content, "voice", {"duration": duration, "mime_type": mime_type})
        fields = {"voice": ref.json()}
        return self._incoming_media(chat, user, fields, caption, None, reply_to, forward)

    def press_button(self, chat: JSON, user: JSON, message_id: int, callback_data: str) -> JSON:
        """A callback_query for a button that must exist on the bot's message now."""
        message = self._messages.get(chat["id"], {}).get(message_id)
        if message is None:
            raise ValueError(f"no message {message_id} in chat {chat['id']}")
        if not _has_button(message, callback_data):
            markup = message.get("reply_markup")
            raise ValueError(f"message {message_id} has no button {callback_data!r}: {markup}")
        self._remember(chat, user)
        query_id = str(next(self._query_ids))
        self._open_queries.add(query_id)
        query = {
            "id": query_id,
            "from": user,
            "message": copy.deepcopy(message),
            "chat_instance": str(8_000_000_000_000_000_000 + abs(chat["id"])),
            "data": callback_data,
        }
        return self._queue({"callback_query": query})

    def my_chat_member(
        self, chat: JSON, user: JSON, *, status: str = "member", old_status: str = "left"
    ) -> JSON:
        """``user`` changed the bot's membership in ``chat`` (added it, promoted it...)."""
        return self._member_update("my_chat_member", chat, user, self.bot_user, status, old_status)

    def chat_member(
        self,
        chat: JSON,
        user: JSON,
        member: JSON,
        *,
        status: str = "member",
        old_status: str = "left",
    ) -> JSON:
        """``member``'s status changed; delivered only if allowed_updates names it."""
        return self._member_update("chat_member", chat, user, member, status, old_status)

    async def deliver_webhook(self, update: JSON, *, secret_token: str | None) -> int:
        """POST ``update`` to the webhook as the server would; answer the HTTP status."""
        if self.webhook is None:
            raise RuntimeError("no webhook is set")
        headers = {} if secret_token is None else {"X-Telegram-Bot-Api-Secret-Token": secret_token}
        timeout = aiohttp.ClientTimeout(total=10)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(self.webhook.url, json=update, headers=headers) as response,
        ):
            status = response.status
        if 200 <= status < 300 and update in self._pending:
            self._pending.remove(update)  # delivered: the server forgets it
        return status

    def _incoming_media(
        self,
        chat: JSON,
        user: JSON,
        fields: JSON,
        caption: str | None,
        media_group_id: str | None,
        reply_to: int | JSON | None,
        forward: bool | JSON,
    ) -> JSON:
        if caption:
            fields["caption"] = caption
            if found := detect_entities(caption):
                fields["caption_entities"] = found
        if media_group_id is not None:
            fields["media_group_id"] = media_group_id
        return self._incoming(chat, user, fields, reply_to=reply_to, forward=forward)

    def _incoming(
        self,
        chat: JSON,
        user: JSON,
        content: JSON,
        *,
        reply_to: int | JSON | None,
        forward: bool | JSON,
    ) -> JSON:
        self._remember(chat, user)
        if reply_to is not None:
            content["reply_to_message"] = self._reply_copy(chat["id"], reply_to)
        if forward:
            content["forward_origin"] = self._origin(forward)
        message = self._new_message(chat, user, content)
        return self._queue({"message": copy.deepcopy(message)}, self._visible(message))

    def _remember(self, chat: JSON, user: JSON) -> None:
        """Register a hand-made chat or user; whoever posts in a group is in it."""
        self.chats.setdefault(chat["id"], chat)
        self.users.setdefault(user["id"], user)
        if chat["type"] in ("group", "supergroup"):
            members = self._members.setdefault(chat["id"], {})
            members.setdefault(self.bot_id, {"status": "member"})
            members.setdefault(user["id"], {"status": "member"})

    def _reply_copy(self, chat_id: int, reply_to: int | JSON) -> JSON:
        """``reply_to`` is a message id, a Message or an Update holding one."""
        if isinstance(reply_to, dict):
            message_id = int(reply_to.get("message", reply_to)["message_id"])
        else:
            message_id = reply_to
        target = self._messages.get(chat_id, {}).get(message_id)
        if target is None:
            raise ValueError(f"no message {message_id} in chat {chat_id} to reply to")
        return _without_reply(target)

    def _origin(self, forward: bool | JSON) -> JSON:
        date = int(self.clock()) - 3600
        if forward is True:
            return {"type": "hidden_user", "sender_user_name": "Someone Else", "date": date}
        assert isinstance(forward, dict)
        if forward.get("type") == "channel":
            return {"type": "channel", "chat": forward, "message_id": 1, "date": date}
        return {"type": "user", "sender_user": forward, "date": date}

    def _visible(self, message: JSON) -> bool:
        """Whether the bot gets this message, privacy mode considered."""
        chat = message["chat"]
        if chat["type"] not in ("group", "supergroup"):
            return True
        status = self._member_entry(chat["id"], self.bot_id)["status"]
        if status in ("left", "kicked"):
            return False
        if not self.privacy_mode or status in ("administrator", "creator"):
            return True
        text = message.get("text") or message.get("caption") or ""
        username = str(self.bot_user["username"]).lower()
        if text.startswith("/"):
            _, _, addressee = text.split(maxsplit=1)[0].partition("@")
            return addressee.lower() in ("", username)
        replied = message.get("reply_to_message")
        if replied is not None and replied.get("from", {}).get("id") == self.bot_id:
            return True
        return f"@{username}" in text.lower()

    def _member_update(
        self, kind: str, chat: JSON, user: JSON, member: JSON, status: str, old_status: str
    ) -> JSON:
        self._remember(chat, user)
        self.set_member(chat["id"], member["id"], status)
        old = self._member_json(member, {"status": old_status})
        update = {
            "chat": chat,
            "from": user,
            "date": int(self.clock()),
            "old_chat_member": old,
            "new_chat_member": self._member_json(member, {"status": status}),
        }
        return self._queue({kind: update})

    def _queue(self, payload: JSON, deliver: bool = True) -> JSON:
        update = {"update_id": next(self._update_ids), **payload}
        if deliver:
            self._pending.append(update)
            self._notify_updates()
        else:
            self.withheld.append(update)
        return update

    def _notify_updates(self) -> None:
        self._updates_changed.set()
        self._updates_changed = asyncio.Event()

    # inspection

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        return list(self._pending)

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method.lower() == method.lower()]

    def messages(self, chat_id: int) -> list[JSON]:
        """The bot's current messages in a chat, oldest first."""
        stored = self._messages.get(chat_id, {})
        return [m for _, m in sorted(stored.items()) if m["from"]["id"] == self.bot_id]

    def message(self, chat_id: int, message_id: int) -> JSON | None:
        return self._messages.get(chat_id, {}).get(message_id)

    def file(self, file_id: str) -> FileRef | None:
        return self._files_by_id.get(file_id)

    def my_commands(self, language_code: str = "", scope: JSON | None = None) -> list[JSON] | None:
        """The commands set for this scope and language; None when never set."""
        key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language_code)
        return self._commands.get(key)

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,
        where: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Wait until ``count`` calls of ``method`` (matching ``where``) were answered."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = [call for call in self.calls_to(method) if where is None or where(call)]
            if len(found) >= count:
                return found
            if loop.time() >= deadline:
                seen = [call.method for call in self.calls]
                raise TimeoutError(
                    f"{len(found)} of {count} {method} calls after {timeout} s; calls: {seen}"
                )
            await _wait(self._calls_changed, deadline - loop.time())

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._calls_changed.set()
        self._calls_changed = asyncio.Event()

    # HTTP

    async def _endpoint(self, request: web.Request) -> web.StreamResponse:
        token, name = request.match_info["token"], request.match_info["method"]
        if token != self.token:
            await request.release()
            if _TOKEN_SHAPE.fullmatch(token):
                return _error(ApiError(401, "Unauthorized"))
            return _error(ApiError(404, "Not Found"))
        entry = self._methods.get(name.lower())
        call = Call(entry[0] if entry else name, {}, {}, self.clock())
        recorded = False
        try:
            assert self._spool_dir is not None
            call.params, call.files = await read_params(
                request, self._spool_dir, self.max_upload_bytes
            )
            if call.method == "getUpdates":
                # Recorded on arrival: its answer may take the whole timeout.
                self._record(call)
                recorded = True
            result = await self._run(call)
        except ApiError as error:
            call.error_code, call.description = error.code, error.description
            if not recorded:
                self._record(call)
            return _error(error)
        call.result = copy.deepcopy(result)
        if not recorded:
            self._record(call)
        return _ok(result)

    async def _run(self, call: Call) -> Any:
        for failure in self._failures:
            if failure.method == call.method.lower() and failure.times > 0:
                failure.times -= 1
                raise failure.error
        if call.method == "getUpdates":
            return await self._get_updates(call)
        entry = self._methods.get(call.method.lower())
        if entry is None:
            raise ApiError(404, "Not Found")
        try:
            return entry[1](call)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            # Parameters of the wrong shape: the server answers 400, not 500.
            raise ApiError(400, f"Bad Request: can't parse parameters: {error!r}") from error

    async def _download(self, request: web.Request) -> web.StreamResponse:
        ref = self._files_by_path.get(request.match_info["path"])
        if request.match_info["token"] != self.token or ref is None:
            return _error(ApiError(404, "Not Found"))
        self.downloads.append(Download(ref.file_id, ref.file_path, ref.file_size, self.clock()))
        headers = {"Content-Type": "application/octet-stream"}
        if isinstance(ref.content, Path):
            return web.FileResponse(ref.content, chunk_size=READ_CHUNK, headers=headers)
        return web.Response(body=ref.content, headers=headers)

    def _method_table(self) -> dict[str, tuple[str, Callable[[Call], Any]]]:
        def accept(call: Call) -> bool:
            return True

        table: dict[str, Callable[[Call], Any]] = {
            "getMe": self._get_me,
            "logOut": accept,
            "close": accept,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "sendMediaGroup": self._send_media_group,
            "copyMessage": self._copy_message,
            "forwardMessage": self._forward_message,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "editMessageMedia": self._edit_message_media,
            "deleteMessage": self._delete_message,
            "deleteMessages": self._delete_messages,
            "sendChatAction": self._send_chat_action,
            "answerCallbackQuery": self._answer_callback_query,
            "getFile": self._get_file,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
            "getChatMemberCount": self._get_chat_member_count,
        }
        for kind in _MEDIA_KINDS:
            table[f"send{kind.capitalize()}"] = self._media_sender(kind)
        for what, field_name in (
            ("Description", "description"),
            ("ShortDescription", "short_description"),
            ("Name", "name"),
        ):
            table[f"setMy{what}"] = self._bot_text_setter(field_name)
            table[f"getMy{what}"] = self._bot_text_getter(field_name)
        for name in (
            "setChatMenuButton",
            "setMyDefaultAdministratorRights",
            "setMessageReaction",
            "pinChatMessage",
            "unpinChatMessage",
            "unpinAllChatMessages",
            "leaveChat",
        ):
            table[name] = accept
        table["getUpdates"] = accept  # dispatched by _run; listed for its canonical name
        return {name.lower(): (name, handler) for name, handler in table.items()}

    # getMe, commands, descriptions

    def _get_me(self, call: Call) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _command_key(self, call: Call) -> tuple[str, str]:
        scope = call.params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(call.params.get("language_code") or "")

    def _set_my_commands(self, call: Call) -> bool:
        commands = _required(call, "commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be an array of at most 100 items")
        for command in commands:
            if not _COMMAND_NAME.fullmatch(str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: command description must be 1-256 characters")
        self._commands[self._command_key(call)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _get_my_commands(self, call: Call) -> list[JSON]:
        return list(self._commands.get(self._command_key(call), []))

    def _delete_my_commands(self, call: Call) -> bool:
        self._commands.pop(self._command_key(call), None)
        return True

    def _bot_text_setter(self, field_name: str) -> Callable[[Call], bool]:
        def setter(call: Call) -> bool:
            language = str(call.params.get("language_code") or "")
            self._bot_texts[(field_name, language)] = str(call.params.get(field_name) or "")
            return True

        return setter

    def _bot_text_getter(self, field_name: str) -> Callable[[Call], JSON]:
        def getter(call: Call) -> JSON:
            language = str(call.params.get("language_code") or "")
            default = BOT_NAME if field_name == "name" else ""
            value = self._bot_texts.get((field_name, language)) or self._bot_texts.get(
                (field_name, ""), default
            )
            return {field_name: value or default}

        return getter

    # updates and webhooks

    async def _get_updates(self, call: Call) -> list[JSON]:
        if self.webhook is not None:
            raise ApiError(409, _WEBHOOK_CONFLICT)
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify_updates()  # an older poll still waiting ends with a conflict
        self._confirm(call.params.get("offset"))
        if "allowed_updates" in call.params:
            self._allowed_updates = list(call.params["allowed_updates"] or [])
        limit = min(max(_int(call, "limit", 100), 1), 100)
        loop = asyncio.get_running_loop()
        try:
            deadline = loop.time() + max(float(call.params.get("timeout") or 0), 0.0)
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: invalid timeout specified") from None
        while True:
            if generation != self._poll_generation:
                raise ApiError(409, _POLL_CONFLICT)
            if self.webhook is not None:
                raise ApiError(409, "Conflict: terminated by setWebhook request")
            ready = self._deliverable()[:limit]
            if ready or self._closing or loop.time() >= deadline:
                return ready
            await _wait(self._updates_changed, deadline - loop.time())

    def _confirm(self, offset: Any) -> None:
        """Forget updates below ``offset``; a negative one keeps only the last -offset."""
        if offset is None:
            return
        offset = int(offset)
        if offset < 0:
            self._pending = self._pending[offset:]
        else:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]

    def _deliverable(self) -> list[JSON]:
        """Pending updates of allowed kinds; the others are dropped, as the server does."""
        allowed = self._allowed_updates

        def wanted(update: JSON) -> bool:
            kind = _update_kind(update)
            return kind in allowed if allowed else kind not in _OPT_IN_UPDATES

        self._pending = [u for u in self._pending if wanted(u)]
        return list(self._pending)

    def _set_webhook(self, call: Call) -> bool:
        url = str(call.params.get("url") or "")
        drop = _flag(call.params.get("drop_pending_updates"))
        if drop:
            self._pending.clear()
        if not url:
            self.webhook = None
            return True
        if not _HTTP_URL.match(url):
            raise ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        secret = call.params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        allowed = call.params.get("allowed_updates")
        if allowed is not None:
            self._allowed_updates = list(allowed)
        self.webhook = Webhook(
            url=url,
            secret_token=None if secret is None else str(secret),
            drop_pending_updates=drop,
            max_connections=_int(call, "max_connections", 40),
            allowed_updates=None if allowed is None else list(allowed),
            ip_address=call.params.get("ip_address"),
        )
        self._notify_updates()  # a waiting getUpdates ends with a conflict
        return True

    def _delete_webhook(self, call: Call) -> bool:
        if _flag(call.params.get("drop_pending_updates")):
            self._pending.clear()
        self.webhook = None
        return True

    def _get_webhook_info(self, call: Call) -> JSON:
        info: JSON = {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook is not None:
            info["url"] = self.webhook.url
            info["max_connections"] = self.webhook.max_connections
            if self.webhook.allowed_updates is not None:
                info["allowed_updates"] = self.webhook.allowed_updates
            if self.webhook.ip_address is not None:
                info["ip_address"] = self.webhook.ip_address
        return info

    # chats and members

    def _chat(self, chat_id: Any) -> JSON:
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            for chat in self.chats.values():
                if str(chat.get("username", "")).lower() == chat_id[1:].lower():
                    return chat
        else:
            with contextlib.suppress(TypeError, ValueError):
                if (found := self.chats.get(int(chat_id))) is not None:
                    return found
        raise ApiError(400, "Bad Request: chat not found")

    def _sendable_chat(self, call: Call) -> JSON:
        chat_id = _required(call, "chat_id")
        if chat_id in self.users and chat_id not in self.chats:
            # A known user without a private chat never pressed Start.
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        chat = self._chat(chat_id)
        if chat["id"] in self.blocked_chats:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat["type"] in ("group", "supergroup"):
            status = self._member_entry(chat["id"], self.bot_id)["status"]
            if status == "kicked":
                raise ApiError(403, f"Forbidden: bot was kicked from the {chat['type']} chat")
            if status == "left":
                raise ApiError(403, f"Forbidden: bot is not a member of the {chat['type']} chat")
        return chat

    def _member_entry(self, chat_id: int, user_id: int) -> JSON:
        entry = self._members.get(chat_id, {}).get(user_id)
        if entry is not None:
            return entry
        private = self.chats.get(chat_id, {}).get("type") == "private"
        member = private and user_id in (chat_id, self.bot_id)
        return {"status": "member" if member else "left"}

    def _user_json(self, user_id: int) -> JSON:
        if user_id == self.bot_id:
            return self.bot_user
        fallback = {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
        return self.users.get(user_id, fallback)

    def _member_json(self, user: JSON, entry: JSON) -> JSON:
        """A ChatMember object with every field its status requires."""
        rights = {key: value for key, value in entry.items() if key != "status"}
        status = entry["status"]
        member: JSON = {"status": status, "user": user}
        if status == "creator":
            member.update({"is_anonymous": False, **rights})
        elif status == "administrator":
            member.update({**_ADMIN_RIGHTS, **rights})
        elif status == "restricted":
            member.update({**_RESTRICTIONS, **rights})
        elif status == "kicked":
            member.update({"until_date": 0, **rights})
        else:
            member.update(rights)
        return member

    def _get_chat(self, call: Call) -> JSON:
        chat = self._chat(_required(call, "chat_id"))
        gifts = ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription")
        accepted = dict.fromkeys((*gifts, "gifts_from_channels"), True)
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": accepted,
        }

    def _get_chat_member(self, call: Call) -> JSON:
        chat = self._chat(_required(call, "chat_id"))
        user_id = _int(call, "user_id")
        return self._member_json(self._user_json(user_id), self._member_entry(chat["id"], user_id))

    def _get_chat_administrators(self, call: Call) -> list[JSON]:
        chat = self._chat(_required(call, "chat_id"))
        admins = []
        for user_id, entry in self._members.get(chat["id"], {}).items():
            user = self._user_json(user_id)
            # The server leaves bots out of this list.
            if entry["status"] in ("creator", "administrator") and not user["is_bot"]:
                admins.append(self._member_json(user, entry))
        return admins

    def _get_chat_member_count(self, call: Call) -> int:
        chat = self._chat(_required(call, "chat_id"))
        if chat["type"] == "private":
            return 2
        entries = self._members.get(chat["id"], {}).values()
        present = ("creator", "administrator", "member", "restricted")
        return sum(1 for entry in entries if entry["status"] in present)

    # messages

    def _new_message(self, chat: JSON, sender: JSON, content: JSON) -> JSON:
        message_id = self._last_message_id.get(chat["id"], 0) + 1
        self._last_message_id[chat["id"]] = message_id
        message = {
            "message_id": message_id,
            "from": sender,
            "chat": chat,
            "date": int(self.clock()),
            **content,
        }
        self._messages.setdefault(chat["id"], {})[message_id] = message
        return message

    def _formatted(
        self, raw: Any, parse_mode: Any, entities: Any, limit: int, too_long: str
    ) -> tuple[str, list[JSON]]:
        """Text and entities after parse_mode, trimming and the server's own detection."""
        text = "" if raw is None else str(raw)
        found: list[JSON] = []
        if str(parse_mode or "").lower() == "html":
            try:
                text, found = parse_html(text)
            except EntityParseError as error:
                raise ApiError(400, f"Bad Request: can't parse entities: {error}") from None
        elif isinstance(entities, list):
            found = list(entities)
        text, found = _strip(text, found)
        if len(text) > limit:
            raise ApiError(400, too_long)
        return text, _merge_detected(text, found) if text else []

    def _text_fields(self, call: Call) -> JSON:
        text, entities = self._formatted(
            call.params.get("text"),
            call.params.get("parse_mode"),
            call.params.get("entities"),
            TEXT_LIMIT,
            "Bad Request: message is too long",
        )
        if not text:
            raise ApiError(400, "Bad Request: message text is empty")
        return {"text": text, "entities": entities or None}

    def _caption_fields(self, source: JSON) -> JSON:
        caption, entities = self._formatted(
            source.get("caption"),
            source.get("parse_mode"),
            source.get("caption_entities"),
            CAPTION_LIMIT,
            "Bad Request: message caption is too long",
        )
        return {"caption": caption or None, "caption_entities": entities or None}

    def _inline_markup(self, call: Call) -> JSON | None:
        markup = call.params.get("reply_markup")
        if not isinstance(markup, dict) or "inline_keyboard" not in markup:
            return None  # reply keyboards are not part of the Message object
        _check_inline_keyboard(markup)
        return markup

    def _reply_target(self, call: Call, chat_id: int) -> JSON | None:
        parameters = call.params.get("reply_parameters")
        if parameters is None and call.params.get("reply_to_message_id") is not None:
            parameters = {
                "message_id": call.params["reply_to_message_id"],
                "allow_sending_without_reply": call.params.get("allow_sending_without_reply"),
            }
        if not isinstance(parameters, dict):
            return None
        target_chat = self._chat(parameters.get("chat_id", chat_id))["id"]
        target = self._messages.get(target_chat, {}).get(int(parameters["message_id"]))
        if target is not None:
            return _without_reply(target)
        if _flag(parameters.get("allow_sending_without_reply")):
            return None
        raise ApiError(400, "Bad Request: message to be replied not found")

    def _post(self, call: Call, chat: JSON, content: JSON) -> JSON:
        """Store a new bot message with the call's reply and keyboard; answer a copy."""
        extra = {
            "reply_to_message": self._reply_target(call, chat["id"]),
            "reply_markup": self._inline_markup(call),
            "link_preview_options": call.params.get("link_preview_options"),
        }
        fields = {k: v for k, v in {**content, **extra}.items() if v is not None}
        return copy.deepcopy(self._new_message(chat, self.bot_user, fields))

    def _send_message(self, call: Call) -> JSON:
        chat = self._sendable_chat(call)
        return self._post(call, chat, self._text_fields(call))

    def _media_sender(self, kind: str) -> Callable[[Call], JSON]:
        def send(call: Call) -> JSON:
            chat = self._sendable_chat(call)
            content = self._media_fields(call, kind, call.params.get(kind), call.params)
            if kind != "sticker":
                content.update(self._caption_fields(call.params))
            return self._post(call, chat, content)

        return send

    def _media_fields(self, call: Call, kind: str, value: Any, source: JSON) -> JSON:
        """The message fields for a file given as upload, attach://, URL or file_id."""
        if kind not in _MEDIA_KINDS:
            raise ApiError(400, f"Bad Request: unsupported media type {kind!r}")
        ref = self._input_file(call, kind, value, source)
        fields: JSON = {kind: self._photo_sizes(ref) if kind == "photo" else ref.json()}
        if kind == "animation":
            fields["document"] = self._document_json(ref)
        if _flag(source.get("has_spoiler")):
            fields["has_media_spoiler"] = True
        return fields

    def _input_file(self, call: Call, kind: str, value: Any, source: JSON) -> FileRef:
        upload = call.files.get(kind) if value is None else None
        if isinstance(value, str) and value.startswith("attach://"):
            upload = call.files.get(value.removeprefix("attach://"))
            if upload is None:
                raise ApiError(400, _WRONG_FILE)
        if upload is not None:
            meta = self._upload_meta(kind, upload, source)
            extension = Path(upload.filename or "").suffix.lstrip(".")
            return self._register(upload.path, kind, meta, extension)
        if isinstance(value, str) and _HTTP_URL.match(value):
            # Not fetched: a placeholder stands for whatever the URL holds.
            placeholder = media.jpeg_bytes(800, 600) if kind == "photo" else bytes(1024)
            return self._register(placeholder, kind, self._upload_meta(kind, None, source))
        if isinstance(value, str) and value in self._files_by_id:
            return self._files_by_id[value]
        if value is None:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        raise ApiError(400, _WRONG_FILE)

    def _upload_meta(self, kind: str, upload: UploadedFile | None, source: JSON) -> JSON:
        """What the server reports of a file the bot sent: sizes, names, durations."""
        if kind == "photo":
            size = _image_size(upload.path) if upload is not None else None
            width, height = size or (800, 600)
            return {"width": width, "height": height}
        meta: JSON = {}
        if kind in ("video", "animation"):
            meta = {key: int(source.get(key) or 0) for key in ("width", "height", "duration")}
        elif kind in ("audio", "voice"):
            meta = {"duration": int(source.get("duration") or 0)}
            meta.update({k: source[k] for k in ("title", "performer") if source.get(k)})
        elif kind == "sticker":
            meta = {"type": "regular", "width": 512, "height": 512}
            meta.update({"is_animated": False, "is_video": False})
        if kind != "sticker" and upload is not None:
            if upload.filename:
                meta["file_name"] = upload.filename
            meta["mime_type"] = upload.content_type or "application/octet-stream"
        return meta

    def _photo_sizes(self, ref: FileRef) -> list[JSON]:
        """PhotoSizes, smallest first, ``ref`` last; the thumbnails are reused per photo."""
        thumbs = self._thumbs.get(ref.file_id)
        if thumbs is None:
            width = int(ref.meta.get("width") or 1)
            height = int(ref.meta.get("height") or 1)
            boxes = [box for box in _THUMB_BOXES if box < max(width, height)]
            sizes = [_scaled(width, height, box) for box in boxes]
            if not sizes:
                sizes = [(max(1, width // 2), max(1, height // 2))]
            thumbs = [
                self._register(media.jpeg_bytes(w, h), "photo", {"width": w, "height": h})
                for w, h in sizes
            ]
            self._thumbs[ref.file_id] = thumbs
        return [thumb.json() for thumb in thumbs] + [ref.json()]

    @staticmethod
    def _document_json(ref: FileRef) -> JSON:
        fields = ("file_id", "file_unique_id", "file_size", "file_name", "mime_type")
        return {key: value for key, value in ref.json().items() if key in fields}

    def _send_media_group(self, call: Call) -> list[JSON]:
        chat = self._sendable_chat(call)
        items = _required(call, "media")
        if not isinstance(items, list) or not 1 <= len(items) <= 10:
            raise ApiError(400, "Bad Request: media must be an array of 1-10 items")
        group_id = str(next(self._media_groups))
        contents = []
        for item in items:  # everything is checked before anything is sent
            content = self._media_fields(call, str(item.get("type")), item.get("media"), item)
            content.update(self._caption_fields(item))
            contents.append({**content, "media_group_id": group_id})
        return [self._post(call, chat, content) for content in contents]

    def _source_message(self, call: Call, missing: str) -> JSON:
        from_chat = self._chat(_required(call, "from_chat_id"))
        message = self._messages.get(from_chat["id"], {}).get(_int(call, "message_id"))
        if message is None:
            raise ApiError(400, missing)
        return message

    def _copy_message(self, call: Call) -> JSON:
        chat = self._sendable_chat(call)
        source = self._source_message(call, "Bad Request: message to copy not found")
        content = {key: copy.deepcopy(source[key]) for key in _CONTENT_KEYS if key in source}
        if "caption" in call.params:
            content.update(self._caption_fields(call.params))
        return {"message_id": self._post(call, chat, content)["message_id"]}

    def _forward_message(self, call: Call) -> JSON:
        chat = self._sendable_chat(call)
        source = self._source_message(call, "Bad Request: message to forward not found")
        content = {key: copy.deepcopy(source[key]) for key in _CONTENT_KEYS if key in source}
        origin = {"type": "user", "sender_user": source["from"], "date": source["date"]}
        content["forward_origin"] = source.get("forward_origin", origin)
        # A forward carries no reply and no keyboard of its own.
        message = self._new_message(chat, self.bot_user, content)
        return copy.deepcopy(message)

    # edits and deletions

    def _editable(self, call: Call) -> JSON | None:
        """The bot message an edit targets; None for inline messages (not stored)."""
        if call.params.get("inline_message_id"):
            return None
        chat = self._chat(_required(call, "chat_id"))
        message = self._messages.get(chat["id"], {}).get(_int(call, "message_id"))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if message["from"]["id"] != self.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    def _apply_edit(self, message: JSON, keys: Iterable[str], new: JSON) -> JSON:
        """Replace ``keys`` with ``new`` (None drops a key); refuse an edit that changes nothing."""
        keys = tuple(keys)
        before = {key: message[key] for key in keys if key in message}
        after = {key: value for key, value in new.items() if value is not None}
        if before == after:
            raise ApiError(400, _NOT_MODIFIED)
        for key in keys:
            message.pop(key, None)
        message.update(after)
        message["edit_date"] = int(self.clock())
        return copy.deepcopy(message)

    def _edit_message_text(self, call: Call) -> JSON | bool:
        message = self._editable(call)
        if message is None:
            return True
        if "text" not in message:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        new = {**self._text_fields(call), "reply_markup": self._inline_markup(call)}
        new["link_preview_options"] = call.params.get("link_preview_options")
        return self._apply_edit(message, new, new)

    def _edit_message_caption(self, call: Call) -> JSON | bool:
        message = self._editable(call)
        if message is None:
            return True
        if not any(key in message for key in _MEDIA_KEYS):
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        new = {**self._caption_fields(call.params), "reply_markup": self._inline_markup(call)}
        return self._apply_edit(message, new, new)

    def _edit_message_reply_markup(self, call: Call) -> JSON | bool:
        message = self._editable(call)
        if message is None:
            return True
        new = {"reply_markup": self._inline_markup(call)}
        return self._apply_edit(message, new, new)

    def _edit_message_media(self, call: Call) -> JSON | bool:
        message = self._editable(call)
        item = _required(call, "media")
        if not isinstance(item, dict):
            raise ApiError(400, "Bad Request: can't parse InputMedia")
        new = self._media_fields(call, str(item.get("type")), item.get("media"), item)
        if message is None:
            return True
        if not any(key in message for key in _MEDIA_KEYS):
            raise ApiError(400, "Bad Request: there is no media in the message to edit")
        new.update(self._caption_fields(item))
        new["reply_markup"] = self._inline_markup(call)
        keys = (*_MEDIA_KEYS, "caption", "caption_entities", "has_media_spoiler", "reply_markup")
        return self._apply_edit(message, keys, new)

    def _may_delete(self, chat: JSON, message: JSON) -> bool:
        if message["from"]["id"] == self.bot_id or chat["type"] == "private":
            return True
        entry = self._member_entry(chat["id"], self.bot_id)
        if entry["status"] == "creator":
            return True
        # In a basic group any admin may delete; a supergroup needs the right.
        return entry["status"] == "administrator" and (
            chat["type"] == "group" or entry.get("can_delete_messages", True) is not False
        )

    def _delete(self, chat: JSON, message_id: int) -> None:
        message = self._messages.get(chat["id"], {}).get(message_id)
        if message is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        if not self._may_delete(chat, message):
            raise ApiError(400, "Bad Request: message can't be deleted")
        del self._messages[chat["id"]][message_id]
        self.deleted.append((chat["id"], message_id))

    def _delete_message(self, call: Call) -> bool:
        chat = self._chat(_required(call, "chat_id"))
        self._delete(chat, _int(call, "message_id"))
        return True

    def _delete_messages(self, call: Call) -> bool:
        chat = self._chat(_required(call, "chat_id"))
        for message_id in _required(call, "message_ids"):
            # Messages that cannot be found or deleted are skipped, as documented.
            with contextlib.suppress(ApiError):
                self._delete(chat, int(message_id))
        return True

    # chat actions, callback queries, files

    def _send_chat_action(self, call: Call) -> bool:
        self._sendable_chat(call)
        if call.params.get("action") not in _CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    def _answer_callback_query(self, call: Call) -> bool:
        query_id = str(_required(call, "callback_query_id"))
        if query_id not in self._open_queries:
            raise ApiError(400, _STALE_QUERY)
        self._open_queries.discard(query_id)
        self.callback_answers[query_id] = {
            "text": call.params.get("text"),
            "show_alert": _flag(call.params.get("show_alert")),
            "url": call.params.get("url"),
        }
        return True

    def _get_file(self, call: Call) -> JSON:
        ref = self._files_by_id.get(str(_required(call, "file_id")))
        if ref is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if ref.file_size > self.max_download_bytes:
            raise ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": ref.file_id,
            "file_unique_id": ref.file_unique_id,
            "file_size": ref.file_size,
            "file_path": ref.file_path,
        }
