"""Reading the host's answers: the error table of upload-api.md, lenient success parsing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from core.chevereto.answers import SentBody, is_storage_full, read_upload_answer
from core.chevereto.models import MediaType
from core.errors import (
    BadKey,
    DuplicateUpload,
    EndpointMisconfigured,
    FloodLimited,
    HostUnavailable,
    NotMedia,
    PicloudError,
    RequestDenied,
    TooBig,
    UrlUploadsDisabled,
)

SMALL = SentBody(size=10_000)
LARGE = SentBody(size=30 * 1024 * 1024)
DELETE_URL = "https://pic.test/image/AbC/delete/" + "s" * 48


def answer(status: int, body: object, *, content_type: str = "application/json") -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers={"Content-Type": content_type})


def api_error(code: object, message: str) -> httpx.Response:
    return answer(
        400,
        {
            "status_code": 400,
            "error": {"message": message, "code": code},
            "status_txt": "Bad Request",
        },
    )


def image(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id_encoded": "AbC",
        "type": "image",
        "mime": "image/png",
        "size": 1234,
        "width": 2,
        "height": 2,
        "title": "beach",
        "checksum": "0" * 32,
        "is_approved": 1,
        "url_viewer": "https://pic.test/image/beach.AbC",
        "url": "https://pic.test/images/beach.png",
        "display_url": "https://pic.test/images/beach.md.png",
        "thumb": {"url": "https://pic.test/images/beach.th.png"},
        "medium": {"url": "https://pic.test/images/beach.md.png"},
        "delete_url": DELETE_URL,
        "expiration_date_gmt": None,
    }
    fields.update(overrides)
    return fields


def success(image_fields: dict[str, Any]) -> httpx.Response:
    return answer(
        200,
        {
            "status_code": 200,
            "success": {"message": "file uploaded", "code": 200},
            "image": image_fields,
            "status_txt": "OK",
        },
    )


@pytest.mark.parametrize(
    ("code", "message", "sent", "error"),
    [
        (100, "No key provided", SMALL, BadKey),
        (100, "Invalid API key.", SMALL, BadKey),
        (100, "Invalid API key.", LARGE, BadKey),
        (100, "No key provided", LARGE, TooBig),  # body dropped over post_max_size
        (401, "Request denied", SMALL, RequestDenied),
        (130, "Empty upload source", SMALL, NotMedia),
        (130, "Empty upload source", LARGE, TooBig),
        (130, "Flooding detected. You can only upload 5 image(s) per minute", SMALL, FloodLimited),
        (120, "Invalid base64 string", SMALL, NotMedia),
        (403, "URL uploading is disabled", SMALL, UrlUploadsDisabled),
        (610, "Can't get target upload source info", SMALL, NotMedia),
        (612, "Invalid mimetype", SMALL, NotMedia),
        (613, "Unavailable image format", SMALL, NotMedia),
        (614, "Disabled image format", SMALL, NotMedia),
        (400, "File too big - max 10 MB", SMALL, TooBig),
        (601, "File too big (UPLOAD_ERR_INI_SIZE)", SMALL, TooBig),
        (101, "Duplicated upload", SMALL, DuplicateUpload),
        (102, "Duplicated upload", SMALL, DuplicateUpload),
        (103, "Duplicated upload", SMALL, DuplicateUpload),
        (104, "No space left on storage", SMALL, HostUnavailable),
        (900, "No storage available", SMALL, HostUnavailable),
        (600, "Internal error", SMALL, HostUnavailable),
        (666, "Evil", SMALL, HostUnavailable),
        (0, "Something broke", SMALL, HostUnavailable),
        (4242, "A code nobody documented", SMALL, HostUnavailable),
        ("101", "Duplicated upload", SMALL, DuplicateUpload),  # codes as strings
    ],
)
def test_api_errors_map_to_the_table(
    code: object, message: str, sent: SentBody, error: type[PicloudError]
) -> None:
    with pytest.raises(PicloudError) as raised:
        read_upload_answer(api_error(code, message), sent)

    assert type(raised.value) is error
    assert raised.value.code == int(str(code))


def test_the_hosts_words_are_kept_short_and_on_one_line() -> None:
    with pytest.raises(HostUnavailable) as raised:
        read_upload_answer(api_error(600, "Boom\r\nat line 12 " + "x" * 500), SMALL)

    assert raised.value.message.startswith("the upload host said: Boom at line 12 x")
    assert "\n" not in raised.value.message
    assert len(raised.value.message) < 250


def test_too_big_carries_the_sites_limit() -> None:
    with pytest.raises(TooBig) as raised:
        read_upload_answer(api_error(400, "File too big - max 10 MB"), SMALL)

    assert raised.value.max_mb == 10
    assert raised.value.code == 400


@pytest.mark.parametrize("code", [104, 900])
def test_storage_full_is_host_down_but_not_worth_a_quick_retry(code: int) -> None:
    with pytest.raises(HostUnavailable) as raised:
        read_upload_answer(api_error(code, "No space left on storage"), SMALL)

    assert is_storage_full(raised.value)
    assert not is_storage_full(HostUnavailable("502"))


@pytest.mark.parametrize(
    "response",
    [
        answer(500, b"<html><body>Fatal error</body></html>", content_type="text/html"),
        answer(503, b"<html>Maintenance</html>", content_type="text/html"),
        answer(502, b"Bad Gateway", content_type="text/plain"),
        answer(200, b"<html>Please accept cookies</html>", content_type="text/html"),
        answer(200, b'{"status_code":200,"image":{"id_enc'),
        answer(200, b"[1, 2, 3]"),
        answer(200, b"\xff\xfe not utf-8"),
        answer(200, {"status_code": 200, "status_txt": "OK"}),  # no image
        answer(500, {"status_code": 500}),
    ],
)
def test_anything_but_the_api_speaking_is_host_unavailable(response: httpx.Response) -> None:
    with pytest.raises(HostUnavailable) as raised:
        read_upload_answer(response, SMALL)

    assert raised.value.transient


@pytest.mark.parametrize("status", [301, 302, 307, 308, 404])
def test_redirects_and_not_found_mean_a_wrong_endpoint(status: int) -> None:
    with pytest.raises(EndpointMisconfigured, match="PICLOUD_API_URL") as raised:
        read_upload_answer(answer(status, b"<html></html>", content_type="text/html"), SMALL)

    assert raised.value.status == status


def test_success_fields_are_read() -> None:
    media = read_upload_answer(
        success(image(expiration_date_gmt="2024-10-10 20:28:00", duration=None)), SMALL
    )

    assert media.id_encoded == "AbC"
    assert media.media_type is MediaType.IMAGE
    assert media.mime == "image/png"
    assert media.size == 1234
    assert (media.width, media.height) == (2, 2)
    assert media.delete_url.get_secret_value() == DELETE_URL
    assert DELETE_URL not in repr(media)
    assert media.is_approved
    assert media.url_viewer == "https://pic.test/image/beach.AbC"
    assert media.url == "https://pic.test/images/beach.png"
    assert media.thumb_url == "https://pic.test/images/beach.th.png"
    assert media.medium_url == "https://pic.test/images/beach.md.png"
    assert media.title == "beach"
    assert media.checksum == "0" * 32
    assert media.expires_at == datetime(2024, 10, 10, 20, 28, tzinfo=UTC)


def test_numbers_and_booleans_as_strings_are_accepted() -> None:
    media = read_upload_answer(
        success(image(size="1234", width="640", height=480.0, is_approved="1", duration="7.5")),
        SMALL,
    )

    assert (media.size, media.width, media.height) == (1234, 640, 480)
    assert media.is_approved
    assert media.duration == 7.5


@pytest.mark.parametrize("flag", [0, "0", False, "false"])
def test_awaiting_moderation_has_no_links(flag: object) -> None:
    fields = image(is_approved=flag)
    for name in ("url_viewer", "url", "display_url", "thumb", "medium"):
        del fields[name]

    media = read_upload_answer(success(fields), SMALL)

    assert not media.is_approved
    assert media.url_viewer is media.url is media.thumb_url is media.display_url is None
    assert media.delete_url.get_secret_value() == DELETE_URL


def test_video_thumb_and_display_fall_back_to_the_poster_frame() -> None:
    fields = image(
        type="video",
        mime="video/mp4",
        url_frame="https://pic.test/images/clip.fr.jpeg",
        thumb=None,
        display_url=None,
        medium={"url": None},
        duration=73,
    )

    media = read_upload_answer(success(fields), SMALL)

    assert media.media_type is MediaType.VIDEO
    assert media.thumb_url == media.display_url == "https://pic.test/images/clip.fr.jpeg"
    assert media.medium_url is None
    assert media.duration == 73.0


def test_type_is_taken_from_the_mime_when_missing() -> None:
    fields = image(mime="video/webm")
    del fields["type"]

    assert read_upload_answer(success(fields), SMALL).media_type is MediaType.VIDEO


@pytest.mark.parametrize(
    "missing", ["id_encoded", "delete_url", "url_viewer", "url", ("type", "mime")]
)
def test_a_needed_field_missing_is_an_unexpected_answer(missing: str | tuple[str, ...]) -> None:
    fields = image()
    for name in (missing,) if isinstance(missing, str) else missing:
        del fields[name]

    with pytest.raises(HostUnavailable, match="unexpected answer"):
        read_upload_answer(success(fields), SMALL)
