"""The Chevereto client against the emulator: one test per answer the host can give.

Every test uploads media of its own (``seed``) so that the host's duplicate check
never links two tests. Retries use tiny waits; no test sleeps for long.
"""

from __future__ import annotations

import hashlib
import logging
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from core.chevereto.client import CheveretoClient, RetryPolicy, make_http_client
from core.chevereto.models import (
    CHUNK_SIZE,
    TITLE_LIMIT,
    DeleteOutcome,
    MediaType,
    RemoteUrl,
    UploadOptions,
    UploadSource,
)
from core.errors import (
    BadKey,
    DuplicateUpload,
    EmptyFile,
    EndpointMisconfigured,
    FloodLimited,
    HostUnavailable,
    InputError,
    InvalidApiKey,
    MissingKey,
    NotMedia,
    PicloudError,
    RequestDenied,
    TooBig,
    UrlUploadsDisabled,
)
from core.expiry import parse_expiry
from tests.fakes.chevereto import USER_KEY, CheveretoEmulator, Fault
from tests.fakes.media import big_png_file, mp4_bytes, png_bytes

KEY = SecretStr(USER_KEY)
ADMIN_KEY = "chv_9_adminkeyAAAAAAAAAAAAAAAAAAAAAAAAAAA"
FAST = RetryPolicy(
    attempts=3,
    deadline_s=10.0,
    wait_initial_s=0.01,
    wait_max_s=0.05,
    wait_jitter_s=0.01,
    flood_wait_s=0.05,
)
ONCE = RetryPolicy(attempts=1)
MB = 1024 * 1024


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with make_http_client() as client:
        yield client


@pytest.fixture
def client(http: httpx.AsyncClient, chevereto: CheveretoEmulator) -> CheveretoClient:
    return CheveretoClient(http, chevereto.api_url, retry=FAST)


def png(seed: int, *, filename: str = "photo.png") -> UploadSource:
    return UploadSource.from_bytes(png_bytes(seed=seed), filename, "image/png")


def upload_requests(chevereto: CheveretoEmulator) -> int:
    return sum(1 for request in chevereto.requests if request.path.startswith("/api/"))


# -- success -------------------------------------------------------------------------


async def test_image_upload_reads_the_answer(
    client: CheveretoClient, chevereto: CheveretoEmulator
) -> None:
    data = png_bytes(width=640, height=480, seed=1)

    media = await client.upload(UploadSource.from_bytes(data, "beach.png", "image/png"), key=KEY)

    stored = chevereto.uploads[media.id_encoded]
    assert media.media_type is MediaType.IMAGE
    assert media.mime == "image/png"
    assert media.size == len(data)
    assert (media.width, media.height) == (640, 480)
    assert media.checksum == hashlib.md5(data, usedforsecurity=False).hexdigest() == stored.md5
    assert media.is_approved
    assert media.url_viewer == stored.image["url_viewer"]
    assert media.url == stored.image["url"]
    assert media.thumb_url == stored.image["thumb"]["url"]
    assert media.medium_url == stored.image["medium"]["url"]
    assert media.display_url == stored.image["display_url"]
    assert media.title == "beach"
    assert media.expires_at is None
    assert media.delete_url.get_secret_value() == chevereto.delete_url(media.id_encoded)


async def test_video_upload_gets_its_poster_frame_as_thumb(
    client: CheveretoClient, chevereto: CheveretoEmulator
) -> None:
    source = UploadSource.from_bytes(mp4_bytes(seed=2), "clip.mp4", "video/mp4")

    media = await client.upload(source, key=KEY)

    stored = chevereto.uploads[media.id_encoded]
    assert media.media_type is MediaType.VIDEO
    assert media.mime == "video/mp4"
    assert media.display_url == stored.image["url_frame"]
    assert media.thumb_url is not None
    assert media.thumb_url.endswith(".jpeg")
    assert media.medium_url is None
    assert media.duration == 3.0
    assert "/video/" in media.delete_url.get_secret_value()
    assert chevereto.requests[-1].file_content_type == "video/mp4"


async def test_upload_awaiting_moderation_has_no_links(
    client: CheveretoClient, chevereto: CheveretoEmulator
) -> None:
    chevereto.moderation = True

    media = await client.upload(png(3), key=KEY)

    assert not media.is_approved
    assert (media.url_viewer, media.url, media.thumb_url, media.display_url) == (None,) * 4
    assert media.delete_url.get_secret_value() == chevereto.delete_url(media.id_encoded)


