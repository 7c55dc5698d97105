"""``PICLOUD_HTTP_LISTEN``: what an operator's probes and Prometheus read.

- ``/healthz``: 200 while the event loop answers (a liveness probe).
- ``/readyz``: 200 when the database answers and every bot is connected, else 503;
  the body says which check failed (a readiness probe, a load balancer's check).
- ``/metrics``: the counters of ``core/metrics.py`` in Prometheus' text format.

Other routes (the web gallery's) are served beside them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from core.errors import ConfigurationError

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[bool]]


@asynccontextmanager
async def operations_endpoint(
    listen: str, checks: Mapping[str, Check], routes: Sequence[web.AbstractRouteDef] = ()
) -> AsyncIterator[str]:
    """Serve the three paths and ``routes`` on ``listen`` (``host:port``) while the
    context runs; yields the base URL."""
    host, _sep, port_text = listen.rpartition(":")
    if not port_text.isdigit():
        raise ConfigurationError(f"PICLOUD_HTTP_LISTEN wants host:port, not {listen!r}")
    app = web.Application()
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readiness(checks))
    app.router.add_get("/metrics", _metrics)
    app.router.add_routes(routes)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host or "0.0.0.0", int(port_text))  # noqa: S104 - meant to be reachable
    try:
        await site.start()
    except OSError as error:
        await runner.cleanup()
        raise ConfigurationError(f"cannot listen on {listen}: {error.strerror}") from None
    log.info("health and metrics on http://%s/ (healthz, readyz, metrics)", listen)
    try:
        yield f"http://{listen}"
    finally:
        await runner.cleanup()


async def _healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


def _readiness(checks: Mapping[str, Check]) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def readyz(_request: web.Request) -> web.Response:
        found = {name: await check() for name, check in checks.items()}
        status = 200 if all(found.values()) else 503
        return web.Response(
            status=status, text=json.dumps(found) + "\n", content_type="application/json"
        )

    return readyz


async def _metrics(_request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})
