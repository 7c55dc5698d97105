"""The Chevereto V4 upload client.

One class, :class:`CheveretoClient`, over an injected ``httpx.AsyncClient``::

    async with make_http_client() as http:
        client = CheveretoClient(http, settings.api_url)
        media = await client.upload(UploadSource.from_path(path), key=key)
        ...
        outcome = await client.delete(media.delete_url)

This module is the HTTP edge: httpx exceptions stop here and leave as
:mod:`core.errors` raised ``from None``, so no library text (which may hold a
URL) rides along. Two values are secrets and never appear in an error or a log
line: the API key (sent in the ``X-API-Key`` header only) and the delete link
(any visit to it deletes the upload).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import AsyncIterable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

import httpx
import stamina
from pydantic import SecretStr

from core import metrics
from core.chevereto.answers import SentBody, is_storage_full, read_upload_answer
from core.chevereto.models import (
    TITLE_LIMIT,
    ApiKey,
    DelayCallback,
    DeleteOutcome,
    ProgressCallback,
    RemoteUrl,
    UploadedMedia,
    UploadOptions,
    UploadSource,
)
from core.chevereto.multipart import FILE_FIELD, MultipartBody
from core.errors import (
    ConfigurationError,
    DuplicateUpload,
    EmptyFile,
    FloodLimited,
    HostUnavailable,
    InputError,
    InvalidApiKey,
    LinkRefused,
    MissingKey,
)
from core.keys import is_one_word
from core.logging_setup import RedactingFilter

__all__ = ["DEFAULT_TIMEOUT", "USER_AGENT", "CheveretoClient", "RetryPolicy", "make_http_client"]

log = logging.getLogger(__name__)


def _package_version() -> str:
    try:
        return version("picloud-bots")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0"


USER_AGENT = f"picloud-bots/{_package_version()}"
# Big uploads: a 50 MB video on a slow link, then the host makes thumbnails and a
# poster frame before answering. Connecting is the only step that should be quick.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=120.0, write=60.0, pool=30.0)

_DELETED = frozenset({301, 302, 303})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When to try a transient failure (host down, flood) again.

    Retries use stamina's jittered exponential backoff; no new try starts once
    ``deadline_s`` has passed (a try in flight is bounded by the HTTP timeouts).
    """

    attempts: int = 4
    """Total tries, the first one included."""
    deadline_s: float = 120.0
    """Time budget across all tries."""
    wait_initial_s: float = 0.5
    wait_max_s: float = 20.0
    wait_jitter_s: float = 1.0
    flood_wait_s: float = 20.0
    """Wait after a flood answer. The host counts uploads per minute and sends no
    Retry-After, so a short backoff would only hit the same limit again."""


