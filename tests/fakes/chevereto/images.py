"""ImageStore: storing an accepted upload and building the ``image`` object of its JSON
answer: the stored files' names and URLs, sizes, tags, expiry and video fields."""

from __future__ import annotations

import secrets
from typing import Any

from tests.fakes.chevereto.fields import (
    duration_time,
    encode_id,
    expiration_seconds,
    format_bytes,
    gmt,
    parse_tags,
    slugify,
    title_from_filename,
)
from tests.fakes.chevereto.forms import Source
from tests.fakes.chevereto.models import MEDIUM_WIDTH, TITLE_LIMIT, StoredUpload
from tests.fakes.chevereto.sniffing import MediaType, dimensions, is_animated, mp4_duration
from tests.fakes.chevereto.state import EmulatorState


class ImageStore(EmulatorState):
    """Storing an accepted upload and building its ``image`` JSON object."""

    def _store(
        self,
        key: str,
        fields: dict[str, str],
        source: Source,
        found: MediaType,
        remote: str,
        now: float,
    ) -> StoredUpload:
        id_encoded = encode_id(self._next_id)
        self._next_id += 1
        title = (fields.get("title") or title_from_filename(source.filename))[:TITLE_LIMIT]
        expires_in = expiration_seconds(fields.get("expiration"))
        upload = StoredUpload(
            id_encoded=id_encoded,
            md5=source.md5,
            size=source.size,
            mime=found.mime,
            media_type=found.kind,
            title=title,
            delete_secret=secrets.token_hex(24),
            key=key,
            fields={k: v for k, v in fields.items() if k not in ("key", "source")},
            expiration_seconds=expires_in,
            remote=remote,
            uploaded_at=now,
            image={},
        )
        upload.image = self._image_json(upload, source, found, fields)
        self.uploads[id_encoded] = upload
        return upload

    def _image_json(
        self, upload: StoredUpload, source: Source, found: MediaType, fields: dict[str, str]
    ) -> dict[str, Any]:
        """The ``image`` object of the answer, shaped like the seed example."""
        base = self.base_url
        date = gmt(upload.uploaded_at)
        width, height = self._reported_size(found, source.head, fields.get("width"))
        files = self._place_files(upload, source.filename, found, width, date)
        medium = files.get("medium", _NULL_FILE)
        display = files.get("frame") or files.get("medium") or files["image"]
        path_viewer = _path_viewer(found.kind, upload.title, upload.id_encoded)
        tags = parse_tags(fields.get("tags"))
        expiry = upload.expiration_seconds
        image: dict[str, Any] = {
            "name": files["image"]["name"],
            "extension": found.extension,
            "size": upload.size,
            "width": width,
            "height": height,
            "date": date,
            "date_gmt": date,
            "title": upload.title or None,
            "tags": [{"name": tag, "url": f"{base}/tag/{tag}"} for tag in tags],
            "description": fields.get("description"),
            "nsfw": 1 if fields.get("nsfw") == "1" else 0,
            "storage_mode": "datefolder",
            "checksum": upload.md5,
            "source_checksum": None,
            "original_filename": source.filename or None,
            "original_exifdata": None,
            "views": 0,
            "category_id": None,
            "chain": 21 if "frame" in files else 7,
            "thumb_size": files["thumb"]["size"],
            "medium_size": medium.get("size") or 0,
            "expiration_date_gmt": None if expiry is None else gmt(upload.uploaded_at + expiry),
            "likes": 0,
            "is_animated": 1 if is_animated(found, source.head) else 0,
            "is_approved": 0 if self.moderation else 1,
            "is_360": 0,
            "type": found.kind,
            "tags_string": ",".join(tags),
            "file": {"resource": {"type": source.resource}},
            "id_encoded": upload.id_encoded,
            "filename": files["image"]["filename"],
            "mime": found.mime,
            "url": files["image"]["url"],
            "ratio": width / height,
            "size_formatted": format_bytes(upload.size),
            "image": files["image"],
            "thumb": files["thumb"],
            "medium": medium,
            "url_viewer": base + path_viewer,
            "path_viewer": path_viewer,
            "url_short": f"{base}/{found.kind}/{upload.id_encoded}",
            "display_url": display["url"],
            "display_width": width,
            "display_height": height,
            "views_label": "views",
            "likes_label": "likes",
            "how_long_ago": "moments ago",
            "date_fixed_peer": date,
            "title_truncated": _truncate(upload.title),
            "title_truncated_html": _truncate(upload.title),
            "is_use_loader": False,
            "display_title": upload.title,
            "delete_url": f"{base}/{found.kind}/{upload.id_encoded}/delete/{upload.delete_secret}",
        }
        if "frame" in files:
            image.update(_video_fields(files["frame"], source.head))
        return image

    def _place_files(
        self, upload: StoredUpload, filename: str, found: MediaType, width: int, date: str
    ) -> dict[str, dict[str, Any]]:
        """Name the stored files (original, thumb, medium, frame) and serve them."""
        folder = "/images/" + date[:10].replace("-", "/") + "/"
        name = slugify(title_from_filename(filename), 64) or upload.id_encoded
        if folder + f"{name}.{found.extension}" in self._files:
            name = f"{name}.{upload.id_encoded}"  # the real server adds random characters
        video = found.kind == "video"
        thumb_extension = "jpeg" if video else found.extension
        specs = {
            "image": (f"{name}.{found.extension}", found.mime, upload.size),
            "thumb": (f"{name}.th.{thumb_extension}", f"image/{thumb_extension}", 2000),
        }
        if video:
            specs["frame"] = (f"{name}.fr.jpeg", "image/jpeg", 2000)
        elif width > MEDIUM_WIDTH:
            specs["medium"] = (f"{name}.md.{found.extension}", found.mime, upload.size // 2)
        for stored_name, _, _ in specs.values():
            self._files[folder + stored_name] = upload.id_encoded
        return {part: _file_json(self.base_url + folder, *spec) for part, spec in specs.items()}

    @staticmethod
    def _reported_size(found: MediaType, head: bytes, requested: str | None) -> tuple[int, int]:
        width, height = dimensions(found, head)
        resizable = found.kind == "image" and not is_animated(found, head)
        if resizable and requested and requested.isdigit() and 0 < int(requested) < width:
            target = int(requested)
            return target, max(1, round(height * target / width))
        return width, height


_NULL_FILE: dict[str, Any] = dict.fromkeys(("filename", "name", "mime", "extension", "url"))


def _file_json(folder_url: str, filename: str, mime: str, size: int) -> dict[str, Any]:
    name, extension = filename.rsplit(".", 1)
    return {
        "filename": filename,
        "name": name,
        "mime": mime,
        "extension": extension,
        "url": folder_url + filename,
        "size": size,
    }


def _path_viewer(kind: str, title: str, id_encoded: str) -> str:
    slug = slugify(title)
    return f"/{kind}/{slug}.{id_encoded}" if slug else f"/{kind}/{id_encoded}"


def _video_fields(frame: dict[str, Any], head: bytes) -> dict[str, Any]:
    duration = mp4_duration(head)
    return {
        "frame_size": frame["size"],
        "duration": duration,
        "duration_time": duration_time(duration),
        "frame": frame,
        "url_frame": frame["url"],
    }


def _truncate(title: str) -> str:
    return title if len(title) <= 28 else title[:25] + "..."