async def test_gzip_answers_are_read(client: CheveretoClient, chevereto: CheveretoEmulator) -> None:
    chevereto.gzip = True

    media = await client.upload(png(4), key=KEY)

    assert media.id_encoded in chevereto.uploads
    assert "gzip" in chevereto.requests[-1].headers["accept-encoding"]


async def _chunks_of(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 1000):
        yield data[start : start + 1000]


@pytest.mark.parametrize("kind", ["bytes", "path", "stream"])
async def test_every_kind_of_source_arrives_whole(
    client: CheveretoClient, chevereto: CheveretoEmulator, tmp_path: Path, kind: str
) -> None:
    data = png_bytes(width=50, height=50, seed=10 + len(kind))
    if kind == "bytes":
        source = UploadSource.from_bytes(data, "a.png", "image/png")
    elif kind == "path":
        path = tmp_path / "a.png"
        path.write_bytes(data)
        source = UploadSource.from_path(path)
    else:
        source = UploadSource.from_stream(
            lambda: _chunks_of(data), size=len(data), filename="a.png", content_type="image/png"
        )

    media = await client.upload(source, key=KEY)

    request = chevereto.requests[-1]
    assert (request.file_name, request.file_content_type) == ("a.png", "image/png")
    assert request.file_size == len(data) == media.size
    assert request.file_md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()


async def test_a_big_file_streams_with_an_exact_length_and_progress(
    client: CheveretoClient, chevereto: CheveretoEmulator, tmp_path: Path
) -> None:
    path = big_png_file(tmp_path / "big.png", 5 * MB, seed=5)
    progress: list[tuple[int, int]] = []

    media = await client.upload(
        UploadSource.from_path(path), key=KEY, progress=lambda *done: progress.append(done)
    )

    request = chevereto.requests[-1]
    assert media.size == request.file_size == 5 * MB
    assert "transfer-encoding" not in request.headers
    assert progress[-1][0] == progress[-1][1] == int(request.headers["content-length"])
    assert len(progress) > 5 * MB // (CHUNK_SIZE * 8)  # chunk by chunk, not all at once


# -- what is sent --------------------------------------------------------------------


async def test_a_long_title_is_cut_before_sending(
    client: CheveretoClient, chevereto: CheveretoEmulator
) -> None:
    title = "".join(str(n % 10) for n in range(150))

    media = await client.upload(png(20), key=KEY, options=UploadOptions(title=title))

    assert chevereto.requests[-1].fields["title"] == title[:TITLE_LIMIT]
    assert media.title == title[:TITLE_LIMIT]


async def test_non_ascii_title_tags_and_filename_arrive_intact(
    client: CheveretoClient, chevereto: CheveretoEmulator
) -> None:
    options = UploadOptions(title="Фото «пляж» 日本 🦡", tags=("été", "日本", "straße"))

    await client.upload(png(21, filename="пляж 日本.png"), key=KEY, options=options)

    request = chevereto.requests[-1]
    assert request.fields["title"] == "Фото «пляж» 日本 🦡"
    assert request.fields["tags"] == "été,日本,straße"
    assert request.file_name == "пляж 日本.png"


async def test_every_option_is_sent_and_none_empty(
    client: CheveretoClient, chevereto: CheveretoEmulator
) -> None:
    options = UploadOptions(
        title="t",
        description="d",
        tags=("a", " ", "b"),
        album_id="Alb1",
        category_id="3",
        width=320,
        expiration=parse_expiry("2h"),
        nsfw=True,
    )

    await client.upload(png(22), key=KEY, options=options)
    await client.upload(png(23), key=KEY)  # defaults: nothing but the format

    full, bare = (request.fields for request in chevereto.requests[-2:])
    assert full == {
        "title": "t",
        "description": "d",
        "tags": "a,b",
        "album_id": "Alb1",
        "category_id": "3",
        "width": "320",
        "expiration": "PT2H",
        "nsfw": "1",
        "format": "json",
    }
    assert bare == {"format": "json"}


