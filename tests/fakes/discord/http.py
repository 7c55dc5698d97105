"""HTTP plumbing of the Discord fake: the REST endpoint (routing, auth, JSON and multipart
bodies, errors with rate-limit headers), injected failures (``fail_next``), the CDN
download route, and call inspection."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web

from tests.fakes.discord.constants import READ_CHUNK
from tests.fakes.discord.limits import RateLimits
from tests.fakes.discord.models import (
    ApiError,
    Call,
    Download,
    UploadedFile,
    _Failure,
    _NoContent,
    _Request,
    _Route,
)
from tests.fakes.discord.registry import RegistryMixin
from tests.fakes.server import Hold, Spool, abandon

# The route the ``rate_limits`` knob counts: a bot creating a message in a channel.
_MESSAGE_POST = re.compile(r"POST /channels/(?P<channel>[0-9]+)/messages")


def _json_response(
    status: int, body: Any, headers: Mapping[str, str] | None = None
) -> web.Response:
    # discord.py parses JSON only when Content-Type is exactly "application/json".
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(status=status, body=json.dumps(body).encode(), headers=all_headers)


class HttpMixin(RegistryMixin):
    """Serving REST calls and attachment downloads, and recording every call."""

    # knobs

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int = 429,
        retry_after: float = 0.5,
        times: int = 1,
        global_: bool = False,
        *,
        code: int | None = None,
        message: str | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` whose path matches fail."""
        if status == 429:
            error = ApiError(429, 0, "You are being rate limited.", retry_after=retry_after)
            error.global_ = global_
        else:
            error = ApiError(status, code, message)
        self._failures.append(_Failure(method.upper(), re.compile(path_regex), error, times))

    def hold(
        self, method: str, path_regex: str, where: Callable[[Call], bool] | None = None
    ) -> Hold[Call]:
        """Pause the next ``method`` call whose path matches (and ``where``) before it does
        anything; see :class:`tests.fakes.server.Hold`."""
        pattern, verb = re.compile(path_regex), method.upper()

        def matching(call: Call) -> bool:
            hit = call.method == verb and pattern.search(call.path) is not None
            return hit and (where is None or where(call))

        return self._add_hold("before", f"before {verb} {path_regex}", matching)

    # --- inspection ----------------------------------------------------------------------

    def calls_to(self, method: str, path_regex: str = "") -> list[Call]:
        pattern = re.compile(path_regex)
        method = method.upper()
        return [c for c in self.calls if c.method == method and pattern.search(c.path)]

    async def wait_for(
        self,
        method: str,
        path_regex: str,
        count: int = 1,
        timeout: float = 5.0,
        where: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Wait until ``count`` answered calls of ``method`` on a matching path (and ``where``)."""

        def found() -> list[Call] | None:
            hits = [c for c in self.calls_to(method, path_regex) if where is None or where(c)]
            return hits if len(hits) >= count else None

        def describe() -> str:
            seen = [f"{c.method} {c.path} {c.status}" for c in self.calls]
            return f"{count} {method} {path_regex!r} calls not seen in {timeout} s; calls: {seen}"

        return await self._wait_until(found, timeout, describe)

    # --- HTTP plumbing -------------------------------------------------------------------

    async def _endpoint(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        call = Call(request.method, path, dict(request.query), None, [], self.clock())
        try:
            route, match = self._resolve(request.method, path)
            parsed = await self._read_body(request)
            call.json, uploads = parsed
            call.files = uploads
            before = self._claim_hold("before", call)
            if before is not None and not await before.pause(call):
                return await abandon(request)
            self._check_failures(call)
            auth = request.headers.get("Authorization")
            if route.bot_auth and auth != f"Bot {self.token}":
                raise ApiError(401, 0)
            limits, channel_id = self._channel_limit(call)
            if limits is not None:
                self._take_message_slot(call, limits, channel_id)
            try:
                result = await self._handle(route, _Request(call, match, uploads, auth))
            except BaseException:
                if limits is not None:  # no message was created: its slot is free again
                    self._buckets.give_back(limits, channel_id, self.clock())
                raise
        except ApiError as error:
            if request.can_read_body:
                await request.release()
            call.status, call.error = error.status, error.body()
            self._record(call)
            limits, _ = self._channel_limit(call)
            limit = 50 if limits is None else limits.messages_per_channel
            headers = self._error_headers(error, call, limit)
            return _json_response(error.status, error.body(), headers)
        if limits is not None:
            remaining, after = self._buckets.state(limits, channel_id, self.clock())
            limit = limits.messages_per_channel
            headers = self._ratelimit_headers(call, remaining, after, limit)
        else:
            headers = self._ratelimit_headers(call)
        if isinstance(result, _NoContent):
            call.status = 204
            self._record(call)
            return web.Response(status=204, headers=headers)
        call.status, call.response = 200, copy.deepcopy(result)
        self._record(call)
        return _json_response(200, result, headers)

    @staticmethod
    async def _handle(route: _Route, request: _Request) -> Any:
        try:
            return await route.handler(request)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            # A body of the wrong shape: Discord answers 400, not 500.
            raise ApiError(400, 50035, f"Invalid Form Body ({error!r})") from error

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._notify()

    def _resolve(self, method: str, path: str) -> tuple[_Route, dict[str, str]]:
        allowed = False
        for route in self._routes:
            match = route.pattern.fullmatch(path)
            if match is None:
                continue
            if route.method == method:
                return route, match.groupdict()
            allowed = True
        raise ApiError(405 if allowed else 404, 0)

    def _channel_limit(self, call: Call) -> tuple[RateLimits | None, int]:
        """The knob's numbers and the channel when ``rate_limits`` counts this call."""
        found = _MESSAGE_POST.fullmatch(f"{call.method} {call.path}")
        if self.rate_limits is None or found is None:
            return None, 0
        return self.rate_limits, int(found["channel"])

    def _take_message_slot(self, call: Call, limits: RateLimits, channel_id: int) -> None:
        retry_after = self._buckets.take(limits, channel_id, self.clock())
        if retry_after is not None:
            self.rate_limited.append(call)
            raise ApiError(429, 0, retry_after=round(retry_after, 3))

    def _check_failures(self, call: Call) -> None:
        for failure in self._failures:
            if (
                failure.times > 0
                and failure.method in (call.method, "*")
                and failure.pattern.search(call.path)
            ):
                failure.times -= 1
                raise failure.error

    @staticmethod
    def _bucket(call: Call) -> str:
        template = re.sub(r"/[0-9]{6,}", "/{id}", call.path)
        return hashlib.sha1(f"{call.method} {template}".encode()).hexdigest()[:32]

    def _ratelimit_headers(
        self, call: Call, remaining: int = 49, after: float = 1.0, limit: int = 50
    ) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{self.clock() + after:.3f}",
            "X-RateLimit-Reset-After": f"{after:.3f}",
            "X-RateLimit-Bucket": self._bucket(call),
        }

    def _error_headers(self, error: ApiError, call: Call, limit: int = 50) -> dict[str, str]:
        if error.status != 429:
            return {}
        after = float(error.retry_after or 0)
        headers = self._ratelimit_headers(call, remaining=0, after=after, limit=limit)
        headers.update(
            {
                "Retry-After": str(math.ceil(after)),
                "X-RateLimit-Scope": "global" if error.global_ else "user",
                # discord.py takes a 429 without Via for a Cloudflare ban and gives up.
                "Via": "1.1 google",
            }
        )
        if error.global_:
            headers["X-RateLimit-Global"] = "true"
        return headers

    async def _read_body(self, request: web.Request) -> tuple[Any, list[UploadedFile]]:
        if not request.can_read_body:
            return None, []
        if request.content_type == "application/json":
            try:
                return json.loads(await request.text()), []
            except ValueError:
                raise ApiError(400, 50109, "The request body contains invalid JSON.") from None
        if request.content_type != "multipart/form-data":
            await request.release()
            return None, []
        assert self._spool_dir is not None
        body: Any = None
        files: list[UploadedFile] = []
        total = 0
        too_big = False
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                await part.release()
                continue
            name = part.name or ""
            if part.filename is None and name == "payload_json":
                try:
                    body = json.loads(await part.text())
                except ValueError:
                    raise ApiError(400, 50109, "The request body contains invalid JSON.") from None
                continue
            if part.filename is None:
                await part.release()
                continue
            spool = Spool(self._spool_dir)
            try:
                while chunk := await part.read_chunk(READ_CHUNK):
                    total += len(chunk)
                    if total > self.max_upload_bytes:
                        too_big = True  # keep reading: answering early breaks the upload
                    elif not too_big:
                        spool.write(chunk)
            finally:
                spool.close()
            content_type = part.headers.get("Content-Type")
            files.append(UploadedFile(name, part.filename, spool.size, content_type, spool.path))
        if too_big:
            raise ApiError(413, 40005)
        return body, files

    async def _download(self, request: web.Request) -> web.StreamResponse:
        call = Call("GET", request.path, dict(request.query), None, [], self.clock())
        try:
            self._check_failures(call)
        except ApiError as error:
            call.status, call.error = error.status, error.body()
            self._record(call)
            return _json_response(error.status, error.body(), self._error_headers(error, call))
        try:
            attachment_id = int(request.match_info["id"])
        except ValueError:
            attachment_id = -1
        found = self._attachments.get(attachment_id)
        filename = request.match_info["filename"]
        query = request.query
        valid = (
            found is not None
            and found.json["filename"] == filename
            and hmac.compare_digest(
                query.get("hm", ""),
                self._cdn_hash(attachment_id, filename, query.get("ex", ""), query.get("is", "")),
            )
        )
        if found is None or not valid:
            call.status = 404
            self._record(call)
            return web.Response(status=404, text="This content is no longer available.")
        call.status = 200
        self._record(call)
        self.downloads.append(Download(found.json["id"], filename, found.json["size"], call.time))
        headers = {"Content-Type": found.json.get("content_type", "application/octet-stream")}
        if isinstance(found.content, Path):
            return web.FileResponse(found.content, chunk_size=READ_CHUNK, headers=headers)
        return web.Response(body=found.content, headers=headers)
