"""A ShareX custom uploader (``.sxcu``) that uploads to the host with a user's own key:
what ``/sharex`` sends them, privately. ShareX posts the file as the form field
``source`` with the key in ``X-API-Key``, and reads the viewer, thumbnail and deletion
URLs from the host's JSON answer (``../shared/docs/upload-api.md``)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from core.refs import UserRef
from core.service.keyring import KeyRing

FILE_NAME = "picloud.sxcu"


@dataclass(frozen=True, slots=True)
class ShareX:
    keys: KeyRing
    api_url: str

    async def uploader_for(self, user: UserRef) -> bytes | None:
        """The ``.sxcu`` for ``user``'s own key; None while they have none (a shared or
        operator key is not theirs to take away)."""
        key = await self.keys.user_key(user)
        if key is None:
            return None
        return sharex_uploader(self.api_url, key.get_secret_value())


def sharex_uploader(api_url: str, key: str) -> bytes:
    uploader = {
        "Version": "16.0.0",
        "Name": "picloud",
        "DestinationType": "ImageUploader, FileUploader",
        "RequestMethod": "POST",
        "RequestURL": api_url,
        "Headers": {"X-API-Key": key},
        "Body": "MultipartFormData",
        "Arguments": {"format": "json"},
        "FileFormName": "source",
        "URL": "{json:image.url_viewer}",
        "ThumbnailURL": "{json:image.thumb.url}",
        "DeletionURL": "{json:image.delete_url}",
        "ErrorMessage": "{json:error.message}",
    }
    return json.dumps(uploader, indent=2).encode()
