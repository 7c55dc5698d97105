"""An emulator of a Chevereto V4 site's upload API (API V1.1), for tests and benchmarks.

It answers as ``docs/upload-api.md`` says the real server does, errors and all, over
real HTTP on 127.0.0.1 (aiohttp). Nothing is fetched from the network and no file
is kept: an upload is hashed and sniffed on the fly, in chunks, and only its
metadata is stored, so eight concurrent 50 MB uploads cost a few MB.

Routes
    ``/api/1/upload``            any method; POST bodies are read (multipart or
                                 urlencoded), other methods carry no fields, as
                                 with PHP's ``$_POST``
    ``/api/1/upload/``, or any query string on the upload path
                                 301 to ``/api/1/upload``, nothing processed
    ``/{image|video}/{id}/delete/{secret}``
                                 any method deletes: 301 to ``{url_viewer}?deleted``,
                                 404 HTML when wrong or already deleted
    ``/{image|video}/{slug}.{id}`` viewer page (GET), 404 once deleted
    ``/images/YYYY/MM/DD/...``   direct, thumb, medium and frame files (GET): a tiny
                                 placeholder of the right type, 404 once deleted
    anything else                404 HTML page

The upload checks run in this order; the first failure is the answer:
    body over ``post_max_mb`` (PHP drops it: no fields, no file) -> key
    (``X-API-Key`` header, even empty, else the ``key`` field) -> source -> flood ->
    media sniffing -> size -> duplicate -> storage.

Knobs (constructor arguments, all plain attributes, settable between requests)
    user_keys, admin_keys, guest_key
        valid keys; admin keys may upload URL sources, the guest key gets
        ``guest_max_upload_mb`` instead of ``max_upload_mb``.
    denied_keys       answered ``Request denied`` (code 401), known or not.
    max_upload_mb, guest_max_upload_mb
        the site's limit, in Chevereto's decimal megabytes (10**6 bytes); the error
        reads ``File too big - max 50 MB`` (Chevereto's byte formatter, so a limit
        of 0.1 reads ``max 100 KB``).
    post_max_mb       PHP's ``post_max_size`` in PHP's binary megabytes (2**20);
                      ``None`` = no limit.
    flood_per_minute  uploads per client IP per rolling minute (code 130).
    url_uploads_admin_only
                      URL sources from non-admin keys get ``URL uploading is
                      disabled`` (code 403).
    storage_full      every upload gets ``No space left on storage`` (code 104).
    gzip              JSON answers are gzip-compressed when the client accepts it.
    moderation        uploads get ``is_approved: 0`` and their URL fields are removed
                      from the JSON answer (``delete_url`` stays).
    clock             ``time.time`` by default; tests move time for the 24 h
                      duplicate window, the flood minute and expiration dates.
    faults, delay_s   see :class:`Fault`; ``fail_next(fault, times)`` queues faults.

Inspection: ``requests`` (every request, any path, in arrival order), ``uploads``
(by ``id_encoded``, deleted ones included), ``fetched_urls``, ``delete_url(id)``.

Deliberate simplifications
    - Media type comes from magic numbers (jpeg png gif webp bmp avif; mp4/mov by
      the ``ftyp`` box, webm by the EBML header). As on the real server, only a
      ``video/*`` part Content-Type selects video handling: a video sent with any
      other type (or as base64) is refused like a non-image, 610, or 612 when the
      part claimed ``image/*``. A declared type whose bytes are not that kind of
      media is 612 ``Invalid mimetype``; undeclared garbage is 610.
    - Width and height are read from PNG, GIF, BMP and JPEG headers, otherwise 1x1
      (videos included). A video's duration comes from an MP4 ``mvhd`` box found in
      its first 64 KB, else 0. A GIF is animated when it has a NETSCAPE2.0 loop.
    - ``width`` resizes the reported size of still images only (not GIF
      animations, not videos). ``album_id`` and ``category_id`` are ignored
      (``category_id`` is answered null), as for a key whose user owns no album.
    - Tags: comma separated, trimmed; empty ones and ones over 32 characters are
      dropped, repeats removed. Answered as ``[{"name", "url"}]``.
    - ``expiration``: any valid ISO 8601 duration (the presets PT5M ... P1Y among
      them) counted with a month of 30 days and a year of 365, clamped to
      [5 minutes, 1 year]; an invalid one silently becomes 5 minutes. Nothing is
      ever removed on expiry (the real removal is a cron job).
    - Duplicates: same md5 from the same IP within 24 h among non-deleted uploads.
    - Flood: every upload that reaches the flood check counts, whatever its
      outcome; the refused ones do not. Only the per-minute limit is modelled.
    - URL sources (admin keys) are not fetched: the URL is recorded in
      ``fetched_urls`` and stands for a small PNG derived from the URL, so the same
      URL twice is a duplicate.
    - Video viewer and delete links use ``/video/`` (as upload-api.md says), not
      the seed's ``/clip/``. File names get ``.{id}`` appended on a clash.
    - ``format=txt`` and ``format=redirect`` ignore ``moderation``.
    - Faults apply to requests to the upload path (trailing slash and query forms
      included), before anything else. HTML_500, BAD_GATEWAY_502,
      MAINTENANCE_503, NOT_JSON and DROP read the body and process nothing.
      DELAY and TRUNCATED_JSON process the upload as usual (it is stored), then
      answer late or cut: a client that retries meets ``Duplicated upload``,
      exactly as with a real slow or broken server.

Run standalone (the benchmark does): ``python -m tests.fakes.chevereto --port 0
--key chv_...`` prints ``READY http://127.0.0.1:PORT`` once listening and serves
until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import enum
import gzip
import hashlib
import hmac
import html
import json
import mimetypes
import re
import secrets
import signal
import struct
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from aiohttp import BodyPartReader, web

from tests.fakes import media
from tests.fakes.server import LocalServer

USER_KEY = "chv_1_testkeyAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
UPLOAD_PATH = "/api/1/upload"

MB = 1000 * 1000  # Chevereto's megabyte
MIB = 1024 * 1024  # PHP's "M" in post_max_size
MINUTE = 60
DAY = 24 * 60 * MINUTE
YEAR = 365 * DAY
SHORTEST_EXPIRY = 5 * MINUTE

READ_CHUNK = 256 * 1024
SNIFF_BYTES = 64 * 1024
TITLE_LIMIT = 100
TAG_LIMIT = 32
MEDIUM_WIDTH = 500
FORMATS = ("json", "txt", "redirect")


class Fault(enum.Enum):
    """A failure from outside the API, applied to the next upload request."""

    HTML_500 = "html_500"
    MAINTENANCE_503 = "maintenance_503"
    BAD_GATEWAY_502 = "bad_gateway_502"
    DELAY = "delay"
    DROP = "drop"
    TRUNCATED_JSON = "truncated_json"
    NOT_JSON = "not_json"


@dataclass
class RecordedRequest:
    """One request as the emulator received it (any path)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]  # names lower-cased
    fields: dict[str, str] = field(default_factory=dict)
    file_name: str | None = None
    file_content_type: str | None = None
    file_size: int | None = None
    file_md5: str | None = None
    remote: str = ""


