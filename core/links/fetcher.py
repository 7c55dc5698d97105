"""The guarded link fetcher: a user's link in, a re-openable upload source out.

::

    async with LinkFetcher(max_bytes=settings.max_upload_bytes,
                           allow_private=settings.allow_private_urls) as links:
        service.register_opener(LINK_SCHEME, links.reopen)   # resume after a restart
        ...
        async with await links.open(url) as fetched:          # temp file gone on exit
            view = await service.upload(UploadRequest(user=user, media=fetched.media))

Every hop (the link, then each redirect, followed by hand up to ``max_redirects``)
must be http(s) without credentials, and every connection goes to an address the
guard approved (:mod:`core.links.guard`, :mod:`core.links.transport`). The body is
refused as soon as it is known to be too big (Content-Length, then counting), and
unless its first bytes show an image or video the host accepts. The whole fetch
has one deadline, ``timeout_s``.

This is an HTTP edge: httpx exceptions stop here and leave as :mod:`core.errors`
raised ``from None``. Only the link's host is logged: paths and queries of user
links may carry tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import weakref
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import httpx

from core.chevereto.client import USER_AGENT
from core.chevereto.files import SNIFF_BYTES
from core.chevereto.models import UploadSource
from core.errors import EmptyFile, LinkRefused
from core.links.guard import AddressGuard, AddressPolicy, Resolver
from core.links.media import filename_for, media_type_of
from core.links.spool import MEMORY_LIMIT, Spool, SpoolFile, sweep, too_big
from core.links.transport import make_link_client
from core.service.types import MediaInput

log = logging.getLogger(__name__)

LINK_SCHEME = "url"
"""The ``scheme`` of a fetched link's ``MediaInput.ref``: ``url:<the link>``."""

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_REDIRECT_BODY_LIMIT = 64 * 1024
_REQUEST_HEADERS = {
    "Accept": "image/*,video/*;q=0.9,*/*;q=0.1",
    # The size we are told is then the size we get, and nothing to inflate.
    "Accept-Encoding": "identity",
}


def link_ref(url: str) -> str:
    return f"{LINK_SCHEME}:{url}"


@dataclass(frozen=True, slots=True, eq=False)
class FetchedLink:
    """A fetched link, ready to upload. Close it (or use ``async with``) when done:
    a large body lives in a temporary file until then."""

    url: str
    """The link as given; the ref that refetches it after a restart."""
    final_url: str
    """Where the last redirect led."""
    source: UploadSource
    content_md5: str
    spool: SpoolFile | None = field(default=None, repr=False)

    @property
    def media(self) -> MediaInput:
        return MediaInput(ref=link_ref(self.url), source=self.source, content_md5=self.content_md5)

    async def aclose(self) -> None:
        if self.spool is not None:
            await asyncio.to_thread(self.spool.discard)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()