async def test_key_only_in_the_header_and_no_query_string(
    client: CheveretoClient, chevereto: CheveretoEmulator
) -> None:
    await client.upload(png(24), key=KEY)

    (request,) = chevereto.requests
    assert request.method == "POST"
    assert request.path == "/api/1/upload"
    assert request.query == ""
    assert request.headers["x-api-key"] == USER_KEY
    assert "key" not in request.fields
    assert request.headers["user-agent"].startswith("picloud-bots/")


# -- refusals ------------------------------------------------------------------------


async def test_bad_key(client: CheveretoClient, chevereto: CheveretoEmulator) -> None:
    with pytest.raises(BadKey) as raised:
        await client.upload(png(30), key=SecretStr("chv_1_nottherightkey"))

    assert raised.value.code == 100
    assert upload_requests(chevereto) == 1


async def test_missing_key_sends_nothing(
    client: CheveretoClient, chevereto: CheveretoEmulator
) -> None:
    with pytest.raises(MissingKey):
        await client.upload(png(31), key=SecretStr(""))

    assert chevereto.requests == []


@pytest.mark.parametrize(
    "typo", [f" {USER_KEY}", f"{USER_KEY}\n", f"chv_1_{USER_KEY[6:9]} x", "a\r\nX-Evil: 1", "ключ"]
)
async def test_a_key_with_spaces_or_line_breaks_sends_nothing(
    client: CheveretoClient, chevereto: CheveretoEmulator, typo: str
) -> None:
    with pytest.raises(InvalidApiKey) as raised:
        await client.upload(png(32), key=SecretStr(typo))

    assert chevereto.requests == []
    assert typo.strip() not in str(raised.value)


async def test_request_denied(client: CheveretoClient, chevereto: CheveretoEmulator) -> None:
    chevereto.denied_keys.add(USER_KEY)

    with pytest.raises(RequestDenied):
        await client.upload(png(33), key=KEY)


async def test_duplicate(client: CheveretoClient, chevereto: CheveretoEmulator) -> None:
    await client.upload(png(34), key=KEY)

    with pytest.raises(DuplicateUpload) as raised:
        await client.upload(png(34), key=KEY)

    assert raised.value.code == 101
    assert upload_requests(chevereto) == 2


async def test_flood_is_retried_then_reported(
    client: CheveretoClient, chevereto: CheveretoEmulator
) -> None:
    chevereto.flood_per_minute = 1
    await client.upload(png(35), key=KEY)

    with pytest.raises(FloodLimited) as raised:
        await client.upload(png(36), key=KEY)

    assert raised.value.transient
    assert raised.value.retry_after > 0
    assert upload_requests(chevereto) == 1 + FAST.attempts


async def test_too_big_carries_the_sites_limit(
    client: CheveretoClient, chevereto: CheveretoEmulator, tmp_path: Path
) -> None:
    chevereto.max_upload_mb = 1
    path = big_png_file(tmp_path / "big.png", 1_200_000, seed=37)

    with pytest.raises(TooBig) as raised:
        await client.upload(UploadSource.from_path(path), key=KEY)

    assert raised.value.max_mb == 1
    assert upload_requests(chevereto) == 1


async def test_a_body_dropped_over_post_max_size_is_too_big(
    client: CheveretoClient, chevereto: CheveretoEmulator, tmp_path: Path
) -> None:
    chevereto.post_max_mb = 2
    path = big_png_file(tmp_path / "big.png", 3 * MB, seed=38)

    with pytest.raises(TooBig) as raised:
        await client.upload(UploadSource.from_path(path), key=KEY)

    assert raised.value.max_mb is None
    assert upload_requests(chevereto) == 1


async def test_not_media(client: CheveretoClient, chevereto: CheveretoEmulator) -> None:
    source = UploadSource.from_bytes(b"%PDF-1.7 not an image", "doc.png", "image/png")

    with pytest.raises(NotMedia):
        await client.upload(source, key=KEY)

    assert upload_requests(chevereto) == 1


async def test_empty_file_sends_nothing(
    client: CheveretoClient, chevereto: CheveretoEmulator
) -> None:
    with pytest.raises(EmptyFile):
        await client.upload(UploadSource.from_bytes(b"", "empty.png", "image/png"), key=KEY)

    assert chevereto.requests == []


