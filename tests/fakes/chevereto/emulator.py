"""CheveretoEmulator: the parts put together, with the routes and request handlers,
``fail_next``, ``hold_upload`` and the inspection helpers."""

from __future__ import annotations

import asyncio
import hmac
import html
import mimetypes
import zlib
from collections.abc import Awaitable, Callable

from aiohttp import web

from tests.fakes.chevereto.answers import (
    _PLACEHOLDERS,
    FAULT_PAGES,
    NOT_FOUND_PAGE,
    Answers,
    _page,
    html_response,
    redirect,
)
from tests.fakes.chevereto.checks import UploadChecks
from tests.fakes.chevereto.forms import Source, read_form, record_form
from tests.fakes.chevereto.images import ImageStore
from tests.fakes.chevereto.models import (
    FORMATS,
    MIB,
    UPLOAD_PATH,
    ApiError,
    Fault,
    RecordedRequest,
    StoredUpload,
    UploadStage,
)
from tests.fakes.media import png_bytes
from tests.fakes.server import Hold, abandon

_SETTLE_S = 0.05


class _Abandoned(Exception):
    """An upload held while its body was on its way, ended without being processed."""


class CheveretoEmulator(UploadChecks, ImageStore, Answers):
    """A Chevereto V4 site's upload API on 127.0.0.1; see the package docstring."""

    @property
    def api_url(self) -> str:
        return self.base_url + UPLOAD_PATH

    def fail_next(self, fault: Fault, times: int = 1) -> None:
        self.faults.extend([fault] * times)

    def hold_upload(self, stage: UploadStage) -> Hold[RecordedRequest]:
        """Pause the next upload request that reaches ``stage``; see the package docstring."""
        return self._add_hold(stage.value, f"upload {stage.name}")

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

    def _seen(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.requests]

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
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)
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
        record = self._recording[id(request)]
        receiving = self._claim_hold(UploadStage.RECEIVING.value, record)

        async def body_on_its_way() -> None:
            nonlocal receiving
            if receiving is None:
                return
            hold, receiving = receiving, None
            if not await hold.pause(record):
                raise _Abandoned
            # A client killed while held is gone before the release (kill() reaps it), but
            # its connection's end needs a turn or two of the loop to be seen here.
            await asyncio.sleep(_SETTLE_S)
            if request.transport is None:
                raise _Abandoned  # it never finished its body: nothing to process

        try:
            fields, source = await read_form(request, body_on_its_way)
            await body_on_its_way()  # a body without a file part: held once read
        except _Abandoned:
            return await abandon(request)
        record_form(record, fields, source)
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
        stored = self._claim_hold(UploadStage.STORED.value, record)
        if stored is not None and not await stored.pause(record):
            return await abandon(request)
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
        if extension == "png":  # a picture of its own per file, as a gallery shows them
            body = png_bytes(seed=zlib.crc32(request.path.encode()))
        else:
            body = _PLACEHOLDERS.get(extension, lambda: b"\0")()
        content_type = mimetypes.guess_type(request.path)[0] or "application/octet-stream"
        return web.Response(body=body, content_type=content_type)

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        await request.release()
        return html_response(404, NOT_FOUND_PAGE)
