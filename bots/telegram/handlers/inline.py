"""Inline mode: ``@bot words`` in any chat lists the user's own uploads whose title,
description, tags or file name hold the words (newest first; all of them when there are
no words), a page at a time. Choosing one posts the media with its viewer link, never a
delete link: a JPEG as a photo, a GIF as a GIF, an MP4 as a video (Telegram fetches
those by URL), anything else as its viewer link with the picture as a large preview.
"""

from __future__ import annotations

import html
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from telegram import (
    InlineQueryResult,
    InlineQueryResultArticle,
    InlineQueryResultGif,
    InlineQueryResultPhoto,
    InlineQueryResultsButton,
    InlineQueryResultVideo,
    InputTextMessageContent,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bots.telegram.deps import deps, translator_for, user_ref
from core.chevereto.models import MediaType
from core.i18n import Translator
from core.service.types import UploadView

PAGE = 20
"""Results per answer (Telegram takes 50): a page loads fast, the next as one scrolls."""
CACHE_S = 10
"""How long Telegram may show an answer again: a new upload appears soon after."""
START_PAYLOAD = "inline"


async def search(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.inline_query
    assert query is not None
    _ = await translator_for(update, context)
    offset = int(query.offset) if query.offset.isdecimal() else 0
    found = await deps(context).service.search(
        user_ref(query.from_user), query.query, offset=offset, limit=PAGE + 1
    )
    results = [result for view in found[:PAGE] if (result := _result(view, _)) is not None]
    more = len(found) > PAGE
    nothing = not found and offset == 0
    await query.answer(
        results,
        cache_time=CACHE_S,
        is_personal=True,  # each user sees their own uploads
        next_offset=str(offset + PAGE) if more else "",
        button=InlineQueryResultsButton(
            _("No uploads found: send me a picture"), start_parameter=START_PAYLOAD
        )
        if nothing
        else None,
    )


def _result(view: UploadView, _: Translator) -> InlineQueryResult | None:
    if not view.url_viewer:
        return None
    title = view.title or _("Untitled")
    caption = f'<a href="{html.escape(view.url_viewer)}">{html.escape(title)}</a>'
    thumb = view.thumbnail
    if view.url and thumb:  # a file Telegram may fetch by URL, shown as itself
        suffix = PurePosixPath(urlsplit(view.url).path).suffix.lower()
        html_mode = ParseMode.HTML
        if view.media_type is MediaType.VIDEO and suffix == ".mp4":
            return InlineQueryResultVideo(
                view.upload_id, view.url, "video/mp4", thumb, title, caption, parse_mode=html_mode
            )
        if suffix in (".jpg", ".jpeg"):
            return InlineQueryResultPhoto(
                view.upload_id, view.url, thumb, title=title, caption=caption, parse_mode=html_mode
            )
        if suffix == ".gif":
            return InlineQueryResultGif(
                view.upload_id, view.url, thumb, title=title, caption=caption, parse_mode=html_mode
            )
    picture = view.picture
    return InlineQueryResultArticle(
        id=view.upload_id,
        title=title,
        description=view.url_viewer,
        thumbnail_url=thumb,
        input_message_content=InputTextMessageContent(
            caption,
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(
                url=picture, prefer_large_media=True, show_above_text=True
            )
            if picture
            else None,
        ),
    )