async def test_a_source_shorter_than_announced_stores_nothing(
    client: CheveretoClient, chevereto: CheveretoEmulator
) -> None:
    data = png_bytes(seed=39)
    source = UploadSource.from_stream(
        lambda: _chunks_of(data), size=len(data) + 10, filename="a.png", content_type="image/png"
    )

    with pytest.raises(InputError, match="fewer bytes"):
        await client.upload(source, key=KEY)

    assert chevereto.uploads == {}


async def test_url_uploads_disabled_for_user_keys(
    client: CheveretoClient, chevereto: CheveretoEmulator
) -> None:
    with pytest.raises(UrlUploadsDisabled):
        await client.upload(RemoteUrl("https://example.com/cat.png"), key=KEY)

    assert chevereto.requests[-1].fields["source"] == "https://example.com/cat.png"


async def test_url_source_with_an_admin_key(
    client: CheveretoClient, chevereto: CheveretoEmulator
) -> None:
    chevereto.admin_keys.add(ADMIN_KEY)

    media = await client.upload(RemoteUrl("https://example.com/dog.png"), key=SecretStr(ADMIN_KEY))

    assert chevereto.fetched_urls == ["https://example.com/dog.png"]
    assert media.media_type is MediaType.IMAGE
    assert chevereto.requests[-1].file_name is None


# -- the host unavailable ----------------------------------------------------------------

PAGE_FAULTS = [
    Fault.HTML_500,
    Fault.MAINTENANCE_503,
    Fault.BAD_GATEWAY_502,
    Fault.DROP,
    Fault.NOT_JSON,
]


@pytest.mark.parametrize("fault", PAGE_FAULTS, ids=lambda fault: fault.value)
async def test_a_passing_fault_is_retried(
    client: CheveretoClient, chevereto: CheveretoEmulator, fault: Fault
) -> None:
    chevereto.fail_next(fault)

    media = await client.upload(png(40 + PAGE_FAULTS.index(fault)), key=KEY)

    assert media.id_encoded in chevereto.uploads
    assert upload_requests(chevereto) == 2


@pytest.mark.parametrize("fault", [*PAGE_FAULTS, Fault.TRUNCATED_JSON], ids=lambda f: f.value)
async def test_a_lasting_fault_is_host_unavailable(
    client: CheveretoClient, chevereto: CheveretoEmulator, fault: Fault
) -> None:
    chevereto.fail_next(fault, times=FAST.attempts)

    with pytest.raises(HostUnavailable) as raised:
        await client.upload(png(50 + len(fault.value)), key=KEY)

    assert raised.value.transient
    assert upload_requests(chevereto) == FAST.attempts


async def test_a_truncated_answer_then_a_retry_meets_the_stored_copy(
    client: CheveretoClient, chevereto: CheveretoEmulator
) -> None:
    # The host stored the file and cut its answer: the retry is a duplicate, and
    # the error says the first try may have gone through.
    chevereto.fail_next(Fault.TRUNCATED_JSON)

    with pytest.raises(DuplicateUpload, match="answer lost"):
        await client.upload(png(60), key=KEY)

    assert len(chevereto.uploads) == 1
    assert upload_requests(chevereto) == 2


async def test_retries_stop_at_the_deadline(
    http: httpx.AsyncClient, chevereto: CheveretoEmulator
) -> None:
    policy = RetryPolicy(
        attempts=1000, deadline_s=0.3, wait_initial_s=0.02, wait_max_s=0.02, wait_jitter_s=0
    )
    client = CheveretoClient(http, chevereto.api_url, retry=policy)
    chevereto.fail_next(Fault.HTML_500, times=1000)
    started = time.monotonic()

    with pytest.raises(HostUnavailable):
        await client.upload(png(61), key=KEY)

    assert time.monotonic() - started < 2.0
    assert 2 <= upload_requests(chevereto) < 100


async def test_an_answer_later_than_the_read_timeout(chevereto: CheveretoEmulator) -> None:
    chevereto.delay_s = 1.0
    chevereto.fail_next(Fault.DELAY)
    timeout = httpx.Timeout(5.0, read=0.2)

    async with make_http_client(timeout=timeout) as http:
        client = CheveretoClient(http, chevereto.api_url, retry=ONCE)
        with pytest.raises(HostUnavailable, match="in time"):
            await client.upload(png(62), key=KEY)


