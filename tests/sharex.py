"""Using a ``.sxcu`` as ShareX does: what a ``/sharex`` test proves the file does."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from tests.fakes.media import png_bytes

JSON = dict[str, Any]


async def upload_as_sharex(sxcu: bytes, *, seed: int = 90) -> JSON:
    """Upload a picture with the uploader's own settings; its URL, ThumbnailURL and
    DeletionURL filled in from the host's answer, as ShareX fills them."""
    uploader = json.loads(sxcu)
    assert uploader["RequestMethod"] == "POST" and uploader["Body"] == "MultipartFormData"
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            uploader["RequestURL"],
            headers=uploader["Headers"],
            data=uploader["Arguments"],
            files={uploader["FileFormName"]: ("shot.png", png_bytes(seed=seed), "image/png")},
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return {name: _filled(uploader[name], body) for name in ("URL", "ThumbnailURL", "DeletionURL")}


def _filled(template: str, body: JSON) -> str:
    def value(match: re.Match[str]) -> str:
        found: Any = body
        for part in match[1].split("."):
            found = found[part]
        return str(found)

    return re.sub(r"\{json:([\w.]+)\}", value, template)
