"""A reverse proxy in front of several bot instances, as an operator's nginx is: one
address that Telegram posts every update to, each update passed on to one instance.

    async with Balancer([f"http://127.0.0.1:{port}" for port in ports], "/telegram") as one:
        ...  # TELEGRAM_WEBHOOK_URL=one.url for every instance
        one.next_to(1)  # the next update goes to the second instance (else: in turn)

``passed`` lists what went where: ``(update_id, instance index, HTTP status)``. The
answer and its status are the instance's, as a proxy's are; an instance that does not
answer makes a 502.
"""

from __future__ import annotations

import itertools
import json

import aiohttp
from aiohttp import web

from tests.fakes.server import LocalServer

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class Balancer(LocalServer):
    def __init__(self, instances: list[str], path: str) -> None:
        super().__init__()
        self._instances = instances
        self._path = path
        self._turns = itertools.cycle(range(len(instances)))
        self._chosen: int | None = None
        self.passed: list[tuple[int, int, int]] = []

    @property
    def url(self) -> str:
        return f"{self.base_url}{self._path}"

    def next_to(self, index: int) -> None:
        """The next update goes to instance ``index`` (then they take turns again)."""
        self._chosen = index

    def _make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(self._path, self._pass_on)
        return app

    async def _pass_on(self, request: web.Request) -> web.Response:
        body = await request.read()
        index = next(self._turns) if self._chosen is None else self._chosen
        self._chosen = None
        headers = {"Content-Type": "application/json"}
        if secret := request.headers.get(SECRET_HEADER):
            headers[SECRET_HEADER] = secret
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
                session.post(
                    self._instances[index] + self._path, data=body, headers=headers
                ) as answer,
            ):
                status, content = answer.status, await answer.read()
        except aiohttp.ClientError:
            status, content = 502, b""
        self.passed.append((json.loads(body).get("update_id", 0), index, status))
        return web.Response(status=status, body=content)
