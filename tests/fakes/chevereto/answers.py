"""The emulator's answers: HTML pages (404, the fault pages), text, redirects, placeholder
files, and Answers, the JSON success and error answers (gzip, truncation, moderation)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.fakes import media
from tests.fakes.chevereto.models import ApiError, Fault, StoredUpload
from tests.fakes.chevereto.state import EmulatorState


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


class Answers(EmulatorState):
    """The JSON, text and redirect answers to an upload request."""

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


def _public_image(image: dict[str, Any]) -> dict[str, Any]:
    if image["is_approved"]:
        return image
    return {name: value for name, value in image.items() if name not in _MODERATED_FIELDS}