@dataclass
class StoredUpload:
    """An accepted upload. ``image`` is the full JSON ``image`` object as built."""

    id_encoded: str
    md5: str
    size: int
    mime: str
    media_type: str  # "image" | "video"
    title: str
    delete_secret: str
    key: str | None
    fields: dict[str, str]  # effective fields, without "key" and "source"
    expiration_seconds: int | None
    remote: str
    uploaded_at: float
    image: dict[str, Any] = field(repr=False)
    deleted: bool = False


class ApiError(Exception):
    """An API error: HTTP 400 with ``error.code`` and ``error.message`` (or text)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- media sniffing ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MediaType:
    mime: str
    extension: str
    kind: str  # "image" | "video"


def sniff(head: bytes) -> MediaType | None:
    """The media type of a file from its first bytes, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return MediaType("image/jpeg", "jpg", "image")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return MediaType("image/png", "png", "image")
    if head.startswith((b"GIF87a", b"GIF89a")):
        return MediaType("image/gif", "gif", "image")
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return MediaType("image/webp", "webp", "image")
    if head.startswith(b"BM") and len(head) >= 26:
        return MediaType("image/bmp", "bmp", "image")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return MediaType("video/webm", "webm", "video")
    if head[4:8] == b"ftyp":
        return _sniff_ftyp(head[8:12])
    return None


def _sniff_ftyp(brand: bytes) -> MediaType:
    if brand in (b"avif", b"avis"):
        return MediaType("image/avif", "avif", "image")
    if brand == b"qt  ":
        return MediaType("video/quicktime", "mov", "video")
    return MediaType("video/mp4", "mp4", "video")


def dimensions(found: MediaType, head: bytes) -> tuple[int, int]:
    """Width and height from the header when cheap to read, else 1x1."""
    size: tuple[int, int] | None = None
    if found.mime == "image/png" and len(head) >= 24:
        size = struct.unpack(">II", head[16:24])
    elif found.mime == "image/gif" and len(head) >= 10:
        size = struct.unpack("<HH", head[6:10])
    elif found.mime == "image/bmp":
        width, height = struct.unpack("<ii", head[18:26])
        size = (width, abs(height))
    elif found.mime == "image/jpeg":
        size = _jpeg_dimensions(head)
    return size if size and size[0] > 0 and size[1] > 0 else (1, 1)


