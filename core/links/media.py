"""What a fetched body is (sniffed, never taken from headers) and what to call it."""

from __future__ import annotations

import re
import unicodedata
from email.message import Message
from pathlib import PurePosixPath

from core.chevereto.files import sniff_content_type
from core.errors import NotMedia

ACCEPTED_TYPES: dict[str, tuple[str, ...]] = {
    "image/avif": ("avif",),
    "image/jpeg": ("jpg", "jpeg"),
    "image/png": ("png",),
    "image/bmp": ("bmp",),
    "image/gif": ("gif",),
    "image/webp": ("webp",),
    "video/quicktime": ("mov",),
    "video/mp4": ("mp4",),
    "video/webm": ("webm",),
}
"""MIME types the host takes, each with its extensions (the first is the one we give)."""

# filetype names an animated PNG apart; to the host it is a PNG like any other.
_SAME_AS = {"image/apng": "image/png"}
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml")
_MAX_NAME = 120
_MAX_EXTENSION = 5
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")
DEFAULT_STEM = "link"


def media_type_of(head: bytes, declared: str | None) -> str:
    """The accepted MIME type the first bytes show, or :class:`NotMedia` saying why not."""
    sniffed = sniff_content_type(head)
    sniffed = _SAME_AS.get(sniffed or "", sniffed)
    if sniffed in ACCEPTED_TYPES:
        return sniffed
    if sniffed is None and _looks_like_html(head, declared):
        raise NotMedia("the link is a web page, not an image or video")
    what = sniffed or "an unknown kind of file"
    raise NotMedia(f"the link is not an image or video the host accepts ({what})")


def _looks_like_html(head: bytes, declared: str | None) -> bool:
    if declared and declared.split(";")[0].strip().lower() in _HTML_TYPES:
        return True
    start = head[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith(_HTML_STARTS)


def filename_for(content_disposition: str | None, url_path: str, content_type: str) -> str:
    """A safe file name, from Content-Disposition or the (decoded) URL path's last
    segment, whose extension matches what the content really is."""
    name = _disposition_name(content_disposition) or PurePosixPath(url_path).name
    return _with_extension(safe_filename(name), content_type)


def _disposition_name(value: str | None) -> str | None:
    if not value:
        return None
    # email.message knows RFC 2231/6266 ``filename*=UTF-8''...`` as well as quoting.
    header = Message()
    header["content-disposition"] = value
    try:
        return header.get_filename()
    except (ValueError, LookupError):  # a broken or unknown charset in filename*
        return None


def safe_filename(name: str) -> str:
    """A name someone else chose (a server, a sender), as the host gets it: only the
    last path segment, whichever slash it used; no control characters or names that
    upset file systems or chat clients ("" if nothing is left)."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    name = _UNSAFE.sub("_", name).strip(" ._")
    return name[:_MAX_NAME]


def _with_extension(name: str, content_type: str) -> str:
    extensions = ACCEPTED_TYPES[content_type]
    stem, dot, extension = name.rpartition(".")
    if dot and stem and extension.lower() in extensions:
        return name
    # "photo.php" served as a PNG is "photo.png"; "download" becomes "download.png",
    # and "Mr. Smith" keeps its dot.
    if not (dot and stem and extension.isalnum() and len(extension) <= _MAX_EXTENSION):
        stem = name
    return f"{stem or DEFAULT_STEM}.{extensions[0]}"
