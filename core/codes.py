"""Embed codes for an upload, as Chevereto's own embed menu offers them: the viewer and
direct links, and in Markdown, BBCode and HTML the full-size image, the full-size image
linked to its page, the medium size linked and the thumbnail linked; each only when the
upload has that size, full size first."""

from __future__ import annotations

import enum
import html
from dataclasses import dataclass

from core.chevereto.models import MediaType
from core.i18n import N_
from core.service.types import UploadView

ALT_MAX = 100
"""Characters of the title an image's alt text keeps: a code stays one readable line
(and, HTML-escaped, within a Discord field's 1024)."""


class Format(enum.StrEnum):
    MARKDOWN = "md"
    BBCODE = "bb"
    HTML = "html"

    @property
    def label(self) -> str:
        return {Format.MARKDOWN: "Markdown", Format.BBCODE: "BBCode", Format.HTML: "HTML"}[self]

    def switch_label(self, shown: Format) -> str:
        """This format's button among those that switch a codes message, marked when it
        is the one ``shown``."""
        return f"• {self.label}" if self is shown else self.label


class Variant(enum.StrEnum):
    FULL = "full"
    FULL_LINKED = "full_linked"
    MEDIUM_LINKED = "medium_linked"
    THUMB_LINKED = "thumb_linked"

    @property
    def label(self) -> str:
        """Untranslated: the front-end translates it."""
        return _VARIANT_LABELS[self]


VIEWER_LABEL = N_("Viewer link")
DIRECT_LABEL = N_("Direct link")
_VARIANT_LABELS = {
    Variant.FULL: N_("Full size"),
    Variant.FULL_LINKED: N_("Full size, linked"),
    Variant.MEDIUM_LINKED: N_("Medium, linked"),
    Variant.THUMB_LINKED: N_("Thumbnail, linked"),
}


@dataclass(frozen=True, slots=True)
class EmbedCodes:
    viewer: str
    """The upload's page."""
    direct: str | None
    """The file itself."""
    pictures: tuple[tuple[Variant, str], ...]
    """The sizes the upload has, full first: what each variant shows."""
    alt: str

    def codes(self, form: Format) -> list[tuple[Variant, str]]:
        """Each variant's code in ``form``, in the order of :attr:`pictures`."""
        return [
            (variant, _code(form, variant, picture, self)) for variant, picture in self.pictures
        ]

    def lines(self, form: Format) -> list[tuple[str, str]]:
        """What a codes message shows, in order, each with its label (untranslated: the
        front-end translates it): the viewer and direct links, then each variant."""
        links = [(VIEWER_LABEL, self.viewer), (DIRECT_LABEL, self.direct)]
        variants = [(variant.label, code) for variant, code in self.codes(form)]
        return [(label, text) for label, text in [*links, *variants] if text]


def embed_codes(view: UploadView) -> EmbedCodes | None:
    """``None`` while the upload awaits moderation: it has no public links yet."""
    if not view.url_viewer:
        return None
    pictures: list[tuple[Variant, str | None]]
    if view.media_type is MediaType.VIDEO:
        # The file is a video: the picture is its poster.
        pictures = [(Variant.THUMB_LINKED, view.picture)]
    else:
        pictures = [
            (Variant.FULL, view.url),
            (Variant.FULL_LINKED, view.url),
            (Variant.MEDIUM_LINKED, view.medium_url),
            (Variant.THUMB_LINKED, view.thumb_url),
        ]
    return EmbedCodes(
        viewer=view.url_viewer,
        direct=view.url,
        pictures=tuple((variant, url) for variant, url in pictures if url),
        alt=(view.title or "image")[:ALT_MAX],
    )


def _code(form: Format, variant: Variant, picture: str, codes: EmbedCodes) -> str:
    linked = variant is not Variant.FULL
    page = codes.viewer
    if form is Format.MARKDOWN:
        image = f"![{_markdown_text(codes.alt)}]({picture})"
        return f"[{image}]({page})" if linked else image
    if form is Format.BBCODE:
        image = f"[img]{picture}[/img]"
        return f"[url={page}]{image}[/url]" if linked else image
    image = f'<img src="{html.escape(picture)}" alt="{html.escape(codes.alt)}">'
    return f'<a href="{html.escape(page)}">{image}</a>' if linked else image


def _markdown_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