def _jpeg_dimensions(head: bytes) -> tuple[int, int] | None:
    """Walk the JPEG segments up to the first SOFn marker."""
    pos = 2
    while pos + 9 < len(head) and head[pos] == 0xFF:
        marker = head[pos + 1]
        (length,) = struct.unpack(">H", head[pos + 2 : pos + 4])
        # SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", head[pos + 5 : pos + 9])
            return width, height
        pos += 2 + length
    return None


def mp4_duration(head: bytes) -> int:
    """Seconds from an ``mvhd`` box in the first bytes, else 0 (moov at the end)."""
    at = head.find(b"mvhd")
    if at < 0:
        return 0
    body = head[at + 4 :]
    if body[:1] == b"\x01" and len(body) >= 32:
        timescale, duration = struct.unpack(">IQ", body[20:32])
    elif len(body) >= 20:
        timescale, duration = struct.unpack(">II", body[12:20])
    else:
        return 0
    return round(duration / timescale) if timescale else 0


def is_animated(found: MediaType, head: bytes) -> bool:
    return found.mime == "image/gif" and b"NETSCAPE2.0" in head


# --- field parsing -------------------------------------------------------------------

_ISO_DURATION = re.compile(
    r"^P(?!$)(?:(?P<Y>\d+)Y)?(?:(?P<MO>\d+)M)?(?:(?P<W>\d+)W)?(?:(?P<D>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<H>\d+)H)?(?:(?P<MI>\d+)M)?(?:(?P<S>\d+)S)?)?$"
)
_ISO_UNIT_SECONDS = {
    "Y": YEAR,
    "MO": 30 * DAY,
    "W": 7 * DAY,
    "D": DAY,
    "H": 60 * MINUTE,
    "MI": MINUTE,
    "S": 1,
}
# Padding required, standard alphabet only: what the server's check accepts.
_STRICT_BASE64 = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")
_URL_SOURCE = re.compile(r"^https?://", re.IGNORECASE)
_NOT_SLUG = re.compile(r"[^A-Za-z0-9]+")


def expiration_seconds(value: str | None) -> int | None:
    """Seconds until expiry for an ``expiration`` field, as the server reads it."""
    if value is None:
        return None
    match = _ISO_DURATION.match(value)
    if match is None:
        return SHORTEST_EXPIRY
    seconds = sum(
        int(count) * _ISO_UNIT_SECONDS[unit]
        for unit, count in match.groupdict().items()
        if count is not None
    )
    return min(max(seconds, SHORTEST_EXPIRY), YEAR)


def parse_tags(value: str | None) -> list[str]:
    tags: list[str] = []
    for raw in (value or "").split(","):
        tag = raw.strip()
        if tag and len(tag) <= TAG_LIMIT and tag not in tags:
            tags.append(tag)
    return tags


def slugify(text: str, limit: int = 100) -> str:
    return _NOT_SLUG.sub("-", text).strip("-")[:limit].strip("-")


def title_from_filename(filename: str) -> str:
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    return " ".join(stem.replace("_", " ").split())


def format_bytes(size: float) -> str:
    """Chevereto's byte formatter: decimal units, one decimal, no trailing ``.0``."""
    if size < 1000:
        return f"{size:g} B"
    for power, unit in enumerate(("KB", "MB", "GB"), start=1):
        scaled = size / 1000**power
        if scaled < 1000:
            return f"{round(scaled, 1):g} {unit}"
    return f"{round(size / 1000**4, 1):g} TB"


