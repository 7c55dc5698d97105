"""What a message carries that can be uploaded: files, links, or something we refuse."""

from __future__ import annotations

from telegram import Message, MessageEntity

from bots.telegram.files import TelegramFile
from core.captions import parse_caption
from core.chevereto.models import UploadOptions
from core.i18n import N_
from core.links import find_links
from core.service.batch import Link, Refused


def file_of(message: Message) -> TelegramFile | Refused | None:
    """The one file a message carries (the largest photo size), if any."""
    if message.photo:
        photo = message.photo[-1]
        return TelegramFile(
            photo.file_id,
            photo.file_unique_id,
            photo.file_size,
            f"photo_{photo.file_unique_id}.jpg",
            "image/jpeg",
        )
    if message.animation:
        # Telegram turns GIFs into MP4 animations; the host takes them as videos.
        anim = message.animation
        return TelegramFile(
            anim.file_id,
            anim.file_unique_id,
            anim.file_size,
            anim.file_name or f"animation_{anim.file_unique_id}.mp4",
            anim.mime_type or "video/mp4",
        )
    if message.video:
        video = message.video
        return TelegramFile(
            video.file_id,
            video.file_unique_id,
            video.file_size,
            video.file_name or f"video_{video.file_unique_id}.mp4",
            video.mime_type or "video/mp4",
        )
    if message.video_note:
        note = message.video_note
        return TelegramFile(
            note.file_id,
            note.file_unique_id,
            note.file_size,
            f"video_note_{note.file_unique_id}.mp4",
            "video/mp4",
        )
    if message.sticker:
        return _sticker(message)
    if message.document:
        doc = message.document
        return TelegramFile(
            doc.file_id,
            doc.file_unique_id,
            doc.file_size,
            doc.file_name or f"file_{doc.file_unique_id}",
            doc.mime_type or "application/octet-stream",
        )
    if message.audio or message.voice:
        return Refused(N_("audio and voice messages"))
    return None


def _sticker(message: Message) -> TelegramFile | Refused:
    sticker = message.sticker
    assert sticker is not None
    if sticker.is_animated:
        return Refused(N_("animated stickers"))
    if sticker.is_video:
        name, mime = f"sticker_{sticker.file_unique_id}.webm", "video/webm"
    else:
        name, mime = f"sticker_{sticker.file_unique_id}.webp", "image/webp"
    return TelegramFile(sticker.file_id, sticker.file_unique_id, sticker.file_size, name, mime)


def links_of(message: Message) -> list[Link]:
    """The http(s) links of a message's text or caption, hidden text links included."""
    found: list[str] = []
    entities = message.parse_entities() or message.parse_caption_entities()
    for entity, text in entities.items():
        if entity.type == MessageEntity.TEXT_LINK and entity.url:
            found.append(entity.url)
        elif entity.type == MessageEntity.URL:
            found.append(text)
    found.extend(find_links(message.text or message.caption or ""))
    web = (link for link in found if link.lower().startswith(("http://", "https://")))
    return [Link(url) for url in dict.fromkeys(web)]


def options_of(message: Message) -> UploadOptions:
    """Title, description and tags from the caption; a spoiler means nsfw."""
    caption = parse_caption(message.caption)
    return UploadOptions(
        title=caption.title,
        description=caption.description,
        tags=caption.tags,
        nsfw=bool(message.has_media_spoiler),
    )