class LinkFetcher:
    """Fetches users' links without letting them reach inside our network.

    Owns its HTTP client (the address guard lives in its transport, so a client
    built elsewhere could not carry it): open it with ``async with`` in main.
    ``allow_private`` is ``PICLOUD_ALLOW_PRIVATE_URLS``. ``resolver``, ``is_allowed``
    and ``ssl_context`` are for tests; ``spool_dir`` is where large bodies wait
    (the system temporary directory by default).
    """

    def __init__(
        self,
        *,
        max_bytes: int,
        allow_private: bool = False,
        timeout_s: float = 30.0,
        max_redirects: int = 5,
        resolver: Resolver | None = None,
        is_allowed: AddressPolicy | None = None,
        ssl_context: ssl.SSLContext | None = None,
        spool_dir: Path | None = None,
        memory_limit: int = MEMORY_LIMIT,
    ) -> None:
        if max_bytes < 1 or timeout_s <= 0 or max_redirects < 0:
            raise ValueError("max_bytes and timeout_s must be positive, max_redirects not negative")
        self._max_bytes = max_bytes
        self._timeout_s = timeout_s
        self._max_redirects = max_redirects
        self._spool_dir = spool_dir
        self._memory_limit = memory_limit
        self._guard = AddressGuard(
            allow_private=allow_private, resolver=resolver, is_allowed=is_allowed
        )
        self._http = make_link_client(
            self._guard, timeout_s=timeout_s, user_agent=USER_AGENT, ssl_context=ssl_context
        )
        # Spool files still readable by someone; aclose() removes the ones left.
        self._spools: weakref.WeakSet[SpoolFile] = weakref.WeakSet()

    async def open(self, url: str) -> FetchedLink:
        """Fetch ``url`` into an upload source, or raise a :class:`PicloudError`:
        :class:`LinkRefused` (scheme, credentials, private address, unreachable,
        timed out, HTTP error, redirects), :class:`TooBig`, :class:`NotMedia`,
        :class:`EmptyFile`."""
        url = url.strip()
        try:
            async with asyncio.timeout(self._timeout_s):
                with _translated_errors():
                    return await self._follow(url)
        except TimeoutError:
            raise LinkRefused(
                f"could not fetch the link: no complete answer within {self._timeout_s:g} s"
            ) from None

    async def reopen(self, rest: str) -> UploadSource:
        """The ``SourceOpener`` for ``url:`` refs: fetch the link again after a restart.

        The spool file, if any, goes when the service drops the source (or at
        :meth:`aclose`)."""
        return (await self.open(rest)).source

    async def aclose(self) -> None:
        for spool in list(self._spools):
            await asyncio.to_thread(spool.discard)
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        # What killed processes left in the spool directory goes as this one starts.
        if swept := await asyncio.to_thread(sweep, self._spool_dir):
            log.info("removed %d spool files left by processes that were killed", swept)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    # -- one fetch ----------------------------------------------------------------

    async def _follow(self, url: str) -> FetchedLink:
        current = self._checked(url)
        for _hop in range(self._max_redirects + 1):
            request = self._http.build_request("GET", current, headers=_REQUEST_HEADERS)
            response = await self._http.send(request, stream=True)
            try:
                target = _redirect_target(response)
                if target is None:
                    return await self._take(url, response)
                await _drain(response)
            finally:
                await response.aclose()
            current = self._checked(target)
        raise LinkRefused(f"could not fetch the link: more than {self._max_redirects} redirects")

    def _checked(self, url: str | httpx.URL) -> httpx.URL:
        """The URL, if its form is one we fetch; the address is checked at connect."""
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            raise LinkRefused("this is not a valid link") from None
        if parsed.scheme not in ("http", "https"):
            raise LinkRefused("only http and https links can be fetched")
        if parsed.userinfo:
            raise LinkRefused("links with a user name or password are not accepted")
        port = parsed.port
        if not parsed.host or (port is not None and not 0 < port < 65536):
            raise LinkRefused("this is not a valid link")
        # An IP literal needs no lookup: refuse it before any connection is tried.
        self._guard.check_literal(parsed.raw_host.decode("ascii"))
        return parsed

    async def _take(self, url: str, response: httpx.Response) -> FetchedLink:
        """Check and keep the body of the final answer."""
        _check_answer(response, self._max_bytes)
        chunks = response.aiter_bytes()
        head = await _read_head(chunks)
        if not head:
            raise EmptyFile("the linked file is empty")
        content_type = media_type_of(head, response.headers.get("content-type"))
        spool, body = await self._keep(head, chunks)
        filename = filename_for(
            response.headers.get("content-disposition"), response.url.path, content_type
        )
        log.info(
            "fetched a link from %s: %s, %d bytes", response.url.host, content_type, spool.size
        )
        if isinstance(body, bytes):
            source = UploadSource.from_bytes(body, filename, content_type)
            return FetchedLink(url, str(response.url), source, spool.md5)
        self._spools.add(body)
        source = UploadSource.from_stream(
            body, size=spool.size, filename=filename, content_type=content_type
        )
        return FetchedLink(url, str(response.url), source, spool.md5, spool=body)

    async def _keep(
        self, head: bytes, rest: AsyncIterator[bytes]
    ) -> tuple[Spool, bytes | SpoolFile]:
        """The whole body, counted against the cap: in memory if small, else on disk."""
        spool = Spool(
            max_bytes=self._max_bytes, directory=self._spool_dir, memory_limit=self._memory_limit
        )
        try:
            await spool.write(head)
            async for chunk in rest:
                await spool.write(chunk)
            return spool, await spool.finish()
        except BaseException:  # refused, broken off, timed out or cancelled: no leftovers
            spool.discard()
            raise


def _check_answer(response: httpx.Response, max_bytes: int) -> None:
    if not response.is_success:
        raise LinkRefused(
            f"could not fetch the link: the server answered HTTP {response.status_code}"
        )
    declared = _declared_length(response)
    if declared is not None and declared > max_bytes:
        raise too_big(max_bytes)  # before a single byte of the body is read


def _redirect_target(response: httpx.Response) -> httpx.URL | None:
    if response.status_code not in _REDIRECTS:
        return None
    location = response.headers.get("location")
    if not location:
        raise LinkRefused(
            f"could not fetch the link: the server answered HTTP {response.status_code}"
            " without saying where to"
        )
    try:
        return response.url.join(location)
    except httpx.InvalidURL:
        raise LinkRefused("could not fetch the link: it redirects to an invalid address") from None


async def _drain(response: httpx.Response) -> None:
    """Read a redirect's little body so that its connection can serve the next hop;
    a big one is left unread (closing the response then drops the connection)."""
    read = 0
    async for chunk in response.aiter_raw():
        read += len(chunk)
        if read > _REDIRECT_BODY_LIMIT:
            return


def _declared_length(response: httpx.Response) -> int | None:
    try:
        return int(response.headers["content-length"])
    except (KeyError, ValueError):
        return None


async def _read_head(chunks: AsyncIterator[bytes]) -> bytes:
    """At least the bytes a sniffer needs (or the whole body, if shorter)."""
    head = bytearray()
    async for chunk in chunks:
        head += chunk
        if len(head) >= SNIFF_BYTES:
            break
    return bytes(head)


@contextlib.contextmanager
def _translated_errors() -> Iterator[None]:
    """httpx's exceptions as the user's reason; their text (with the URL) stays here."""
    try:
        yield
    except httpx.TimeoutException:
        raise LinkRefused("could not fetch the link: the server took too long to answer") from None
    except httpx.ConnectError as error:
        reason = (
            "its secure connection could not be verified"
            if _caused_by_tls(error)
            else "the server could not be reached"
        )
        raise LinkRefused(f"could not fetch the link: {reason}") from None
    except (httpx.InvalidURL, httpx.UnsupportedProtocol):
        raise LinkRefused("this is not a valid link") from None
    except httpx.HTTPError:
        raise LinkRefused("could not fetch the link: the download broke off") from None


def _caused_by_tls(error: BaseException) -> bool:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False
