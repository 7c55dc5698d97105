"""UploadChecks: the upload checks, in the server's order: key, source (file, base64 or
URL), flood, media type, size and duplicate."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlsplit

from aiohttp import web

from tests.fakes import media
from tests.fakes.chevereto.fields import _STRICT_BASE64, _URL_SOURCE, format_bytes
from tests.fakes.chevereto.forms import Source
from tests.fakes.chevereto.models import DAY, MB, MINUTE, ApiError
from tests.fakes.chevereto.sniffing import MediaType, sniff
from tests.fakes.chevereto.state import EmulatorState


class UploadChecks(EmulatorState):
    """The upload checks, in the server's order; a failed one raises ApiError."""

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