def make_http_client(
    *,
    timeout: httpx.Timeout | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """The ``AsyncClient`` to inject into :class:`CheveretoClient`; open it in main.

    ``trust_env`` stays on so that ``SSL_CERT_FILE``/``SSL_CERT_DIR`` work.
    """
    return httpx.AsyncClient(
        timeout=timeout or DEFAULT_TIMEOUT,
        transport=transport,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )


class CheveretoClient:
    """Uploads to and deletes from one Chevereto V4 site.

    The ``AsyncClient`` is borrowed, not owned: whoever made it closes it.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        api_url: str,
        *,
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        self._http = http
        self._api_url = _checked_api_url(api_url)
        self._retry = retry
        _hide_secrets_from_httpx_log()

    async def upload(
        self,
        source: UploadSource | RemoteUrl,
        *,
        key: ApiKey,
        options: UploadOptions = UploadOptions(),  # noqa: B008 (frozen: safe to share)
        progress: ProgressCallback | None = None,
        on_delay: DelayCallback | None = None,
    ) -> UploadedMedia:
        """Upload a file (streamed) or a URL (fetched by the host) with ``key``.

        Local checks come first and cost no request: :class:`MissingKey`,
        :class:`InvalidApiKey`, :class:`EmptyFile`, :class:`LinkRefused`. Transient
        failures are retried (each try re-opens the source and restarts
        ``progress``; ``on_delay`` hears of each wait); anything else is raised as the
        host's answer means it.
        """
        headers = {"X-API-Key": _header_key(key), "Accept": "application/json"}
        body = _upload_body(source, options)
        if isinstance(source, UploadSource) and source.ready is not None:
            await source.ready()
        async for attempt in self._retrying(on_delay):
            with attempt:
                try:
                    return await self._post(body, headers, progress)
                except DuplicateUpload as exc:
                    if attempt.num == 1:
                        raise
                    # A slow or cut answer may hide a stored upload: the retry then
                    # meets it. The host does not say where it is; we cannot either.
                    raise DuplicateUpload(
                        "the upload host already has this file: an earlier try may have "
                        "gone through with its answer lost",
                        code=exc.code,
                        after_lost_answer=True,
                    ) from None
        raise AssertionError("unreachable: stamina re-raises the last failure")

    async def delete(self, delete_url: SecretStr) -> DeleteOutcome:
        """Delete an upload by visiting its delete link once, redirects not followed.

        301/302/303 = deleted, 404 = already gone (or a wrong secret). A retry after
        a lost answer meets the 404 of the first try's deletion: still "gone".
        """
        url = delete_url.get_secret_value()
        if not _is_http_url(url):
            log.warning("delete: the stored delete link is not an http(s) URL")
            return DeleteOutcome.FAILED
        try:
            async for attempt in self._retrying():
                with attempt:
                    return await self._delete_once(url)
        except HostUnavailable as exc:
            log.warning("delete failed: %s", exc.message)
            return DeleteOutcome.FAILED
        raise AssertionError("unreachable: stamina re-raises the last failure")

    async def _post(
        self, body: MultipartBody, headers: dict[str, str], progress: ProgressCallback | None
    ) -> UploadedMedia:
        request = self._http.build_request(
            "POST",
            self._api_url,
            headers={**headers, **body.headers},
            content=body.stream(progress),
        )
        log.debug("upload: sending %d bytes to %s", body.content_length, self._api_url.host)
        response = await self._send(request)
        log.debug("upload: HTTP %d", response.status_code)
        return read_upload_answer(response, SentBody(size=body.content_length))

    async def _delete_once(self, url: str) -> DeleteOutcome:
        # GET is what a visit to the link does; the host deletes on any method.
        request = self._http.build_request("GET", url)
        response = await self._send(request)
        status = response.status_code
        log.debug("delete: HTTP %d", status)
        if status in _DELETED:
            if _redirects_to_itself(request.url, response.headers.get("Location")):
                # e.g. http:// -> https://: the site moved, nothing was deleted.
                log.warning("delete: the link redirects to itself on another origin")
                return DeleteOutcome.FAILED
            return DeleteOutcome.DELETED
        if status == httpx.codes.NOT_FOUND:
            return DeleteOutcome.ALREADY_GONE
        if status >= httpx.codes.INTERNAL_SERVER_ERROR:
            raise HostUnavailable(f"the upload host answered HTTP {status}")
        log.warning("delete: unexpected HTTP %d", status)
        return DeleteOutcome.FAILED

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """Send without following redirects; httpx errors become HostUnavailable."""
        try:
            return await self._http.send(request, follow_redirects=False)
        except httpx.TimeoutException:
            failure = HostUnavailable("the upload host did not answer in time")
        except httpx.HTTPError as exc:
            failure = HostUnavailable(
                f"the upload host could not be reached ({type(exc).__name__})"
            )
        # Raised outside the except block and from None: the httpx exception, whose
        # text may contain the request URL, is neither the cause nor the context.
        raise failure from None

    def _retrying(self, on_delay: DelayCallback | None = None) -> AsyncIterable[stamina.Attempt]:
        policy = self._retry
        started = time.monotonic()

        def retry_after(exc: Exception) -> bool | float:
            decision = _retry_decision(exc, policy, started)
            if decision is not False:
                metrics.RETRIES.inc()
                if on_delay is not None:
                    on_delay(exc)
            return decision

        return stamina.retry_context(
            on=retry_after,
            attempts=policy.attempts,
            timeout=policy.deadline_s,
            wait_initial=policy.wait_initial_s,
            wait_max=policy.wait_max_s,
            wait_jitter=policy.wait_jitter_s,
        )


def _retry_decision(exc: Exception, policy: RetryPolicy, started: float) -> bool | float:
    """Whether (and after how long) a failed try is tried again."""
    if not isinstance(exc, HostUnavailable) or is_storage_full(exc):
        return False
    log.info("a try failed (%s): %s", exc.kind, exc.message)
    if isinstance(exc, FloodLimited):
        wait = policy.flood_wait_s + random.uniform(0, policy.wait_jitter_s)  # noqa: S311
        # Sleeping past the deadline would only delay the same answer.
        return wait if time.monotonic() - started + wait < policy.deadline_s else False
    return True


def form_fields(options: UploadOptions) -> list[tuple[str, str]]:
    """The text fields for ``options``; the host drops empty values and "0" anyway,
    and an empty field can shadow a default, so they are never sent."""
    title = options.title[:TITLE_LIMIT] if options.title else None
    candidates = (
        ("title", title),
        ("description", options.description),
        ("tags", ",".join(tag.strip() for tag in options.tags if tag.strip())),
        ("album_id", options.album_id),
        ("category_id", options.category_id),
        ("width", str(options.width) if options.width and options.width > 0 else None),
        ("expiration", options.expiration.iso if options.expiration else None),
        ("nsfw", "1" if options.nsfw else None),
        # The default, but stated: the answer is parsed as JSON whatever the site says.
        ("format", "json"),
    )
    return [(name, value) for name, value in candidates if value and value != "0"]


def _upload_body(source: UploadSource | RemoteUrl, options: UploadOptions) -> MultipartBody:
    fields = form_fields(options)
    if isinstance(source, RemoteUrl):
        return MultipartBody([(FILE_FIELD, _checked_remote_url(source.url)), *fields])
    if source.size == 0:
        raise EmptyFile("the file is empty")
    if source.size < 0:
        raise InputError("the file's size is unknown")
    return MultipartBody(fields, source)


def _header_key(key: ApiKey) -> str:
    value = key.get_secret_value()
    if not value:
        raise MissingKey("no API key was given")
    if not is_one_word(value):
        raise InvalidApiKey(
            "an API key is one word without spaces or line breaks: copy it again from "
            "the site's settings"
        )
    return value


def _checked_api_url(api_url: str) -> httpx.URL:
    try:
        url = httpx.URL(api_url)
    except httpx.InvalidURL:
        raise ConfigurationError("PICLOUD_API_URL is not a valid URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError("PICLOUD_API_URL must be an http(s) URL")
    if url.query or url.fragment:
        # The host answers a query string with a 301 that loses the body.
        raise ConfigurationError("PICLOUD_API_URL must not have a query string")
    return url


def _checked_remote_url(url: str) -> str:
    if not _is_http_url(url):
        raise LinkRefused("only http and https links can be uploaded")
    return url


def _is_http_url(url: str) -> bool:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return False
    return parsed.scheme in ("http", "https") and bool(parsed.host) and url == url.strip()


def _redirects_to_itself(url: httpx.URL, location: str | None) -> bool:
    if not location:
        return False
    try:
        target = url.join(location)
    except httpx.InvalidURL:
        return False
    return target.path == url.path


def _hide_secrets_from_httpx_log() -> None:
    # httpx logs every request URL at INFO; for a delete that URL is the secret.
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(f, RedactingFilter) for f in httpx_log.filters):
        httpx_log.addFilter(RedactingFilter())
