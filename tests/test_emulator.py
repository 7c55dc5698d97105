"""The Chevereto emulator answers as docs/upload-api.md says, driven by raw httpx."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import signal
import struct
import sys
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes import media
from tests.fakes.chevereto import (
    DAY,
    MINUTE,
    UPLOAD_PATH,
    USER_KEY,
    YEAR,
    CheveretoEmulator,
    Fault,
    expiration_seconds,
    format_bytes,
)

ADMIN_KEY = "chv_2_adminkeyBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
GUEST_KEY = "chv_guest_keyCCCCCCCCCCCCCCCCCCCCCCCCCCCC"
FIXED_NOW = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC

ROOT = Path(__file__).resolve().parent.parent
NOT_BASE64 = (120, "Invalid base64 string")
NO_INFO = (610, "Can't get target upload source info")
BAD_MIME = (612, "Invalid mimetype")

Files = dict[str, tuple[str, bytes, str]]


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def png_source(seed: int = 0, name: str = "photo.png", **size: int) -> Files:
    return {"source": (name, media.png_bytes(seed=seed, **size), "image/png")}


async def upload(
    http: httpx.AsyncClient,
    emulator: CheveretoEmulator,
    files: Files | None = None,
    data: dict[str, str] | None = None,
    key: str | None = USER_KEY,
) -> httpx.Response:
    headers = {"X-API-Key": key} if key is not None else {}
    return await http.post(emulator.api_url, headers=headers, files=files, data=data)


def api_error(response: httpx.Response) -> tuple[int, str]:
    assert response.status_code == 400
    body = response.json()
    assert body["status_code"] == 400
    assert body["status_txt"] == "Bad Request"
    return body["error"]["code"], body["error"]["message"]


def image_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    image: dict[str, Any] = response.json()["image"]
    return image


# --- success --------------------------------------------------------------------------


async def test_upload_answers_the_seed_shape(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient
) -> None:
    content = media.png_bytes(width=30, height=20, seed=1)
    response = await upload(
        client, chevereto, {"source": ("Holiday_pic.png", content, "image/png")}
    )

    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    body = response.json()
    assert body["status_code"] == 200
    assert body["success"] == {"message": "file uploaded", "code": 200}
    assert body["status_txt"] == "OK"
    image = body["image"]
    assert image["checksum"] == md5(content)
    assert (image["size"], image["width"], image["height"]) == (len(content), 30, 20)
    assert (image["type"], image["mime"], image["extension"]) == ("image", "image/png", "png")
    assert image["title"] == "Holiday pic"
    assert image["is_approved"] == 1
    assert image["expiration_date_gmt"] is None
    assert image["medium"]["url"] is None  # too small for a medium size
    assert image["display_url"] == image["url"]
    base = chevereto.base_url
    assert image["url"].startswith(base + "/images/")
    assert image["url"].endswith("/Holiday-pic.png")
    assert image["thumb"]["url"].endswith("/Holiday-pic.th.png")
    assert image["url_viewer"] == f"{base}/image/Holiday-pic.{image['id_encoded']}"
    assert image["path_viewer"] == f"/image/Holiday-pic.{image['id_encoded']}"
    assert image["delete_url"] == chevereto.delete_url(image["id_encoded"])
    assert "frame" not in image and "duration" not in image
    stored = chevereto.uploads[image["id_encoded"]]
    assert (stored.md5, stored.media_type, stored.key) == (image["checksum"], "image", USER_KEY)
    assert stored.image == image


async def test_delete_url_has_a_48_hex_secret(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient
) -> None:
    image = image_of(await upload(client, chevereto, png_source()))
    prefix = f"{chevereto.base_url}/image/{image['id_encoded']}/delete/"
    secret = image["delete_url"].removeprefix(prefix)
    assert len(secret) == 48
    int(secret, 16)


@pytest.mark.parametrize(
    ("content", "mime", "size"),
    [
        (media.png_bytes(width=7, height=3), "image/png", (7, 3)),
        (media.gif_bytes(), "image/gif", (1, 1)),
        (media.jpeg_bytes(width=16, height=8), "image/jpeg", (16, 8)),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(20), "image/webp", (1, 1)),
        (b"BM" + bytes(16) + struct.pack("<ii", 5, -4) + bytes(8), "image/bmp", (5, 4)),
        (b"\x00\x00\x00\x1cftypavif" + bytes(20), "image/avif", (1, 1)),
    ],
)
async def test_images_are_sniffed_from_their_bytes(
    chevereto: CheveretoEmulator,
    client: httpx.AsyncClient,
    content: bytes,
    mime: str,
    size: tuple[int, int],
) -> None:
    # The declared type does not matter as long as it is an image type.
    files = {"source": ("file.bin", content, "image/png")}
    image = image_of(await upload(client, chevereto, files))
    assert (image["mime"], image["type"]) == (mime, "image")
    assert (image["width"], image["height"]) == size


async def test_wide_image_gets_a_medium(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient
) -> None:
    image = image_of(await upload(client, chevereto, png_source(width=600, height=10)))
    assert image["medium"]["url"].endswith(".md.png")
    assert image["display_url"] == image["medium"]["url"]


@pytest.mark.parametrize(
    ("content", "content_type", "mime"),
    [
        (media.mp4_bytes(duration_s=73), "video/mp4", "video/mp4"),
        (media.webm_bytes(), "video/webm", "video/webm"),
        (b"\x00\x00\x00\x14ftypqt  " + bytes(20), "video/quicktime", "video/quicktime"),
    ],
)
async def test_video_part_gets_video_fields(
    chevereto: CheveretoEmulator,
    client: httpx.AsyncClient,
    content: bytes,
    content_type: str,
    mime: str,
) -> None:
    files = {"source": ("Clip.bin", content, content_type)}
    image = image_of(await upload(client, chevereto, files))
    assert (image["type"], image["mime"]) == ("video", mime)
    assert image["medium"]["url"] is None
    assert image["url_frame"] == image["frame"]["url"] == image["display_url"]
    assert image["frame"]["mime"] == "image/jpeg"
    assert image["thumb"]["url"].endswith(".th.jpeg")
    assert image["url_viewer"].startswith(f"{chevereto.base_url}/video/")
    assert image["delete_url"].startswith(f"{chevereto.base_url}/video/")
    assert isinstance(image["duration"], int)
    assert "duration_time" in image


async def test_mp4_duration_is_read(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient
) -> None:
    files = {"source": ("clip.mp4", media.mp4_bytes(duration_s=73), "video/mp4")}
    image = image_of(await upload(client, chevereto, files))
    assert (image["duration"], image["duration_time"]) == (73, "01:13")


# --- links and deletion -------------------------------------------------------------


async def test_links_resolve_until_deleted(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient
) -> None:
    image = image_of(await upload(client, chevereto, png_source(width=600, height=10)))
    links = [image[name] for name in ("url", "url_viewer", "url_short")]
    links += [image["thumb"]["url"], image["medium"]["url"]]
    for link in links:
        assert (await client.get(link)).status_code == 200, link

    deleted = await client.get(image["delete_url"])  # a plain GET deletes

    assert deleted.status_code == 301
    assert deleted.headers["location"] == image["url_viewer"] + "?deleted"
    assert chevereto.uploads[image["id_encoded"]].deleted
    again = await client.get(image["delete_url"])
    assert again.status_code == 404
    assert again.headers["content-type"].startswith("text/html")
    for link in links:
        assert (await client.get(link)).status_code == 404, link


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE", "HEAD", "PUT"])
async def test_any_method_deletes(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient, method: str
) -> None:
    image = image_of(await upload(client, chevereto, png_source()))
    response = await client.request(method, image["delete_url"])
    assert response.status_code == 301
    assert chevereto.uploads[image["id_encoded"]].deleted


async def test_video_delete_link(chevereto: CheveretoEmulator, client: httpx.AsyncClient) -> None:
    files = {"source": ("clip.mp4", media.mp4_bytes(), "video/mp4")}
    image = image_of(await upload(client, chevereto, files))
    assert (await client.post(image["delete_url"])).status_code == 301


@pytest.mark.parametrize("wrong", ["secret", "kind", "id"])
async def test_wrong_delete_link_is_404(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient, wrong: str
) -> None:
    image = image_of(await upload(client, chevereto, png_source()))
    link = image["delete_url"]
    if wrong == "secret":
        link = link[:-1] + ("0" if link[-1] != "0" else "1")
    elif wrong == "kind":
        link = link.replace("/image/", "/video/")
    else:
        link = link.replace(image["id_encoded"], "zzzz")
    response = await client.get(link)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert not chevereto.uploads[image["id_encoded"]].deleted


async def test_unknown_path_is_an_html_404(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient
) -> None:
    for method in ("GET", "POST"):
        response = await client.request(method, chevereto.base_url + "/api/2/nothing")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")


# --- requests and redirects ----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url_tail"),
    [
        ("POST", "/"),
        ("POST", "?format=json"),
        ("GET", f"?key={USER_KEY}&source=https://example.com/a.png"),
        ("GET", "/"),
    ],
)
async def test_non_canonical_upload_urls_are_301(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient, method: str, url_tail: str
) -> None:
    response = await client.request(
        method, chevereto.api_url + url_tail, headers={"X-API-Key": USER_KEY}
    )
    assert response.status_code == 301
    assert response.headers["location"] == chevereto.api_url
    assert chevereto.uploads == {}
    assert chevereto.fetched_urls == []


async def test_post_to_trailing_slash_processes_nothing(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        chevereto.api_url + "/", headers={"X-API-Key": USER_KEY}, files=png_source()
    )
    assert response.status_code == 301
    assert chevereto.uploads == {}


@pytest.mark.parametrize(
    ("headers", "answer"),
    [
        ({}, (100, "No key provided")),
        ({"X-API-Key": USER_KEY}, (130, "Empty upload source")),
    ],
)
async def test_get_without_query_has_no_fields(
    chevereto: CheveretoEmulator,
    client: httpx.AsyncClient,
    headers: dict[str, str],
    answer: tuple[int, str],
) -> None:
    response = await client.get(chevereto.api_url, headers=headers)
    assert api_error(response) == answer


async def test_every_request_is_recorded_in_order(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient
) -> None:
    content = media.png_bytes(seed=3)
    files = {"source": ("a.png", content, "image/png")}
    image = image_of(await upload(client, chevereto, files, data={"title": "T", "key": "k"}))
    await client.get(image["delete_url"])
    await client.get(chevereto.base_url + "/elsewhere?x=1")

    first, second, third = chevereto.requests
    assert (first.method, first.path, first.query) == ("POST", UPLOAD_PATH, "")
    assert first.headers["x-api-key"] == USER_KEY
    assert first.fields == {"title": "T", "key": "k"}
    assert (first.file_name, first.file_content_type) == ("a.png", "image/png")
    assert (first.file_size, first.file_md5) == (len(content), md5(content))
    assert first.remote == "127.0.0.1"
    assert (second.method, second.path) == ("GET", httpx.URL(image["delete_url"]).path)
    assert (third.path, third.query, third.fields) == ("/elsewhere", "x=1", {"x": "1"})


# --- keys -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "fields", "answer"),
    [
        ({}, {}, (100, "No key provided")),
        ({}, {"key": ""}, (100, "No key provided")),
        ({"X-API-Key": ""}, {"key": USER_KEY}, (100, "No key provided")),
        ({"X-API-Key": "chv_nope"}, {}, (100, "Invalid API key.")),
        ({}, {"key": "chv_nope"}, (100, "Invalid API key.")),
        ({"X-API-Key": "chv_nope"}, {"key": USER_KEY}, (100, "Invalid API key.")),
        ({"X-API-Key": "chv_denied"}, {}, (401, "Request denied")),
        ({}, {"key": "chv_denied"}, (401, "Request denied")),
    ],
)
async def test_key_errors(
    chevereto: CheveretoEmulator,
    client: httpx.AsyncClient,
    headers: dict[str, str],
    fields: dict[str, str],
    answer: tuple[int, str],
) -> None:
    chevereto.denied_keys = {"chv_denied"}
    response = await client.post(
        chevereto.api_url, headers=headers, data=fields, files=png_source()
    )
    assert api_error(response) == answer
    assert chevereto.uploads == {}


@pytest.mark.parametrize(
    ("headers", "fields", "used"),
    [
        ({}, {"key": USER_KEY}, USER_KEY),
        ({"X-API-Key": USER_KEY}, {"key": "chv_nope"}, USER_KEY),
        ({"X-API-Key": GUEST_KEY}, {"key": USER_KEY}, GUEST_KEY),
        ({"X-API-Key": ADMIN_KEY}, {}, ADMIN_KEY),
    ],
)
async def test_accepted_keys(
    chevereto: CheveretoEmulator,
    client: httpx.AsyncClient,
    headers: dict[str, str],
    fields: dict[str, str],
    used: str,
) -> None:
    chevereto.guest_key = GUEST_KEY
    chevereto.admin_keys = {ADMIN_KEY}
    response = await client.post(
        chevereto.api_url, headers=headers, data=fields, files=png_source()
    )
    image = image_of(response)
    assert chevereto.uploads[image["id_encoded"]].key == used


# --- sources --------------------------------------------------------------------------


def b64(content: bytes) -> str:
    return base64.b64encode(content).decode()


@pytest.mark.parametrize(
    ("fields", "files", "answer"),
    [
        ({}, None, (130, "Empty upload source")),
        ({"source": ""}, None, (130, "Empty upload source")),
        ({}, {"source": ("empty.png", b"", "image/png")}, (130, "Empty upload source")),
        ({"source": "not base64!"}, None, NOT_BASE64),
        ({"source": b64(b"abcd").rstrip("=")}, None, NOT_BASE64),
        ({"source": "data:image/png;base64," + b64(media.png_bytes())}, None, NOT_BASE64),
        ({"source": base64.urlsafe_b64encode(b"\xfb\xff\xfe").decode()}, None, NOT_BASE64),
        ({"source": "https://example.com/a.png"}, None, (403, "URL uploading is disabled")),
        ({"source": "HTTP://example.com/a.png"}, None, (403, "URL uploading is disabled")),
    ],
)
async def test_source_errors(
    chevereto: CheveretoEmulator,
    client: httpx.AsyncClient,
    fields: dict[str, str],
    files: Files | None,
    answer: tuple[int, str],
) -> None:
    # An empty ``files`` would make httpx send urlencoded; a dummy part keeps it multipart.
    files = files or {"other": ("x.txt", b"x", "text/plain")}
    response = await upload(client, chevereto, files, data=fields)
    assert api_error(response) == answer
    assert chevereto.fetched_urls == []


async def test_base64_source_in_multipart_text_part(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient
) -> None:
    content = media.png_bytes(seed=4)
    # A part without a filename is a text field, even when named "source".
    files = {"source": (None, b64(content).encode(), None)}
    image = image_of(await upload(client, chevereto, files))  # type: ignore[arg-type]
    assert image["checksum"] == md5(content)
    assert image["file"]["resource"]["type"] == "base64"


async def test_base64_source_in_urlencoded_body(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient
) -> None:
    content = media.gif_bytes()
    image = image_of(await upload(client, chevereto, data={"source": b64(content)}))
    assert image["mime"] == "image/gif"


async def test_url_source_for_admin_is_recorded_not_fetched(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient
) -> None:
    chevereto.admin_keys = {ADMIN_KEY}
    url = "https://example.invalid/pics/cat.jpg"
    image = image_of(await upload(client, chevereto, data={"source": url}, key=ADMIN_KEY))
    assert chevereto.fetched_urls == [url]
    assert (image["mime"], image["file"]["resource"]["type"]) == ("image/png", "url")
    assert image["original_filename"] == "cat.jpg"
    # Same URL, same pretend content: a duplicate.
    again = await upload(client, chevereto, data={"source": url}, key=ADMIN_KEY)
    assert api_error(again) == (101, "Duplicated upload")


async def test_url_source_open_to_users_when_configured(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient
) -> None:
    chevereto.url_uploads_admin_only = False
    image_of(await upload(client, chevereto, data={"source": "http://example.invalid/x.png"}))
    assert chevereto.fetched_urls == ["http://example.invalid/x.png"]


@pytest.mark.parametrize(
    ("content", "content_type", "answer"),
    [
        (b"hello, not an image", "application/octet-stream", NO_INFO),
        (b"hello, not an image", "text/plain", NO_INFO),
        (b"hello, not an image", "image/png", BAD_MIME),
        (b"hello, not a video", "video/mp4", BAD_MIME),
        (media.png_bytes(), "video/mp4", BAD_MIME),
        (media.mp4_bytes(), "image/jpeg", BAD_MIME),
        (media.mp4_bytes(), "application/octet-stream", NO_INFO),
    ],
)
async def test_media_errors(
    chevereto: CheveretoEmulator,
    client: httpx.AsyncClient,
    content: bytes,
    content_type: str,
    answer: tuple[int, str],
) -> None:
    files = {"source": ("file.bin", content, content_type)}
    assert api_error(await upload(client, chevereto, files)) == answer


# --- size -----------------------------------------------------------------------------


def test_size_limit_message_uses_chevereto_units() -> None:
    assert format_bytes(50 * 1000 * 1000) == "50 MB"
    assert format_bytes(10 * 1000 * 1000) == "10 MB"
    assert format_bytes(3011299) == "3 MB"
    assert format_bytes(2522) == "2.5 KB"
    assert format_bytes(999) == "999 B"


async def test_file_too_big(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    chevereto.max_upload_mb = 1
    big = media.big_png_file(tmp_path / "big.png", 1_000_001)
    with big.open("rb") as handle:
        response = await upload(client, chevereto, {"source": ("big.png", handle, "image/png")})  # type: ignore[dict-item]
    assert api_error(response) == (400, "File too big - max 1 MB")
    exact = media.big_png_file(tmp_path / "exact.png", 1_000_000)
    with exact.open("rb") as handle:
        image_of(await upload(client, chevereto, {"source": ("ok.png", handle, "image/png")}))  # type: ignore[dict-item]


async def test_guest_key_has_its_own_limit(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    chevereto.guest_key = GUEST_KEY
    chevereto.guest_max_upload_mb = 0.001
    content = media.big_png_file(tmp_path / "p.png", 1001, seed=5).read_bytes()
    files = {"source": ("p.png", content, "image/png")}
    assert api_error(await upload(client, chevereto, files, key=GUEST_KEY)) == (
        400,
        "File too big - max 1 KB",
    )
    image_of(await upload(client, chevereto, files, key=USER_KEY))


@pytest.mark.parametrize(
    ("key_in", "answer"),
    [("header", (130, "Empty upload source")), ("field", (100, "No key provided"))],
)
async def test_body_over_post_max_is_dropped(
    chevereto: CheveretoEmulator,
    client: httpx.AsyncClient,
    tmp_path: Path,
    key_in: str,
    answer: tuple[int, str],
) -> None:
    chevereto.post_max_mb = 0.01  # 10 KiB
    big = media.big_png_file(tmp_path / "big.png", 20_000)
    headers = {"X-API-Key": USER_KEY} if key_in == "header" else {}
    data = {"key": USER_KEY} if key_in == "field" else {}
    with big.open("rb") as handle:
        response = await client.post(
            chevereto.api_url,
            headers=headers,
            data=data,
            files={"source": ("big.png", handle, "image/png")},
        )
    assert api_error(response) == answer
    assert chevereto.requests[-1].file_size == 20_000  # received, then dropped


async def test_post_max_applies_to_chunked_bodies(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    chevereto.post_max_mb = 0.01  # 10 KiB
    content = media.big_png_file(tmp_path / "p.png", 20_000, seed=6).read_bytes()
    request = client.build_request(
        "POST", chevereto.api_url, headers={"X-API-Key": USER_KEY}, files=png_source()
    )
    boundary = request.headers["content-type"].split("boundary=")[1]
    body = _multipart(boundary, "big.png", content)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    response = await client.post(
        chevereto.api_url,
        headers={
            "X-API-Key": USER_KEY,
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
        content=chunks(),
    )
    assert "content-length" not in chevereto.requests[-1].headers
    assert api_error(response) == (130, "Empty upload source")


def _multipart(boundary: str, filename: str, content: bytes) -> bytes:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="source"; filename="{filename}"'
        "\r\nContent-Type: image/png\r\n\r\n"
    )
    return head.encode() + content + f"\r\n--{boundary}--\r\n".encode()


async def test_big_upload_is_streamed_not_buffered(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    size = 24 * 1000 * 1000
    big = media.big_png_file(tmp_path / "big.png", size, seed=7)
    digest = md5(big.read_bytes())
    tracemalloc.start()
    try:
        with big.open("rb") as handle:
            files = {"source": ("big.png", handle, "image/png")}
            response = await upload(client, chevereto, files)  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    image = image_of(response)
    assert (image["size"], image["checksum"]) == (size, digest)
    assert peak < 8 * 1000 * 1000  # client and server together, for a 24 MB file


# --- duplicates, flood, storage ---------------------------------------------------------


async def test_duplicate_from_the_same_ip(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient
) -> None:
    now = [FIXED_NOW]
    chevereto.clock = lambda: now[0]
    first = image_of(await upload(client, chevereto, png_source(seed=8, name="a.png")))
    repeat = await upload(client, chevereto, png_source(seed=8, name="b.png"))
    assert api_error(repeat) == (101, "Duplicated upload")

    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(transport=transport) as other_ip:
        image_of(await upload(other_ip, chevereto, png_source(seed=8)))

    now[0] += DAY
    image_of(await upload(client, chevereto, png_source(seed=8)))
    assert first["id_encoded"] in chevereto.uploads


async def test_deleted_upload_no_longer_counts_as_duplicate(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient
) -> None:
    first = image_of(await upload(client, chevereto, png_source(seed=9)))
    assert (await client.get(first["delete_url"])).status_code == 301
    image_of(await upload(client, chevereto, png_source(seed=9)))


async def test_flood_limit_per_rolling_minute(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient
) -> None:
    now = [FIXED_NOW]
    chevereto.clock = lambda: now[0]
    chevereto.flood_per_minute = 3
    garbage = {"source": ("x.bin", b"garbage", "application/octet-stream")}
    assert api_error(await upload(client, chevereto, garbage))[0] == 610  # attempts count
    image_of(await upload(client, chevereto, png_source(seed=10)))
    now[0] += 30
    image_of(await upload(client, chevereto, png_source(seed=11)))

    flooded = await upload(client, chevereto, png_source(seed=12))

    assert api_error(flooded) == (
        130,
        "Flooding detected. You can only upload 3 image(s) per minute",
    )
    assert "retry-after" not in flooded.headers
    now[0] += 30  # the first two attempts leave the window
    image_of(await upload(client, chevereto, png_source(seed=12)))


async def test_storage_full(chevereto: CheveretoEmulator, client: httpx.AsyncClient) -> None:
    chevereto.storage_full = True
    assert api_error(await upload(client, chevereto, png_source())) == (
        104,
        "No space left on storage",
    )
    chevereto.storage_full = False
    image_of(await upload(client, chevereto, png_source()))


# --- fields ---------------------------------------------------------------------------

PRESETS = {
    "PT5M": 5 * MINUTE,
    "PT15M": 15 * MINUTE,
    "PT30M": 30 * MINUTE,
    "PT1H": 60 * MINUTE,
    "PT3H": 3 * 60 * MINUTE,
    "PT6H": 6 * 60 * MINUTE,
    "PT12H": 12 * 60 * MINUTE,
    **{f"P{n}D": n * DAY for n in range(1, 7)},
    **{f"P{n}W": n * 7 * DAY for n in range(1, 4)},
    **{f"P{n}M": n * 30 * DAY for n in range(1, 7)},
    "P1Y": YEAR,
}


@pytest.mark.parametrize(("value", "seconds"), PRESETS.items())
def test_expiration_presets(value: str, seconds: int) -> None:
    assert expiration_seconds(value) == seconds


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("PT90M", 90 * MINUTE),
        ("P1DT2H", DAY + 2 * 60 * MINUTE),
        ("PT1M", 5 * MINUTE),
        ("PT0S", 5 * MINUTE),
        ("P2Y", YEAR),
        ("P13M", YEAR),
        ("tomorrow", 5 * MINUTE),
        ("p1d", 5 * MINUTE),
        ("P", 5 * MINUTE),
        ("PT", 5 * MINUTE),
        ("10m", 5 * MINUTE),
    ],
)
def test_expiration_clamped_or_five_minutes(value: str, seconds: int) -> None:
    assert expiration_seconds(value) == seconds


@pytest.mark.parametrize(
    ("value", "date"),
    [
        ("P1D", "2023-11-15 22:13:20"),
        ("PT1M", "2023-11-14 22:18:20"),
        ("P5Y", "2024-11-13 22:13:20"),
        ("garbage", "2023-11-14 22:18:20"),
    ],
)
async def test_expiration_date_in_answer(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient, value: str, date: str
) -> None:
    chevereto.clock = lambda: FIXED_NOW
    image = image_of(await upload(client, chevereto, png_source(), data={"expiration": value}))
    assert image["expiration_date_gmt"] == date
    assert image["date_gmt"] == "2023-11-14 22:13:20"
    assert "/images/2023/11/14/" in image["url"]


async def test_optional_fields(chevereto: CheveretoEmulator, client: httpx.AsyncClient) -> None:
    fields = {
        "title": "x" * 150,
        "description": "About it",
        "tags": "cats, , dogs,cats," + "t" * 33 + ",ok",
        "nsfw": "1",
        "width": "10",
        "album_id": "abcd",
        "category_id": "3",
    }
    image = image_of(await upload(client, chevereto, png_source(width=30, height=20), data=fields))
    assert image["title"] == "x" * 100
    assert image["description"] == "About it"
    assert [tag["name"] for tag in image["tags"]] == ["cats", "dogs", "ok"]
    assert image["tags_string"] == "cats,dogs,ok"
    assert image["nsfw"] == 1
    assert (image["width"], image["height"]) == (10, 7)
    assert image["category_id"] is None
    stored = chevereto.uploads[image["id_encoded"]]
    assert stored.fields["album_id"] == "abcd"
    assert len(stored.title) == 100


async def test_empty_and_zero_fields_are_dropped(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient
) -> None:
    fields = {"title": "", "nsfw": "0", "width": "0", "expiration": "", "format": "", "tags": "0"}
    image = image_of(
        await upload(
            client, chevereto, png_source(name="Sea_view.png", width=30, height=20), data=fields
        )
    )
    assert image["title"] == "Sea view"
    assert (image["nsfw"], image["width"], image["expiration_date_gmt"]) == (0, 30, None)
    assert image["tags"] == []
    assert chevereto.uploads[image["id_encoded"]].fields == {}


async def test_width_never_upscales(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient
) -> None:
    image = image_of(
        await upload(client, chevereto, png_source(width=8, height=4), data={"width": "50"})
    )
    assert (image["width"], image["height"]) == (8, 4)


async def test_looping_gif_is_animated(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient
) -> None:
    still = media.gif_bytes()
    # The NETSCAPE2.0 loop extension goes after the header and palette (19 bytes).
    looping = still[:19] + b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00" + still[19:]
    for content, animated in ((still, 0), (looping, 1)):
        files = {"source": ("a.gif", content, "image/gif")}
        assert image_of(await upload(client, chevereto, files))["is_animated"] == animated


async def test_same_name_twice_gets_distinct_files(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient
) -> None:
    first = image_of(await upload(client, chevereto, png_source(seed=13, name="same.png")))
    second = image_of(await upload(client, chevereto, png_source(seed=14, name="same.png")))
    assert first["url"] != second["url"]
    await client.get(first["delete_url"])
    assert (await client.get(second["url"])).status_code == 200


# --- formats, gzip, moderation ------------------------------------------------------------


async def test_format_txt(chevereto: CheveretoEmulator, client: httpx.AsyncClient) -> None:
    response = await upload(client, chevereto, png_source(), data={"format": "txt"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    (stored,) = chevereto.uploads.values()
    assert response.text == stored.image["url"]


async def test_format_redirect(chevereto: CheveretoEmulator, client: httpx.AsyncClient) -> None:
    response = await upload(client, chevereto, png_source(), data={"format": "redirect"})
    assert response.status_code == 302
    (stored,) = chevereto.uploads.values()
    assert response.headers["location"] == stored.image["path_viewer"]
    assert response.headers["location"].startswith("/image/")


@pytest.mark.parametrize("answer_format", ["txt", "redirect"])
@pytest.mark.parametrize(
    ("key", "message"), [(None, "No key provided"), ("chv_nope", "Invalid API key.")]
)
async def test_text_formats_answer_errors_as_200_text(
    chevereto: CheveretoEmulator,
    client: httpx.AsyncClient,
    answer_format: str,
    key: str | None,
    message: str,
) -> None:
    response = await upload(
        client, chevereto, png_source(), data={"format": answer_format}, key=key
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == message


async def test_text_format_duplicate_error(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient
) -> None:
    await upload(client, chevereto, png_source(seed=15))
    response = await upload(client, chevereto, png_source(seed=15), data={"format": "txt"})
    assert (response.status_code, response.text) == (200, "Duplicated upload")


async def test_gzip_when_accepted(chevereto: CheveretoEmulator, client: httpx.AsyncClient) -> None:
    chevereto.gzip = True
    response = await upload(client, chevereto, png_source(seed=16))
    assert response.headers["content-encoding"] == "gzip"
    assert image_of(response)["type"] == "image"
    error = await upload(client, chevereto, png_source(seed=16))
    assert error.headers["content-encoding"] == "gzip"
    assert api_error(error) == (101, "Duplicated upload")

    plain = await client.post(
        chevereto.api_url, headers={"X-API-Key": USER_KEY, "Accept-Encoding": "identity"}
    )
    assert "content-encoding" not in plain.headers
    assert api_error(plain) == (130, "Empty upload source")


async def test_moderation_hides_urls(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient
) -> None:
    chevereto.moderation = True
    image = image_of(await upload(client, chevereto, png_source()))
    assert image["is_approved"] == 0
    for name in ("url", "url_viewer", "url_short", "display_url", "thumb", "medium", "image"):
        assert name not in image
    assert image["delete_url"] == chevereto.delete_url(image["id_encoded"])
    assert image["checksum"] and image["id_encoded"]


# --- faults -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        (Fault.HTML_500, 500),
        (Fault.MAINTENANCE_503, 503),
        (Fault.BAD_GATEWAY_502, 502),
        (Fault.NOT_JSON, 200),
    ],
)
async def test_html_faults(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient, fault: Fault, status: int
) -> None:
    chevereto.fail_next(fault)
    response = await upload(client, chevereto, png_source())
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert chevereto.uploads == {}
    image_of(await upload(client, chevereto, png_source()))  # one fault, one request


async def test_faults_are_fifo(chevereto: CheveretoEmulator, client: httpx.AsyncClient) -> None:
    chevereto.fail_next(Fault.BAD_GATEWAY_502, times=2)
    chevereto.fail_next(Fault.HTML_500)
    statuses = [(await upload(client, chevereto, png_source())).status_code for _ in range(4)]
    assert statuses == [502, 502, 500, 200]
    assert not chevereto.faults


async def test_drop_is_a_connection_error(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient
) -> None:
    chevereto.fail_next(Fault.DROP)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        await upload(client, chevereto, png_source())
    assert chevereto.uploads == {}
    image_of(await upload(client, chevereto, png_source()))


async def test_truncated_json_after_storing(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient
) -> None:
    chevereto.fail_next(Fault.TRUNCATED_JSON)
    response = await upload(client, chevereto, png_source(seed=17))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert response.text.startswith('{"status_code": 200')
    assert len(chevereto.uploads) == 1  # processed: a retry meets a duplicate
    assert api_error(await upload(client, chevereto, png_source(seed=17)))[0] == 101


async def test_delay_then_normal_answer(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient
) -> None:
    chevereto.delay_s = 0.2
    chevereto.fail_next(Fault.DELAY)
    started = time.monotonic()
    image_of(await upload(client, chevereto, png_source()))
    assert time.monotonic() - started >= 0.2


async def test_delay_trips_client_timeouts(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient
) -> None:
    chevereto.delay_s = 0.3
    chevereto.fail_next(Fault.DELAY)
    with pytest.raises(httpx.ReadTimeout):
        await client.post(
            chevereto.api_url,
            headers={"X-API-Key": USER_KEY},
            files=png_source(),
            timeout=0.05,
        )


async def test_latency_delays_every_upload_answer(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient
) -> None:
    chevereto.latency_s = 0.2
    for key, check in ((USER_KEY, image_of), ("chv_wrong_keyZZZZZZZZZZZZ", api_error)):
        started = time.monotonic()
        check(await upload(client, chevereto, png_source(seed=40), key=key))
        assert time.monotonic() - started >= 0.2
    started = time.monotonic()
    assert (await client.get(chevereto.base_url + "/")).status_code == 404
    assert time.monotonic() - started < 0.2  # only upload answers are late


async def test_faults_only_hit_the_upload_endpoint(
    chevereto: CheveretoEmulator, client: httpx.AsyncClient
) -> None:
    chevereto.fail_next(Fault.HTML_500)
    assert (await client.get(chevereto.base_url + "/")).status_code == 404
    assert (await upload(client, chevereto, png_source())).status_code == 500


# --- media fixtures and standalone -------------------------------------------------------


def _png_chunks(data: bytes) -> list[bytes]:
    """Chunk types of a PNG, checking every CRC on the way."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    kinds, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        kinds.append(kind)
        pos += 12 + length
    return kinds


