"""The guarded link fetcher over real sockets on 127.0.0.1, and link finding.

Names such as ``media.example`` reach the local test server through an injected
resolver; an injected address policy lets ``127.0.0.1`` pass for a public address
where a test needs a "public" first hop (everything else keeps the real rule).
Nothing here reaches the internet.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import hashlib
import ipaddress
import os
import socket
import ssl
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.chevereto.models import UploadSource
from core.errors import EmptyFile, LinkRefused, NotMedia, TooBig
from core.links import LinkFetcher, find_links, is_public_address
from core.links.guard import PRIVATE_ADDRESS, IPAddress, ip_literal
from tests.fakes.media import big_png_file, gif_bytes, png_bytes

MIB = 1024 * 1024
PNG = png_bytes(seed=1)
HTML = b"<!DOCTYPE html>\n<html><head><title>A page</title></head><body>hi</body></html>"
PNG_HEAD = png_bytes(seed=2)
LOOPBACK = ipaddress.IPv4Address("127.0.0.1")
NAMES = {
    "media.example": ["127.0.0.1"],
    "evil.example": ["10.0.0.1"],
    "metadata.example": ["169.254.169.254"],
    "mixed.example": ["127.0.0.1", "10.0.0.1"],
}


# --- the server the links point to ------------------------------------------------------


class LinkServer:
    """Serves media, pages, redirects and misbehaving answers; records what it saw."""

    def __init__(self, big_file: Path) -> None:
        self.big_file = big_file
        self.hits: Counter[str] = Counter()
        self.hosts: list[str] = []
        self.declared_big_sent = 0
        self.declared_big_done = asyncio.Event()
        self.release = asyncio.Event()
        self.port = 0
        self._runner: web.AppRunner | None = None

    def url(self, path: str, host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._runner = web.AppRunner(self._app(), access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        await web.SockSite(self._runner, sock, ssl_context=ssl_context).start()

    async def stop(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/img.png", self._png)
        app.router.add_get("/photos/{name}", self._png)
        app.router.add_get("/download.php", self._named)
        app.router.add_get("/sneaky", self._sneaky_name)
        app.router.add_get("/page", self._page)
        app.router.add_get("/page-unlabelled", self._page_unlabelled)
        app.router.add_get("/pdf", self._pdf)
        app.router.add_get("/empty", self._empty)
        app.router.add_get("/hops/{left}", self._hops)
        app.router.add_get("/to", self._to)
        app.router.add_get("/no-location", self._no_location)
        app.router.add_get("/declared-big", self._declared_big)
        app.router.add_get("/stream", self._stream)
        app.router.add_get("/big", self._big)
        app.router.add_get("/stall", self._stall)
        app.router.add_get("/trickle", self._trickle)
        return app

    @web.middleware
    async def _record(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        self.hits[request.path] += 1
        self.hosts.append(request.host)
        return await handler(request)

    async def _png(self, _request: web.Request) -> web.Response:
        return web.Response(body=PNG, content_type="image/png")

    async def _named(self, _request: web.Request) -> web.Response:
        disposition = "attachment; filename*=UTF-8''caf%C3%A9.jpeg"
        return web.Response(body=PNG, headers={"Content-Disposition": disposition})

    async def _sneaky_name(self, _request: web.Request) -> web.Response:
        disposition = 'inline; filename="../../etc/passwd"'
        return web.Response(body=gif_bytes(), headers={"Content-Disposition": disposition})

    async def _page(self, _request: web.Request) -> web.Response:
        return web.Response(body=HTML, content_type="text/html")

    async def _page_unlabelled(self, _request: web.Request) -> web.Response:
        return web.Response(body=HTML, content_type="application/octet-stream")

    async def _pdf(self, _request: web.Request) -> web.Response:
        return web.Response(body=b"%PDF-1.4\n" + bytes(100), content_type="application/pdf")

    async def _empty(self, _request: web.Request) -> web.Response:
        return web.Response(body=b"", content_type="image/png")

    async def _hops(self, request: web.Request) -> web.Response:
        left = int(request.match_info["left"])
        if left == 0:
            return web.Response(body=PNG, content_type="image/png")
        raise web.HTTPFound(f"/hops/{left - 1}")

    async def _to(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["target"])

    async def _no_location(self, _request: web.Request) -> web.Response:
        return web.Response(status=302)

    async def _declared_big(self, request: web.Request) -> web.StreamResponse:
        """Announces 100 MiB and sends until the client hangs up."""
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        response.content_length = 100 * MIB
        await response.prepare(request)
        chunk = PNG_HEAD + bytes(64 * 1024 - len(PNG_HEAD))
        try:
            while self.declared_big_sent < 100 * MIB:
                await response.write(chunk)
                self.declared_big_sent += len(chunk)
        except (ConnectionError, RuntimeError):
            pass
        finally:
            self.declared_big_done.set()
        return response

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        """``size`` bytes of PNG-looking body, chunked: no Content-Length."""
        size = int(request.query["size"])
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(PNG_HEAD)
        left = size - len(PNG_HEAD)
        block = bytes(64 * 1024)
        try:
            while left > 0:
                await response.write(block[: min(left, len(block))])
                left -= len(block)
            await response.write_eof()
        except (ConnectionError, RuntimeError):
            pass
        return response

    async def _big(self, _request: web.Request) -> web.FileResponse:
        return web.FileResponse(self.big_file, headers={"Content-Type": "image/png"})

    async def _stall(self, request: web.Request) -> web.StreamResponse:
        await self.release.wait()
        return web.Response(body=PNG, content_type="image/png")

    async def _trickle(self, request: web.Request) -> web.StreamResponse:
        """A byte every 20 ms: never slow enough for a read timeout, never done."""
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        await response.prepare(request)
        try:
            await response.write(PNG_HEAD)
            while not self.release.is_set():
                await response.write(b"\0")
                await asyncio.sleep(0.02)
        except (ConnectionError, RuntimeError):
            pass
        return response


# --- fixtures ---------------------------------------------------------------------------


async def fake_resolver(host: str, port: int) -> list[str]:
    if host in NAMES:
        return NAMES[host]
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def loopback_is_public(ip: IPAddress) -> bool:
    """The real rule, except that 127.0.0.1 (the test server) counts as public."""
    return ip == LOOPBACK or is_public_address(ip)


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return big_png_file(tmp_path_factory.mktemp("big") / "big.png", 25 * MIB, seed=3)


@pytest.fixture
async def server(big_file: Path) -> AsyncIterator[LinkServer]:
    link_server = LinkServer(big_file)
    await link_server.start()
    yield link_server
    await link_server.stop()


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    path = tmp_path / "spool"
    path.mkdir()
    return path


FetcherFactory = Callable[..., LinkFetcher]


@pytest.fixture
async def make_fetcher(spool_dir: Path) -> AsyncIterator[FetcherFactory]:
    """Fetchers with test-sized limits and names; all closed after the test."""
    made: list[LinkFetcher] = []

    def factory(**overrides: object) -> LinkFetcher:
        options: dict[str, object] = {
            "max_bytes": 50 * MIB,
            "timeout_s": 5.0,
            "resolver": fake_resolver,
            "spool_dir": spool_dir,
        }
        options.update(overrides)
        fetcher = LinkFetcher(**options)  # type: ignore[arg-type]
        made.append(fetcher)
        return fetcher

    yield factory
    for fetcher in made:
        await fetcher.aclose()


@pytest.fixture
def fetcher(make_fetcher: FetcherFactory) -> LinkFetcher:
    """PICLOUD_ALLOW_PRIVATE_URLS=1: the address rule is off."""
    return make_fetcher(allow_private=True)


@pytest.fixture
def guarded(make_fetcher: FetcherFactory) -> LinkFetcher:
    """The real address rule, with 127.0.0.1 standing in for a public server."""
    return make_fetcher(is_allowed=loopback_is_public)


async def read_all(source: UploadSource) -> bytes:
    return b"".join([chunk async for chunk in source.open()])


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def md5_of_file(path: Path) -> str:
    return md5(path.read_bytes())


def files_in(directory: Path) -> list[Path]:
    return list(directory.iterdir())


# --- fetching media ---------------------------------------------------------------------


async def test_a_png_link_becomes_an_upload_source(
    fetcher: LinkFetcher, server: LinkServer, spool_dir: Path
) -> None:
    url = server.url("/img.png?token=secret")
    async with await fetcher.open(url) as fetched:
        source = fetched.source
        assert (source.filename, source.content_type, source.size) == (
            "img.png",
            "image/png",
            len(PNG),
        )
        assert await read_all(source) == PNG
        assert await read_all(source) == PNG  # re-openable for a retry
        assert fetched.media.ref == f"url:{url}"
        assert fetched.media.content_md5 == md5(PNG)
        assert fetched.spool is None  # small: kept in memory
    assert files_in(spool_dir) == []


async def test_the_name_comes_from_content_disposition_with_the_real_extension(
    fetcher: LinkFetcher, server: LinkServer
) -> None:
    fetched = await fetcher.open(server.url("/download.php"))
    assert (fetched.source.filename, fetched.source.content_type) == ("café.png", "image/png")


@pytest.mark.parametrize(
    ("path", "filename"),
    [
        ("/photos/cat.PNG", "cat.PNG"),
        ("/photos/holiday%20snap.php", "holiday snap.png"),
        ("/photos/Mr.%20Smith", "Mr. Smith.png"),
        ("/sneaky", "passwd.gif"),
    ],
)
async def test_the_name_from_the_url_path_gets_a_matching_extension(
    fetcher: LinkFetcher, server: LinkServer, path: str, filename: str
) -> None:
    fetched = await fetcher.open(server.url(path))
    assert fetched.source.filename == filename


async def test_a_name_resolved_by_our_resolver_keeps_its_host_header(
    guarded: LinkFetcher, server: LinkServer
) -> None:
    fetched = await guarded.open(server.url("/img.png", host="media.example"))
    assert fetched.source.size == len(PNG)
    assert server.hosts == [f"media.example:{server.port}"]


async def test_each_connection_is_made_to_the_address_that_was_checked(
    make_fetcher: FetcherFactory, server: LinkServer
) -> None:
    """A DNS rebinding answers the check with one address and the connection with
    another. The only lookup is the one at connect time, so there is nothing to rebind."""
    answers = [["127.0.0.1"], ["10.0.0.1"]]
    lookups: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        lookups.append(host)
        return answers[min(len(lookups), len(answers)) - 1]

    fetcher = make_fetcher(resolver=rebinding, is_allowed=loopback_is_public)
    fetched = await fetcher.open(server.url("/img.png", host="rebind.example"))
    assert fetched.source.size == len(PNG)
    assert lookups == ["rebind.example"]


async def test_redirects_on_one_server_reuse_the_checked_connection(
    make_fetcher: FetcherFactory, server: LinkServer
) -> None:
    lookups: list[str] = []

    async def counting(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    fetcher = make_fetcher(resolver=counting, is_allowed=loopback_is_public)
    await fetcher.open(server.url("/hops/3", host="media.example"))
    assert lookups == ["media.example"]  # four requests, one connection, one lookup


async def test_a_redirect_chain_is_followed_to_the_media(
    guarded: LinkFetcher, server: LinkServer
) -> None:
    url = server.url("/hops/5", host="media.example")
    fetched = await guarded.open(url)
    assert fetched.final_url == server.url("/hops/0", host="media.example")
    assert fetched.media.ref == f"url:{url}"
    assert await read_all(fetched.source) == PNG


async def test_more_redirects_than_allowed_are_refused(
    guarded: LinkFetcher, server: LinkServer
) -> None:
    with pytest.raises(LinkRefused, match="more than 5 redirects"):
        await guarded.open(server.url("/hops/6", host="media.example"))
    assert server.hits["/hops/0"] == 0


async def test_a_redirect_without_a_location_is_refused(
    fetcher: LinkFetcher, server: LinkServer
) -> None:
    with pytest.raises(LinkRefused, match="HTTP 302 without saying where to"):
        await fetcher.open(server.url("/no-location"))


# --- the address rule -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/a.png",
        "http://192.168.1.1/a.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/a.png",
        "http://0.0.0.0/a.png",
        "http://[::]/a.png",
        "http://100.64.0.1/a.png",
        "http://[::ffff:127.0.0.1]/a.png",
        "http://[::ffff:10.0.0.1]/a.png",
        "http://[fe80::1]/a.png",
        "http://[fd00::1]/a.png",
        "http://224.0.0.1/a.png",
        "http://255.255.255.255/a.png",
        "http://2130706433/a.png",
        "http://0x7f.1/a.png",
        "http://127.1/a.png",
    ],
)
async def test_private_ip_literals_are_refused(make_fetcher: FetcherFactory, url: str) -> None:
    fetcher = make_fetcher()
    with pytest.raises(LinkRefused, match=PRIVATE_ADDRESS):
        await fetcher.open(url)


async def test_loopback_is_refused_unless_private_urls_are_allowed(
    make_fetcher: FetcherFactory, server: LinkServer
) -> None:
    with pytest.raises(LinkRefused, match=PRIVATE_ADDRESS):
        await make_fetcher().open(server.url("/img.png"))
    assert server.hits["/img.png"] == 0
    fetched = await make_fetcher(allow_private=True).open(server.url("/img.png"))
    assert fetched.source.size == len(PNG)


async def test_localhost_by_name_is_refused_with_the_system_resolver(
    make_fetcher: FetcherFactory, server: LinkServer
) -> None:
    with pytest.raises(LinkRefused):
        await make_fetcher(resolver=None).open(server.url("/img.png", host="localhost"))
    assert sum(server.hits.values()) == 0


@pytest.mark.parametrize("host", ["evil.example", "metadata.example", "mixed.example"])
async def test_a_name_resolving_to_any_private_address_is_refused(
    guarded: LinkFetcher, server: LinkServer, host: str
) -> None:
    with pytest.raises(LinkRefused, match=PRIVATE_ADDRESS):
        await guarded.open(server.url("/img.png", host=host))
    assert sum(server.hits.values()) == 0


@pytest.mark.parametrize(
    "target",
    [
        "http://evil.example/a.png",
        "http://10.0.0.1/a.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/img.png",
        "http://mixed.example:{port}/img.png",
    ],
)
async def test_a_redirect_to_a_private_address_is_refused(
    guarded: LinkFetcher, server: LinkServer, target: str
) -> None:
    target = target.format(port=server.port)
    with pytest.raises(LinkRefused, match=PRIVATE_ADDRESS):
        await guarded.open(server.url(f"/to?target={target}", host="media.example"))
    assert server.hits["/img.png"] == 0


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("ftp://media.example/a.png", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("http://user:pw@media.example:{port}/img.png", "user name or password"),
    ],
)
async def test_each_redirect_hop_is_checked_like_the_link(
    guarded: LinkFetcher, server: LinkServer, target: str, reason: str
) -> None:
    target = target.format(port=server.port)
    with pytest.raises(LinkRefused, match=reason):
        await guarded.open(server.url(f"/to?target={target}", host="media.example"))
    assert server.hits["/img.png"] == 0


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://media.example/a.png", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("data:image/png;base64,AAAA", "only http and https"),
        ("http://user:pw@media.example/a.png", "user name or password"),
        ("https://token@media.example/a.png", "user name or password"),
        ("http:///a.png", "not a valid link"),
        ("http://media.example:99999/a.png", "not a valid link"),
    ],
)
async def test_links_of_the_wrong_form_are_refused(
    fetcher: LinkFetcher, url: str, reason: str
) -> None:
    with pytest.raises(LinkRefused, match=reason):
        await fetcher.open(url)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("1.1.1.1", True),
        ("2606:4700:4700::1111", True),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.0.1", False),
        ("127.0.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("100.127.255.254", False),
        ("0.0.0.0", False),  # noqa: S104 (an address to judge, not to bind)
        ("224.0.0.251", False),
        ("239.255.255.250", False),
        ("240.0.0.1", False),
        ("192.0.2.1", False),
        ("198.18.0.1", False),
        ("::", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:8.8.8.8", True),
        ("2002:a00:1::", False),  # 6to4 of 10.0.0.1
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
    ],
)
def test_the_address_rule(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("10.0.0.1", "10.0.0.1"),
        ("[::1]", "::1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("cafe.be", None),
        ("media.example", None),
    ],
)
def test_ip_literals_in_every_spelling(host: str, address: str | None) -> None:
    expected = None if address is None else ipaddress.ip_address(address)
    assert ip_literal(host) == expected


# --- size, time and content -------------------------------------------------------------


async def test_a_declared_length_over_the_cap_is_refused_before_downloading(
    make_fetcher: FetcherFactory, server: LinkServer, spool_dir: Path
) -> None:
    fetcher = make_fetcher(allow_private=True, max_bytes=1 * MIB)
    with pytest.raises(TooBig, match="larger than 1 MB"):
        await fetcher.open(server.url("/declared-big"))
    await asyncio.wait_for(server.declared_big_done.wait(), 5)
    assert server.hits["/declared-big"] == 1
    # The server could only fill the socket buffers before we hung up.
    assert server.declared_big_sent < 20 * MIB
    assert files_in(spool_dir) == []


async def test_a_streamed_body_past_the_cap_is_cut_off_and_leaves_no_file(
    make_fetcher: FetcherFactory, server: LinkServer, spool_dir: Path
) -> None:
    fetcher = make_fetcher(allow_private=True, max_bytes=2 * MIB)
    with pytest.raises(TooBig) as caught:
        await fetcher.open(server.url(f"/stream?size={3 * MIB}"))
    assert caught.value.max_mb == 2
    assert files_in(spool_dir) == []


async def test_a_streamed_body_under_the_cap_has_its_exact_size(
    make_fetcher: FetcherFactory, server: LinkServer, spool_dir: Path
) -> None:
    fetcher = make_fetcher(allow_private=True, max_bytes=2 * MIB)
    size = MIB + MIB // 2 + 7
    async with await fetcher.open(server.url(f"/stream?size={size}")) as fetched:
        assert fetched.source.size == size
        assert len(await read_all(fetched.source)) == size
        assert files_in(spool_dir) == [fetched.spool.path]  # type: ignore[union-attr]
    assert files_in(spool_dir) == []


async def test_a_big_file_is_spooled_with_bounded_memory(
    fetcher: LinkFetcher, server: LinkServer, spool_dir: Path, big_file: Path
) -> None:
    tracemalloc.start()
    try:
        fetched = await fetcher.open(server.url("/big"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    async with fetched:
        assert fetched.source.size == 25 * MIB
        assert peak < 5 * MIB  # server and client together, for a 25 MiB file
        digest = hashlib.md5(usedforsecurity=False)
        async for chunk in fetched.source.open():
            digest.update(chunk)
        assert digest.hexdigest() == fetched.content_md5 == md5_of_file(big_file)
        assert len(files_in(spool_dir)) == 1
    assert files_in(spool_dir) == []


async def test_spool_files_left_by_a_killed_process_go_at_the_next_start(
    make_fetcher: FetcherFactory, server: LinkServer, spool_dir: Path
) -> None:
    finished = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await finished.wait()
    gone = finished.pid
    left = spool_dir / f"picloud-link-{gone}-x1.part"
    mine = spool_dir / f"picloud-link-{os.getpid()}-x2.part"  # a running instance's
    other = spool_dir / "notes.part"
    for path in (left, mine, other):
        path.write_bytes(b"half a file")

    async with make_fetcher(allow_private=True) as fetcher:
        assert sorted(files_in(spool_dir)) == sorted([mine, other])
        # What this process spools is named after it, for the next sweep.
        async with await fetcher.open(server.url(f"/stream?size={2 * MIB}")):
            spooled = set(files_in(spool_dir)) - {mine, other}
            assert [path.name.split("-")[2] for path in spooled] == [str(os.getpid())]


async def test_the_temp_file_goes_even_when_the_upload_fails(
    fetcher: LinkFetcher, server: LinkServer, spool_dir: Path
) -> None:
    async def upload_that_fails() -> None:
        async with await fetcher.open(server.url(f"/stream?size={2 * MIB}")):
            assert len(files_in(spool_dir)) == 1
            raise RuntimeError("the host went away")

    with pytest.raises(RuntimeError):
        await upload_that_fails()
    assert files_in(spool_dir) == []


async def test_a_reopened_link_refetches_and_cleans_up_after_itself(
    fetcher: LinkFetcher, server: LinkServer, spool_dir: Path
) -> None:
    url = server.url(f"/stream?size={2 * MIB}")
    source = await fetcher.reopen(url)
    assert source.size == 2 * MIB
    assert len(files_in(spool_dir)) == 1
    del source
    gc.collect()  # the service dropped the source: its file goes with it
    assert files_in(spool_dir) == []

    kept = await fetcher.reopen(url)
    await fetcher.aclose()  # shutting down removes what is still held
    assert files_in(spool_dir) == []
    assert kept.size == 2 * MIB


async def test_a_server_that_does_not_answer_times_out(
    make_fetcher: FetcherFactory, server: LinkServer
) -> None:
    fetcher = make_fetcher(allow_private=True, timeout_s=0.3)
    started = time.monotonic()
    with pytest.raises(LinkRefused, match="could not fetch the link"):
        await fetcher.open(server.url("/stall"))
    assert time.monotonic() - started < 3


async def test_the_time_cap_covers_the_whole_download(
    make_fetcher: FetcherFactory, server: LinkServer, spool_dir: Path
) -> None:
    """A byte every 20 ms never trips a read timeout; the total deadline still does."""
    fetcher = make_fetcher(allow_private=True, timeout_s=0.5)
    with pytest.raises(LinkRefused, match=r"no complete answer within 0\.5 s"):
        await fetcher.open(server.url("/trickle"))
    assert files_in(spool_dir) == []


async def test_an_http_error_is_named(fetcher: LinkFetcher, server: LinkServer) -> None:
    with pytest.raises(LinkRefused, match="HTTP 404"):
        await fetcher.open(server.url("/missing"))


async def test_an_unreachable_server_is_named(fetcher: LinkFetcher) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(LinkRefused, match="could not be reached"):
        await fetcher.open(f"http://127.0.0.1:{port}/a.png")


async def test_an_unknown_name_is_named(fetcher: LinkFetcher) -> None:
    with pytest.raises(LinkRefused, match="server name was not found"):
        await fetcher.open("http://nowhere.example/a.png")


@pytest.mark.parametrize("path", ["/page", "/page-unlabelled"])
async def test_a_web_page_is_not_media(fetcher: LinkFetcher, server: LinkServer, path: str) -> None:
    with pytest.raises(NotMedia, match="the link is a web page, not an image or video"):
        await fetcher.open(server.url(path))


async def test_other_files_are_not_media(fetcher: LinkFetcher, server: LinkServer) -> None:
    with pytest.raises(NotMedia, match="application/pdf"):
        await fetcher.open(server.url("/pdf"))


async def test_an_empty_body_is_refused(fetcher: LinkFetcher, server: LinkServer) -> None:
    with pytest.raises(EmptyFile):
        await fetcher.open(server.url("/empty"))


# --- TLS: the connection goes to the checked IP, the certificate is checked by name ----


def _certificates(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A throwaway CA and a certificate for media.example: (server, client) contexts."""
    now = dt.datetime.now(dt.UTC)

    def build(
        subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        build("test CA", ca_key, ca_name)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        build("media.example", leaf_key, ca_name)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("media.example")]), False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "leaf.pem", tmp_path / "leaf.key"
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)
    client_context = ssl.create_default_context(
        cadata=ca.public_bytes(serialization.Encoding.PEM).decode()
    )
    return server_context, client_context


