"""Embed codes for an upload: Markdown, BBCode and HTML, linking the viewer page."""

from __future__ import annotations

import html
from dataclasses import dataclass

from core.chevereto.models import MediaType
from core.service.types import UploadView


@dataclass(frozen=True, slots=True)
class EmbedCodes:
    markdown: str
    bbcode: str
    html: str


def embed_codes(view: UploadView) -> EmbedCodes | None:
    """Codes that show the picture (or a video's poster) and link to its page.

    ``None`` while the upload awaits moderation: it has no public links yet.
    """
    page = view.url_viewer
    picture = view.medium_url or view.display_url or view.url
    if view.media_type is MediaType.VIDEO:
        picture = view.display_url or view.thumb_url
    if not page or not picture:
        return None
    alt = view.title or "image"
    return EmbedCodes(
        markdown=f"[![{_markdown_text(alt)}]({picture})]({page})",
        bbcode=f"[url={page}][img]{picture}[/img][/url]",
        html=(
            f'<a href="{html.escape(page)}"><img src="{html.escape(picture)}" '
            f'alt="{html.escape(alt)}"></a>'
        ),
    )


def _markdown_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
