"""Reaching a platform or the database at start-up: a bot started before the network
or its database is up (a machine booting, a compose file starting both at once) waits
for it instead of ending in a traceback. It says so once, then tries again with
backoff until it answers (or, given ``for_s``, until that long has passed: then the
last failure is raised). A refused token is not waited for: the caller raises it as a
configuration error."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_WAIT_S = 1.0
MAX_WAIT_S = 30.0


async def reach(
    platform: str,
    connect: Callable[[], Awaitable[T]],
    unreachable: tuple[type[BaseException], ...],
    *,
    for_s: float | None = None,
    first_wait_s: float = FIRST_WAIT_S,
) -> T:
    """``connect()``'s result once it stops raising ``unreachable``."""
    wait, waited = first_wait_s, 0.0
    while True:
        try:
            found = await connect()
        except unreachable as error:
            if for_s is not None and waited >= for_s:
                raise
            if not waited:
                how_long = f"up to {for_s:.0f} s" if for_s is not None else "(again and again)"
                log.warning(
                    "%s is unreachable (%s); waiting for it %s",
                    platform,
                    _reason(error),
                    how_long,
                )
            if for_s is not None:
                wait = min(wait, max(for_s - waited, 0.1))
            await asyncio.sleep(wait)
            waited += wait
            wait = min(wait * 2, MAX_WAIT_S)
            continue
        if waited:
            log.info("%s answered after %.0f s", platform, waited)
        return found


def _reason(error: BaseException) -> str:
    # The first line only: a library's message may go on with a URL or a traceback.
    text = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