async def test_https_is_verified_for_the_name_while_connecting_to_the_checked_ip(
    make_fetcher: FetcherFactory, big_file: Path, tmp_path: Path
) -> None:
    server_context, client_context = _certificates(tmp_path)
    tls_server = LinkServer(big_file)
    await tls_server.start(ssl_context=server_context)
    try:
        fetcher = make_fetcher(is_allowed=loopback_is_public, ssl_context=client_context)
        url = tls_server.url("/img.png", host="media.example", scheme="https")
        fetched = await fetcher.open(url)
        assert await read_all(fetched.source) == PNG
        # The same server by IP: the certificate does not name it, so no.
        with pytest.raises(LinkRefused, match="secure connection could not be verified"):
            await fetcher.open(tls_server.url("/img.png", scheme="https"))
    finally:
        await tls_server.stop()


# --- finding links in text --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "links"),
    [
        ("look https://x.y/a.png", ["https://x.y/a.png"]),
        ("(see https://x.y/a.png).", ["https://x.y/a.png"]),
        ("https://x.y/a.png, https://x.y/b.png!", ["https://x.y/a.png", "https://x.y/b.png"]),
        ("is it https://x.y/a.png?", ["https://x.y/a.png"]),
        ('"https://x.y/a.png"', ["https://x.y/a.png"]),
        ("<https://x.y/a.png>", ["https://x.y/a.png"]),
        ("[https://x.y/a.png]", ["https://x.y/a.png"]),
        (
            "https://en.wikipedia.org/wiki/Bracket_(disambiguation)",
            ["https://en.wikipedia.org/wiki/Bracket_(disambiguation)"],
        ),
        (
            "(https://en.wikipedia.org/wiki/Bracket_(disambiguation))",
            ["https://en.wikipedia.org/wiki/Bracket_(disambiguation)"],
        ),
        ("https://x.y/a.png?size=large&v=2.", ["https://x.y/a.png?size=large&v=2"]),
        ("HTTP://X.Y/A.PNG", ["HTTP://X.Y/A.PNG"]),
        (
            "https://x.y/a.png https://x.y/a.png http://x.y/a.png",
            [
                "https://x.y/a.png",
                "http://x.y/a.png",
            ],
        ),
        ("ftp://x.y/a.png file:///etc/passwd javascript:alert(1)", []),
        ("mailto:a@b.c www.x.y/a.png", []),
        ("xhttps://x.y/a.png", []),
        ("https:// nothing", []),
        ("", []),
        ("line one\nhttps://x.y/a.png\nline three", ["https://x.y/a.png"]),
        ("**https://x.y/a.png**", ["https://x.y/a.png"]),
    ],
)
def test_find_links(text: str, links: list[str]) -> None:
    assert find_links(text) == links


def test_find_links_prefers_the_platforms_entities() -> None:
    text = "a hidden link and https://x.y/visible.png"
    entities = [" https://x.y/hidden.png ", "tg://user?id=1", "https://x.y/hidden.png"]
    assert find_links(text, entities) == ["https://x.y/hidden.png"]
