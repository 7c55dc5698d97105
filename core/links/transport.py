"""An httpx client whose every TCP connection goes through the address guard.

Why a network backend: httpx connects inside httpcore, after its own lookup. The
seam where the address is chosen is ``AsyncNetworkBackend.connect_tcp(host, port)``;
ours resolves with the guard and connects to a checked IP, so

- there is exactly one lookup per connection and it is the checked one (no DNS
  rebinding between check and connect);
- redirects, retries and new pooled connections all pass the same check;
- httpcore still knows the host by name: TLS gets the right SNI and the
  certificate is verified for the name, the ``Host`` header is the original one,
  and the pool is keyed by name (a connection made for one name is not reused for
  another that resolves to the same IP).

httpx has no public parameter for a network backend, so the transport is httpx's
own with its httpcore pool swapped for one built on the guarded backend (httpx is
pinned below 0.29; a test fails loudly if that seam moves). The client is built
with an explicit transport, so no proxy from the environment applies: a proxy
would make the connection on our behalf, out of the guard's sight.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable

import httpcore
import httpx

from core.errors import LinkRefused
from core.links.guard import AddressGuard

_MAX_CONNECTIONS = 20


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's AnyIO backend, connecting only to addresses the guard approved."""

    def __init__(self, guard: AddressGuard) -> None:
        self._guard = guard
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._guard.addresses(host, port)
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        # Every address passed the guard; try them in the resolver's order.
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        assert failure is not None  # addresses is never empty
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise LinkRefused("the link fetcher does not use local sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport (exception mapping, streaming) over the guarded backend."""

    def __init__(self, guard: AddressGuard, *, ssl_context: ssl.SSLContext) -> None:
        super().__init__(verify=ssl_context, trust_env=False)
        if not isinstance(getattr(self, "_pool", None), httpcore.AsyncConnectionPool):
            raise RuntimeError("httpx.AsyncHTTPTransport no longer keeps its pool in _pool")
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=_MAX_CONNECTIONS,
            max_keepalive_connections=_MAX_CONNECTIONS,
            network_backend=GuardedBackend(guard),
        )


def make_link_client(
    guard: AddressGuard,
    *,
    timeout_s: float,
    user_agent: str,
    ssl_context: ssl.SSLContext | None = None,
) -> httpx.AsyncClient:
    """The client the link fetcher owns. Redirects are followed by hand, hop by hop.

    Without ``ssl_context`` the usual one is built, honouring ``SSL_CERT_FILE`` /
    ``SSL_CERT_DIR`` like every other outgoing HTTPS connection of the bots.
    """
    context = ssl_context or httpx.create_ssl_context(trust_env=True)
    return httpx.AsyncClient(
        transport=GuardedTransport(guard, ssl_context=context),
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=False,
        headers={"User-Agent": user_agent},
    )
