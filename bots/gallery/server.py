"""The web gallery's routes, served beside /healthz on ``PICLOUD_HTTP_LISTEN``.

- ``GET /gallery?hl=<language>``: the page (no user's data in it).
- ``POST /gallery/api/session``: ``{"link": ...}`` (a one-time link's pass) or
  ``{"telegram": initData}`` (a Mini App's sign-in) for ``{"session", "expires_in"}``.
- ``GET /gallery/api/uploads?q=&offset=``: the session's user's uploads, newest first,
  with their embed codes; ``next_offset`` is null at the end.
- ``DELETE /gallery/api/uploads/<id>``: delete one of them at the host.

The API takes the session as ``Authorization: Bearer``, never as a cookie, so another
site cannot make a browser use it. No answer holds a delete link or a key: the service
never hands them out.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import SecretStr

from bots.gallery.page import STATIC, render_page
from bots.gallery.telegram_sign_in import telegram_user_id
from core.chevereto.models import DeleteOutcome
from core.codes import Format, embed_codes
from core.errors import NotFound, PermissionDenied, PicloudError
from core.refs import Platform, UploadId, UserRef
from core.service.gallery import PAGE_PATH, GalleryPasses, PassRefused, Session
from core.service.types import UploadView
from core.service.uploads import UploadService

log = logging.getLogger(__name__)

PAGE_SIZE = 24
MAX_QUERY_CHARS = 200
MAX_OFFSET = 100_000
MAX_BODY_BYTES = 16 * 1024
"""A Mini App's sign-in is about 1 KB; nothing the API takes is larger."""

_PAGE_HEADERS = {
    # The page's own script and style; pictures from the host; Telegram's script for a
    # Mini App. Telegram's web client shows the app in a frame, so framing is allowed.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self' https://telegram.org; style-src 'self'; "
        "img-src * data:; connect-src 'self'; base-uri 'none'; form-action 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
_API_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def gallery_routes(
    passes: GalleryPasses, service: UploadService, telegram_token: SecretStr | None
) -> list[web.AbstractRouteDef]:
    api = GalleryApi(passes, service, telegram_token)
    return [
        web.get(PAGE_PATH, _page),
        web.post(f"{PAGE_PATH}/api/session", api.session),
        web.get(f"{PAGE_PATH}/api/uploads", api.uploads),
        web.delete(PAGE_PATH + "/api/uploads/{upload_id}", api.delete),
        web.static(f"{PAGE_PATH}/static", STATIC, append_version=False),
    ]


async def _page(request: web.Request) -> web.Response:
    return web.Response(
        text=render_page(request.query.get("hl")),
        content_type="text/html",
        headers=_PAGE_HEADERS,
    )


class GalleryApi:
    def __init__(
        self, passes: GalleryPasses, service: UploadService, telegram_token: SecretStr | None
    ) -> None:
        self._passes = passes
        self._service = service
        self._telegram_token = telegram_token

    async def session(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        try:
            opened = await self._opened(body)
        except PassRefused as refused:
            return _error(403, refused.refusal)
        return _json({"session": opened.token, "expires_in": opened.expires_in_s})

    async def _opened(self, body: dict[str, Any]) -> Session:
        link, init_data = body.get("link"), body.get("telegram")
        if isinstance(link, str) and link:
            return await self._passes.open_link(link)
        if isinstance(init_data, str) and init_data and self._telegram_token is not None:
            token = self._telegram_token.get_secret_value()
            user_id = telegram_user_id(init_data, token, self._passes.now())
            return self._passes.session(UserRef(Platform.TELEGRAM, user_id))
        raise web.HTTPBadRequest(text="wants a link or Telegram's sign-in\n")

    async def uploads(self, request: web.Request) -> web.Response:
        user = self._user(request)
        text = request.query.get("q", "")[:MAX_QUERY_CHARS]
        offset_text = request.query.get("offset", "0")
        if not (offset_text.isascii() and offset_text.isdigit()) or int(offset_text) > MAX_OFFSET:
            raise web.HTTPBadRequest(text=f"offset wants a number up to {MAX_OFFSET}\n")
        offset = int(offset_text)
        # One more than a page tells whether there is a next one.
        found = await self._service.search(user, text, offset=offset, limit=PAGE_SIZE + 1)
        shown = found[:PAGE_SIZE]
        more = len(found) > PAGE_SIZE
        return _json(
            {
                "items": [_item(view) for view in shown],
                "next_offset": offset + PAGE_SIZE if more else None,
            }
        )

    async def delete(self, request: web.Request) -> web.Response:
        user = self._user(request)
        upload_id = UploadId(request.match_info["upload_id"])
        try:
            outcome = await self._service.delete(upload_id, user)
        except (NotFound, PermissionDenied):
            # Another user's upload reads as unknown: the API tells nothing of it.
            return _error(404, "gone")
        except PicloudError as error:
            log.warning("gallery delete of %s failed: %s", upload_id, type(error).__name__)
            return _error(503, "failed")
        if outcome is DeleteOutcome.FAILED:
            return _error(502, "delete_failed")
        return _json({"deleted": True})

    def _user(self, request: web.Request) -> UserRef:
        scheme, _space, token = request.headers.get("Authorization", "").partition(" ")
        try:
            if scheme.lower() != "bearer" or not token:
                raise web.HTTPUnauthorized(text="wants the gallery session\n")
            return self._passes.session_user(token.strip())
        except PassRefused:
            raise web.HTTPUnauthorized(
                text=json.dumps({"error": "session_over"}),
                content_type="application/json",
                headers=_API_HEADERS,
            ) from None


def _item(view: UploadView) -> dict[str, Any]:
    codes = embed_codes(view)
    return {
        "id": view.upload_id,
        "title": view.title or "",
        "media_type": view.media_type,
        "thumb": view.thumbnail,
        "preview": view.picture,
        "created_at": view.created_at.isoformat(),
        "viewer": view.url_viewer,
        "direct": view.url,
        "codes": {
            form.value: [[variant.value, code] for variant, code in codes.codes(form)]
            for form in Format
        }
        if codes
        else {},
    }


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()  # aiohttp refuses more than its client_max_size, 1 MB
    if len(raw) > MAX_BODY_BYTES:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY_BYTES, actual_size=len(raw))
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise web.HTTPBadRequest(text="wants JSON\n") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="wants a JSON object\n")
    return body


def _json(body: dict[str, Any]) -> web.Response:
    return web.json_response(body, headers=_API_HEADERS)


def _error(status: int, error: str) -> web.Response:
    return web.json_response({"error": error}, status=status, headers=_API_HEADERS)
