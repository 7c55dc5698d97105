"""Embed codes as Chevereto's embed menu offers them, from an upload's links alone."""

from __future__ import annotations

from datetime import UTC, datetime

from core.chevereto.models import MediaType
from core.codes import Format, Variant, embed_codes
from core.refs import UploadId
from core.service.types import UploadView

PAGE = "https://picloud.cc/image/cat.AbCd"


def view(media_type: MediaType = MediaType.IMAGE, **links: str | None) -> UploadView:
    values: dict[str, str | None] = {
        "url_viewer": PAGE,
        "url": "https://picloud.cc/images/cat.png",
        "thumb_url": "https://picloud.cc/images/cat.th.png",
        "medium_url": None,
        "display_url": None,
        **links,
    }
    return UploadView(
        upload_id=UploadId("AbCdEfGh1234"),
        media_type=media_type,
        title='A "cat" [big] & <small>',
        size=10,
        is_approved=True,
        expires_at=None,
        created_at=datetime(2026, 12, 5, tzinfo=UTC),
        **values,  # type: ignore[arg-type]
    )


def test_an_image_has_each_size_it_has_full_first_in_every_format() -> None:
    codes = embed_codes(view(medium_url="https://picloud.cc/images/cat.md.png"))
    assert codes is not None
    assert [variant for variant, _code in codes.codes(Format.BBCODE)] == [
        Variant.FULL,
        Variant.FULL_LINKED,
        Variant.MEDIUM_LINKED,
        Variant.THUMB_LINKED,
    ]
    markdown = dict(codes.codes(Format.MARKDOWN))
    assert markdown[Variant.FULL] == (
        '![A "cat" \\[big\\] & <small>](https://picloud.cc/images/cat.png)'
    )
    html = dict(codes.codes(Format.HTML))
    assert html[Variant.MEDIUM_LINKED] == (
        f'<a href="{PAGE}"><img src="https://picloud.cc/images/cat.md.png" '
        'alt="A &quot;cat&quot; [big] &amp; &lt;small&gt;"></a>'
    )
    assert (codes.viewer, codes.direct) == (PAGE, "https://picloud.cc/images/cat.png")


def test_a_video_is_embedded_by_its_poster_linked_to_its_page() -> None:
    poster = "https://picloud.cc/images/clip.fr.jpeg"
    codes = embed_codes(
        view(MediaType.VIDEO, url="https://picloud.cc/images/clip.mp4", display_url=poster)
    )
    assert codes is not None
    assert codes.codes(Format.BBCODE) == [
        (Variant.THUMB_LINKED, f"[url={PAGE}][img]{poster}[/img][/url]")
    ]
    assert codes.direct == "https://picloud.cc/images/clip.mp4"


def test_an_upload_awaiting_moderation_has_no_codes() -> None:
    assert embed_codes(view(url_viewer=None, url=None, thumb_url=None)) is None