def duration_time(seconds: int) -> str:
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def gmt(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ID_SPACE = 62**4


def encode_id(number: int) -> str:
    """A short id like Chevereto's: the counter scrambled, in base 62."""
    # 7368787 is coprime with 62**4: the first 62**4 numbers all get distinct ids.
    value = (number * 7368787) % _ID_SPACE
    digits = ""
    while True:
        value, digit = divmod(value, 62)
        digits = _ID_ALPHABET[digit] + digits
        if not value:
            return digits.rjust(4, "0")


# --- reading the request ---------------------------------------------------------------


@dataclass(slots=True)
class Source:
    """The upload source after the body was read: metadata and the first bytes."""

    filename: str
    content_type: str | None
    size: int
    md5: str
    head: bytes
    resource: str  # "file" | "url" | "base64"

    @classmethod
    def from_bytes(cls, data: bytes, filename: str, resource: str) -> Source:
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        return cls(filename, None, len(data), md5, data[:SNIFF_BYTES], resource)


async def read_file_part(part: BodyPartReader) -> Source:
    """Hash and measure a file part chunk by chunk, keeping only its head."""
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    head = bytearray()
    while chunk := await part.read_chunk(READ_CHUNK):
        digest.update(chunk)
        size += len(chunk)
        if len(head) < SNIFF_BYTES:
            head += chunk[: SNIFF_BYTES - len(head)]
    content_type = part.headers.get("Content-Type")
    return Source(part.filename or "", content_type, size, digest.hexdigest(), bytes(head), "file")


async def read_form(request: web.Request) -> tuple[dict[str, str], Source | None]:
    """Text fields and the ``source`` file part, as PHP fills $_POST and $_FILES."""
    if request.method != "POST":
        # PHP parses no other body; a query string never gets here (it is a 301).
        await request.release()
        return {}, None
    if request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        return {name: value for name, value in form.items() if isinstance(value, str)}, None
    if request.content_type != "multipart/form-data":
        await request.release()
        return {}, None
    fields: dict[str, str] = {}
    source: Source | None = None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            await part.release()  # a nested multipart: PHP ignores it too
        elif part.filename is None:
            fields[part.name or ""] = await part.text()
        elif part.name == "source":
            source = await read_file_part(part)
        else:
            await part.release()
    return fields, source


def record_form(record: RecordedRequest, fields: dict[str, str], source: Source | None) -> None:
    record.fields = dict(fields)
    if source is not None:
        record.file_name = source.filename
        record.file_content_type = source.content_type
        record.file_size = source.size
        record.file_md5 = source.md5


# --- pages --------------------------------------------------------------------------------


def _page(title: str, body: str) -> str:
    return f"<!DOCTYPE html><html><head><title>{title}</title></head><body>{body}</body></html>"


NOT_FOUND_PAGE = _page("404 Not Found", "<h1>That page doesn't exist</h1>")
FAULT_PAGES: dict[Fault, tuple[int, str]] = {
    Fault.HTML_500: (
        500,
        "<br />\n<b>Fatal error</b>: Uncaught PDOException: SQLSTATE[HY000] [2002] "
        "Connection refused in /var/www/html/app/src/Legacy/Classes/DB.php:82",
    ),
    Fault.MAINTENANCE_503: (
        503,
        _page("Maintenance", "<h1>We are doing maintenance</h1><p>Please come back soon.</p>"),
    ),
    Fault.BAD_GATEWAY_502: (
        502,
        _page("502 Bad Gateway", "<center><h1>502 Bad Gateway</h1></center><hr>nginx"),
    ),
    Fault.NOT_JSON: (
        200,
        _page("Before you continue", "<form method=post><button>Accept all cookies</button>"),
    ),
}


def html_response(status: int, page: str) -> web.Response:
    return web.Response(status=status, text=page, content_type="text/html", charset="UTF-8")


def redirect(status: int, location: str) -> web.Response:
    return web.Response(status=status, headers={"Location": location})


def text_response(text: str, status: int = 200) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/plain", charset="UTF-8")


_PLACEHOLDERS: dict[str, Callable[[], bytes]] = {
    "png": media.png_bytes,
    "jpg": media.jpeg_bytes,
    "jpeg": media.jpeg_bytes,
    "gif": media.gif_bytes,
    "mp4": media.mp4_bytes,
    "webm": media.webm_bytes,
}


# --- the emulator --------------------------------------------------------------------------


class CheveretoEmulator(LocalServer):
    """A Chevereto V4 site's upload API on 127.0.0.1; see the module docstring."""

    def __init__(
        self,
        *,
        user_keys: Iterable[str] = (USER_KEY,),
        guest_key: str | None = None,
        admin_keys: Iterable[str] = (),
        max_upload_mb: float = 50,
        guest_max_upload_mb: float = 10,
        post_max_mb: float | None = None,
        flood_per_minute: int = 50,
        url_uploads_admin_only: bool = True,
        denied_keys: Iterable[str] = (),
        storage_full: bool = False,
        gzip: bool = False,
        moderation: bool = False,
    ) -> None:
        super().__init__()
        self.user_keys = set(user_keys)
        self.guest_key = guest_key
        self.admin_keys = set(admin_keys)
        self.max_upload_mb = max_upload_mb
        self.guest_max_upload_mb = guest_max_upload_mb
        self.post_max_mb = post_max_mb
        self.flood_per_minute = flood_per_minute
        self.url_uploads_admin_only = url_uploads_admin_only
        self.denied_keys = set(denied_keys)
        self.storage_full = storage_full
        self.gzip = gzip
        self.moderation = moderation
        self.clock: Callable[[], float] = time.time
        self.delay_s: float = 2.0
        self.faults: collections.deque[Fault] = collections.deque()
        self.requests: list[RecordedRequest] = []
        self.uploads: dict[str, StoredUpload] = {}
        self.fetched_urls: list[str] = []
        self._attempts: dict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        self._files: dict[str, str] = {}  # direct file path -> id_encoded
        self._recording: dict[int, RecordedRequest] = {}  # by id() of the request in progress
        self._next_id = 1

    @property
    def api_url(self) -> str:
        return self.base_url + UPLOAD_PATH

    def fail_next(self, fault: Fault, times: int = 1) -> None:
        self.faults.extend([fault] * times)

    def delete_url(self, id_encoded: str) -> str:
        upload = self.uploads[id_encoded]
        return f"{self.base_url}/{upload.media_type}/{id_encoded}/delete/{upload.delete_secret}"

    def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._record], client_max_size=1 << 30)
        app.router.add_route("*", UPLOAD_PATH, self._upload_endpoint)
        app.router.add_route("*", UPLOAD_PATH + "/", self._upload_endpoint)
        app.router.add_route("*", r"/{kind:image|video}/{id}/delete/{secret}", self._delete)
        app.router.add_get(r"/{kind:image|video}/{slug}", self._viewer)
        app.router.add_get(r"/images/{path:.+}", self._direct_file)
        app.router.add_route("*", r"/{path:.*}", self._not_found)
        return app

    # handlers

    @web.middleware
    async def _record(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=request.query_string,
            headers={name.lower(): value for name, value in request.headers.items()},
            fields=dict(request.query) if request.method == "GET" else {},
            remote=request.remote or "",
        )
        self.requests.append(record)
        # Keyed by id: requests are unhashable, and RequestKey needs a recent aiohttp.
        self._recording[id(request)] = record
        try:
            return await handler(request)
        finally:
            del self._recording[id(request)]

    async def _upload_endpoint(self, request: web.Request) -> web.StreamResponse:
        fault = self.faults.popleft() if self.faults else None
        if fault in FAULT_PAGES:
            await request.release()
            return html_response(*FAULT_PAGES[fault])
        if fault is Fault.DROP:
            return await self._drop(request)
        if request.path != UPLOAD_PATH or request.query_string:
            await request.release()
            return redirect(301, self.base_url + UPLOAD_PATH)
        response = await self._upload(request, truncate=fault is Fault.TRUNCATED_JSON)
        if fault is Fault.DELAY:
            await asyncio.sleep(self.delay_s)
        return response

    async def _drop(self, request: web.Request) -> web.StreamResponse:
        # Read the body first so the client sees a missing answer, not a failed send.
        await request.release()
        if request.transport is not None:
            request.transport.abort()
        return web.Response()

    async def _upload(self, request: web.Request, *, truncate: bool) -> web.StreamResponse:
        fields, source = await read_form(request)
        record_form(self._recording[id(request)], fields, source)
        if self.post_max_mb is not None and request.content.total_bytes > self.post_max_mb * MIB:
            fields, source = {}, None  # PHP drops a body over post_max_size
        # The server drops empty values and "0" before reading any field.
        fields = {name: value for name, value in fields.items() if value not in ("", "0")}
        answer_format = fields.get("format", "json")
        if answer_format not in FORMATS:
            answer_format = "json"
        try:
            upload = self._accept(request, fields, source)
        except ApiError as error:
            return self._error_answer(request, answer_format, error, truncate=truncate)
        return self._success_answer(request, answer_format, upload, truncate=truncate)

    def _accept(
        self, request: web.Request, fields: dict[str, str], file: Source | None
    ) -> StoredUpload:
        key = self._check_key(request, fields)
        source = self._source(key, fields, file)
        now = self.clock()
        remote = request.remote or ""
        self._check_flood(remote, now)
        found = self._classify(source)
        self._check_size(key, source.size)
        self._check_duplicate(remote, source.md5, now)
        if self.storage_full:
            raise ApiError(104, "No space left on storage")
        return self._store(key, fields, source, found, remote, now)

    async def _delete(self, request: web.Request) -> web.StreamResponse:
        await request.release()
        upload = self.uploads.get(request.match_info["id"])
        secret = request.match_info["secret"].encode()
        if (
            upload is None
            or upload.deleted
            or upload.media_type != request.match_info["kind"]
            or not hmac.compare_digest(upload.delete_secret.encode(), secret)
        ):
            return html_response(404, NOT_FOUND_PAGE)
        upload.deleted = True
        return redirect(301, upload.image["url_viewer"] + "?deleted")

    async def _viewer(self, request: web.Request) -> web.StreamResponse:
        id_encoded = request.match_info["slug"].rsplit(".", 1)[-1]
        upload = self.uploads.get(id_encoded)
        if upload is None or upload.deleted or upload.media_type != request.match_info["kind"]:
            return html_response(404, NOT_FOUND_PAGE)
        image = upload.image
        meta = f'<meta property="og:image" content="{image["display_url"]}">'
        return html_response(200, _page(html.escape(upload.title or id_encoded), meta))

    async def _direct_file(self, request: web.Request) -> web.StreamResponse:
        upload = self.uploads.get(self._files.get(request.path, ""))
        if upload is None or upload.deleted:
            return html_response(404, NOT_FOUND_PAGE)
        extension = request.path.rsplit(".", 1)[-1]
        body = _PLACEHOLDERS.get(extension, lambda: b"\0")()
        content_type = mimetypes.guess_type(request.path)[0] or "application/octet-stream"
        return web.Response(body=body, content_type=content_type)

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        await request.release()
        return html_response(404, NOT_FOUND_PAGE)

    # the upload checks, in the server's order

    def _check_key(self, request: web.Request, fields: dict[str, str]) -> str:
        # A header, even empty, shadows the field.
        if "X-API-Key" in request.headers:
            key = request.headers["X-API-Key"]
        else:
            key = fields.get("key", "")
        if not key:
            raise ApiError(100, "No key provided")
        if key in self.denied_keys:
            raise ApiError(401, "Request denied")
        if key not in self.user_keys and key not in self.admin_keys and key != self.guest_key:
            raise ApiError(100, "Invalid API key.")
        return key

    def _source(self, key: str, fields: dict[str, str], file: Source | None) -> Source:
        if file is not None:
            if file.size == 0:
                raise ApiError(130, "Empty upload source")
            return file
        text = fields.get("source")
        if text is None:
            raise ApiError(130, "Empty upload source")
        if _URL_SOURCE.match(text):
            return self._url_source(key, text)
        if not _STRICT_BASE64.match(text):
            raise ApiError(120, "Invalid base64 string")
        return Source.from_bytes(base64.b64decode(text), "", "base64")

    def _url_source(self, key: str, url: str) -> Source:
        if self.url_uploads_admin_only and key not in self.admin_keys:
            raise ApiError(403, "URL uploading is disabled")
        self.fetched_urls.append(url)
        seed = int.from_bytes(hashlib.sha256(url.encode()).digest()[:8], "big")
        filename = urlsplit(url).path.rsplit("/", 1)[-1]
        return Source.from_bytes(media.png_bytes(seed=seed), filename, "url")

    def _check_flood(self, remote: str, now: float) -> None:
        window = self._attempts[remote]
        while window and now - window[0] >= MINUTE:
            window.popleft()
        if len(window) >= self.flood_per_minute:
            raise ApiError(
                130,
                f"Flooding detected. You can only upload {self.flood_per_minute} "
                "image(s) per minute",
            )
        window.append(now)

    @staticmethod
    def _classify(source: Source) -> MediaType:
        declared = (source.content_type or "").split(";")[0].strip().lower()
        declared_kind = declared.split("/")[0] if declared.startswith(("image/", "video/")) else ""
        # The part's Content-Type, not the bytes, picks image or video handling.
        wanted_kind = "video" if declared_kind == "video" else "image"
        found = sniff(source.head)
        if found is not None and found.kind == wanted_kind:
            return found
        if declared_kind:
            raise ApiError(612, "Invalid mimetype")
        raise ApiError(610, "Can't get target upload source info")

    def _check_size(self, key: str, size: int) -> None:
        limit_mb = self.guest_max_upload_mb if key == self.guest_key else self.max_upload_mb
        if size > limit_mb * MB:
            raise ApiError(400, f"File too big - max {format_bytes(limit_mb * MB)}")

    def _check_duplicate(self, remote: str, md5: str, now: float) -> None:
        for upload in self.uploads.values():
            if (
                not upload.deleted
                and upload.md5 == md5
                and upload.remote == remote
                and now - upload.uploaded_at < DAY
            ):
                raise ApiError(101, "Duplicated upload")

    # storing and answering

    def _store(
        self,
        key: str,
        fields: dict[str, str],
        source: Source,
        found: MediaType,
        remote: str,
        now: float,
    ) -> StoredUpload:
        id_encoded = encode_id(self._next_id)
        self._next_id += 1
        title = (fields.get("title") or title_from_filename(source.filename))[:TITLE_LIMIT]
        expires_in = expiration_seconds(fields.get("expiration"))
        upload = StoredUpload(
            id_encoded=id_encoded,
            md5=source.md5,
            size=source.size,
            mime=found.mime,
            media_type=found.kind,
            title=title,
            delete_secret=secrets.token_hex(24),
            key=key,
            fields={k: v for k, v in fields.items() if k not in ("key", "source")},
            expiration_seconds=expires_in,
            remote=remote,
            uploaded_at=now,
            image={},
        )
        upload.image = self._image_json(upload, source, found, fields)
        self.uploads[id_encoded] = upload
        return upload

    def _image_json(
        self, upload: StoredUpload, source: Source, found: MediaType, fields: dict[str, str]
    ) -> dict[str, Any]:
        """The ``image`` object of the answer, shaped like the seed example."""
        base = self.base_url
        date = gmt(upload.uploaded_at)
        width, height = self._reported_size(found, source.head, fields.get("width"))
        files = self._place_files(upload, source.filename, found, width, date)
        medium = files.get("medium", _NULL_FILE)
        display = files.get("frame") or files.get("medium") or files["image"]
        path_viewer = _path_viewer(found.kind, upload.title, upload.id_encoded)
        tags = parse_tags(fields.get("tags"))
        expiry = upload.expiration_seconds
        image: dict[str, Any] = {
            "name": files["image"]["name"],
            "extension": found.extension,
            "size": upload.size,
            "width": width,
            "height": height,
            "date": date,
            "date_gmt": date,
            "title": upload.title or None,
            "tags": [{"name": tag, "url": f"{base}/tag/{tag}"} for tag in tags],
            "description": fields.get("description"),
            "nsfw": 1 if fields.get("nsfw") == "1" else 0,
            "storage_mode": "datefolder",
            "checksum": upload.md5,
            "source_checksum": None,
            "original_filename": source.filename or None,
            "original_exifdata": None,
            "views": 0,
            "category_id": None,
            "chain": 21 if "frame" in files else 7,
            "thumb_size": files["thumb"]["size"],
            "medium_size": medium.get("size") or 0,
            "expiration_date_gmt": None if expiry is None else gmt(upload.uploaded_at + expiry),
            "likes": 0,
            "is_animated": 1 if is_animated(found, source.head) else 0,
            "is_approved": 0 if self.moderation else 1,
            "is_360": 0,
            "type": found.kind,
            "tags_string": ",".join(tags),
            "file": {"resource": {"type": source.resource}},
            "id_encoded": upload.id_encoded,
            "filename": files["image"]["filename"],
            "mime": found.mime,
            "url": files["image"]["url"],
            "ratio": width / height,
            "size_formatted": format_bytes(upload.size),
            "image": files["image"],
            "thumb": files["thumb"],
            "medium": medium,
            "url_viewer": base + path_viewer,
            "path_viewer": path_viewer,
            "url_short": f"{base}/{found.kind}/{upload.id_encoded}",
            "display_url": display["url"],
            "display_width": width,
            "display_height": height,
            "views_label": "views",
            "likes_label": "likes",
            "how_long_ago": "moments ago",
            "date_fixed_peer": date,
            "title_truncated": _truncate(upload.title),
            "title_truncated_html": _truncate(upload.title),
            "is_use_loader": False,
            "display_title": upload.title,
            "delete_url": f"{base}/{found.kind}/{upload.id_encoded}/delete/{upload.delete_secret}",
        }
        if "frame" in files:
            image.update(_video_fields(files["frame"], source.head))
        return image

    def _place_files(
        self, upload: StoredUpload, filename: str, found: MediaType, width: int, date: str
    ) -> dict[str, dict[str, Any]]:
        """Name the stored files (original, thumb, medium, frame) and serve them."""
        folder = "/images/" + date[:10].replace("-", "/") + "/"
        name = slugify(title_from_filename(filename), 64) or upload.id_encoded
        if folder + f"{name}.{found.extension}" in self._files:
            name = f"{name}.{upload.id_encoded}"  # the real server adds random characters
        video = found.kind == "video"
        thumb_extension = "jpeg" if video else found.extension
        specs = {
            "image": (f"{name}.{found.extension}", found.mime, upload.size),
            "thumb": (f"{name}.th.{thumb_extension}", f"image/{thumb_extension}", 2000),
        }
        if video:
            specs["frame"] = (f"{name}.fr.jpeg", "image/jpeg", 2000)
        elif width > MEDIUM_WIDTH:
            specs["medium"] = (f"{name}.md.{found.extension}", found.mime, upload.size // 2)
        for stored_name, _, _ in specs.values():
            self._files[folder + stored_name] = upload.id_encoded
        return {part: _file_json(self.base_url + folder, *spec) for part, spec in specs.items()}

    @staticmethod
    def _reported_size(found: MediaType, head: bytes, requested: str | None) -> tuple[int, int]:
        width, height = dimensions(found, head)
        resizable = found.kind == "image" and not is_animated(found, head)
        if resizable and requested and requested.isdigit() and 0 < int(requested) < width:
            target = int(requested)
            return target, max(1, round(height * target / width))
        return width, height

    def _success_answer(
        self, request: web.Request, answer_format: str, upload: StoredUpload, *, truncate: bool
    ) -> web.StreamResponse:
        image = upload.image
        if answer_format == "txt" and not truncate:
            return text_response(image["url"])
        if answer_format == "redirect" and not truncate:
            return redirect(302, image["path_viewer"])
        payload = {
            "status_code": 200,
            "success": {"message": "file uploaded", "code": 200},
            "image": _public_image(image),
            "status_txt": "OK",
        }
        return self._json_answer(request, 200, payload, truncate=truncate)

    def _error_answer(
        self, request: web.Request, answer_format: str, error: ApiError, *, truncate: bool
    ) -> web.StreamResponse:
        if answer_format != "json" and not truncate:
            return text_response(error.message)
        payload = {
            "status_code": 400,
            "error": {"message": error.message, "code": error.code},
            "status_txt": "Bad Request",
        }
        return self._json_answer(request, 400, payload, truncate=truncate)

    def _json_answer(
        self, request: web.Request, status: int, payload: dict[str, Any], *, truncate: bool
    ) -> web.StreamResponse:
        body = json.dumps(payload).encode()
        if truncate:
            status, body = 200, body[: len(body) // 2]
        headers = {"Content-Type": "application/json; charset=UTF-8"}
        if self.gzip and "gzip" in request.headers.get("Accept-Encoding", "").lower():
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        return web.Response(status=status, body=body, headers=headers)


_NULL_FILE: dict[str, Any] = dict.fromkeys(("filename", "name", "mime", "extension", "url"))
# Removed from the answer while an upload awaits moderation.
_MODERATED_FIELDS = (
    "url",
    "url_viewer",
    "path_viewer",
    "url_short",
    "display_url",
    "image",
    "thumb",
    "medium",
    "frame",
    "url_frame",
)


def _file_json(folder_url: str, filename: str, mime: str, size: int) -> dict[str, Any]:
    name, extension = filename.rsplit(".", 1)
    return {
        "filename": filename,
        "name": name,
        "mime": mime,
        "extension": extension,
        "url": folder_url + filename,
        "size": size,
    }


def _public_image(image: dict[str, Any]) -> dict[str, Any]:
    if image["is_approved"]:
        return image
    return {name: value for name, value in image.items() if name not in _MODERATED_FIELDS}


def _path_viewer(kind: str, title: str, id_encoded: str) -> str:
    slug = slugify(title)
    return f"/{kind}/{slug}.{id_encoded}" if slug else f"/{kind}/{id_encoded}"


def _video_fields(frame: dict[str, Any], head: bytes) -> dict[str, Any]:
    duration = mp4_duration(head)
    return {
        "frame_size": frame["size"],
        "duration": duration,
        "duration_time": duration_time(duration),
        "frame": frame,
        "url_frame": frame["url"],
    }


def _truncate(title: str) -> str:
    return title if len(title) <= 28 else title[:25] + "..."


# --- standalone ------------------------------------------------------------------------


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Chevereto V4 upload API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key", action="append", help="user key (repeatable)")
    parser.add_argument("--admin-key", action="append", default=[])
    parser.add_argument("--guest-key")
    parser.add_argument("--max-upload-mb", type=float, default=50)
    parser.add_argument("--guest-max-upload-mb", type=float, default=10)
    parser.add_argument("--post-max-mb", type=float)
    parser.add_argument("--flood-per-minute", type=int, default=50)
    parser.add_argument("--gzip", action="store_true")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    emulator = CheveretoEmulator(
        user_keys=args.key or (USER_KEY,),
        admin_keys=args.admin_key,
        guest_key=args.guest_key,
        max_upload_mb=args.max_upload_mb,
        guest_max_upload_mb=args.guest_max_upload_mb,
        post_max_mb=args.post_max_mb,
        flood_per_minute=args.flood_per_minute,
        gzip=args.gzip,
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await emulator.start(args.host, args.port)
    try:
        print(f"READY {emulator.base_url}", flush=True)
        await stopping.wait()
    finally:
        await emulator.stop()


def main(argv: list[str] | None = None) -> None:
    asyncio.run(serve(_parse_args(argv)))


if __name__ == "__main__":
    main()
