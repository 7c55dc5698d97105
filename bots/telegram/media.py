"""What a message carries that can be uploaded: files, links, or something we refuse."""

from __future__ import annotations

from typing import Protocol

from telegram import Message, MessageEntity, Sticker

from bots.telegram.files import TelegramFile
from core.captions import parse_caption
from core.chevereto.models import UploadOptions
from core.i18n import N_
from core.links import find_links
from core.links.media import safe_filename
from core.service.batch import Link, Refused


def file_of(message: Message) -> TelegramFile | Refused | None:
    """The one file a message carries (the largest photo size), if any."""
    if message.photo:
        return _file(message.photo[-1], "photo_{uid}.jpg", "image/jpeg")
    if message.animation:
        # Telegram turns GIFs into MP4 animations; the host takes them as videos.
        anim = message.animation
        return _file(anim, "animation_{uid}.mp4", "video/mp4", anim.file_name, anim.mime_type)
    if message.video:
        video = message.video
        return _file(video, "video_{uid}.mp4", "video/mp4", video.file_name, video.mime_type)
    if message.video_note:
        return _file(message.video_note, "video_note_{uid}.mp4", "video/mp4")
    if message.sticker:
        return _sticker(message.sticker)
    if message.document:
        doc = message.document
        octets = "application/octet-stream"
        return _file(doc, "file_{uid}", octets, doc.file_name, doc.mime_type)
    if message.audio or message.voice:
        return Refused(N_("audio and voice messages"))
    return None


def _sticker(sticker: Sticker) -> TelegramFile | Refused:
    if sticker.is_animated:
        return Refused(N_("animated stickers"))
    if sticker.is_video:
        return _file(sticker, "sticker_{uid}.webm", "video/webm")
    return _file(sticker, "sticker_{uid}.webp", "image/webp")


class _Medium(Protocol):
    """What every Telegram file object has (PhotoSize, Video, Document, Sticker...)."""

    @property
    def file_id(self) -> str: ...

    @property
    def file_unique_id(self) -> str: ...

    @property
    def file_size(self) -> int | None: ...


def _file(
    media: _Medium,
    default_name: str,
    default_mime: str,
    name: str | None = None,
    mime: str | None = None,
) -> TelegramFile:
    """A file with the sender's name (made safe) and type, else ours (``{uid}``: its
    unique id)."""
    named = safe_filename(name) if name else ""
    fallback = default_name.format(uid=media.file_unique_id)
    return TelegramFile(
        media.file_id,
        media.file_unique_id,
        media.file_size,
        named or fallback,
        mime or default_mime,
    )


def links_of(message: Message) -> list[Link]:
    """The http(s) links of a message's text or caption, hidden text links included."""
    web = (link for link in _all_links(message) if _is_web(link))
    return [Link(url) for url in dict.fromkeys(web)]


def other_links(message: Message) -> list[str]:
    """Links Telegram marks in the message whose scheme is not http(s) (``ftp://``)."""
    return [link for link in _all_links(message) if not _is_web(link)]


def _all_links(message: Message) -> list[str]:
    found: list[str] = []
    entities = message.parse_entities() or message.parse_caption_entities()
    for entity, text in entities.items():
        if entity.type == MessageEntity.TEXT_LINK and entity.url:
            found.append(entity.url)
        elif entity.type == MessageEntity.URL:
            found.append(text)
    found.extend(find_links(message.text or message.caption or ""))
    return found


def _is_web(link: str) -> bool:
    return link.lower().startswith(("http://", "https://"))


def options_of(message: Message) -> UploadOptions:
    """Title, description and tags from the caption; a spoiler means nsfw."""
    caption = parse_caption(message.caption)
    return UploadOptions(
        title=caption.title,
        description=caption.description,
        tags=caption.tags,
        nsfw=bool(message.has_media_spoiler),
    )