def test_media_fixtures(tmp_path: Path) -> None:
    assert media.png_bytes(seed=1) != media.png_bytes(seed=2)
    assert media.mp4_bytes(seed=1) != media.mp4_bytes(seed=2)
    assert _png_chunks(media.png_bytes(5, 4)) == [b"IHDR", b"IDAT", b"IEND"]
    big = media.big_png_file(tmp_path / "b.png", 100_000, seed=3)
    assert big.stat().st_size == 100_000
    assert _png_chunks(big.read_bytes()) == [b"IHDR", b"IDAT", b"paDd", b"IEND"]
    with pytest.raises(ValueError, match="at least"):
        media.big_png_file(tmp_path / "tiny.png", 10)


async def test_standalone_process(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.chevereto",
        "--port",
        "0",
        "--key",
        "chv_9_standaloneDDDDDDDDDDDDDDDDDDDDDDDDD",
        "--latency-ms",
        "1",
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 10)
        ready, base_url = line.decode().split()
        assert ready == "READY"
        async with httpx.AsyncClient() as http:
            response = await http.post(
                base_url + UPLOAD_PATH,
                headers={"X-API-Key": "chv_9_standaloneDDDDDDDDDDDDDDDDDDDDDDDDD"},
                files=png_source(),
            )
        image_of(response)
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0
