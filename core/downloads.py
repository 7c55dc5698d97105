"""Streaming a chat platform's file (a Bot API file, a Discord attachment) to the host.

The URL may hold a secret (a Bot API file URL holds the bot token), so failures are
reported without it and httpx's own exception, which may quote it, is dropped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from core.errors import MediaUnavailable


async def download_chunks(http: httpx.AsyncClient, url: str, platform: str) -> AsyncIterator[bytes]:
    """The file's bytes as they arrive; MediaUnavailable if ``platform`` won't serve it."""
    try:
        async with http.stream("GET", url) as response:
            if response.status_code != httpx.codes.OK:
                raise MediaUnavailable(f"{platform} answered HTTP {response.status_code}")
            async for chunk in response.aiter_bytes():
                yield chunk
    except httpx.HTTPError as exc:
        failure = MediaUnavailable(f"the download from {platform} failed ({type(exc).__name__})")
    else:
        return
    raise failure from None