async def test_storage_full_is_not_retried(
    client: CheveretoClient, chevereto: CheveretoEmulator
) -> None:
    chevereto.storage_full = True

    with pytest.raises(HostUnavailable) as raised:
        await client.upload(png(63), key=KEY)

    assert raised.value.code == 104
    assert upload_requests(chevereto) == 1


# -- a wrong endpoint ----------------------------------------------------------------


async def test_a_redirecting_endpoint_is_misconfigured(
    http: httpx.AsyncClient, chevereto: CheveretoEmulator
) -> None:
    client = CheveretoClient(http, chevereto.api_url + "/", retry=FAST)

    with pytest.raises(EndpointMisconfigured, match="PICLOUD_API_URL") as raised:
        await client.upload(png(70), key=KEY)

    assert raised.value.status == 301
    assert [request.method for request in chevereto.requests] == ["POST"]  # not followed


async def test_a_missing_endpoint_is_misconfigured(
    http: httpx.AsyncClient, chevereto: CheveretoEmulator
) -> None:
    client = CheveretoClient(http, chevereto.base_url + "/api/1/uplaod", retry=FAST)

    with pytest.raises(EndpointMisconfigured, match="PICLOUD_API_URL") as raised:
        await client.upload(png(71), key=KEY)

    assert raised.value.status == 404
    assert len(chevereto.requests) == 1


# -- deleting ------------------------------------------------------------------------


async def test_delete_then_delete_again(
    client: CheveretoClient, chevereto: CheveretoEmulator
) -> None:
    media = await client.upload(png(80), key=KEY)

    assert await client.delete(media.delete_url) is DeleteOutcome.DELETED
    assert chevereto.uploads[media.id_encoded].deleted
    assert await client.delete(media.delete_url) is DeleteOutcome.ALREADY_GONE
    assert [request.method for request in chevereto.requests[1:]] == ["GET", "GET"]


async def test_delete_with_a_wrong_secret(
    client: CheveretoClient, chevereto: CheveretoEmulator
) -> None:
    media = await client.upload(png(81), key=KEY)
    wrong = media.delete_url.get_secret_value()[:-6] + "000000"

    assert await client.delete(SecretStr(wrong)) is DeleteOutcome.ALREADY_GONE
    assert not chevereto.uploads[media.id_encoded].deleted


async def test_delete_when_the_host_is_down(
    client: CheveretoClient, chevereto: CheveretoEmulator
) -> None:
    media = await client.upload(png(82), key=KEY)
    await chevereto.stop()

    assert await client.delete(media.delete_url) is DeleteOutcome.FAILED


# -- secrets -------------------------------------------------------------------------


async def test_secrets_never_reach_errors_or_logs(
    client: CheveretoClient, chevereto: CheveretoEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    media = await client.upload(png(90), key=KEY)
    delete_url = media.delete_url.get_secret_value()
    secrets = (USER_KEY, delete_url, delete_url.rsplit("/", 1)[-1])
    errors: list[PicloudError] = []

    async def failing(call: Callable[[], Awaitable[object]]) -> None:
        try:
            await call()
        except PicloudError as error:
            errors.append(error)

    chevereto.fail_next(Fault.HTML_500, times=FAST.attempts)
    await failing(lambda: client.upload(png(91), key=KEY))
    chevereto.fail_next(Fault.DROP, times=FAST.attempts)
    await failing(lambda: client.upload(png(92), key=KEY))
    await failing(lambda: client.upload(png(90), key=KEY))  # duplicate
    chevereto.denied_keys.add(USER_KEY)
    await failing(lambda: client.upload(png(93), key=KEY))
    await failing(lambda: client.upload(png(94), key=SecretStr(USER_KEY + "\n")))
    assert await client.delete(media.delete_url) is DeleteOutcome.DELETED
    await chevereto.stop()
    assert await client.delete(media.delete_url) is DeleteOutcome.FAILED

    assert [type(error) for error in errors] == [
        HostUnavailable,
        HostUnavailable,
        DuplicateUpload,
        RequestDenied,
        InvalidApiKey,
    ]
    texts = [caplog.text, *(record.getMessage() for record in caplog.records)]
    for error in errors:
        texts += [str(error), repr(error), "".join(traceback.format_exception(error))]
    for secret in secrets:
        assert not [text for text in texts if secret in text]
