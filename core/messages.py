"""What a person reads when something goes wrong: one sentence on what happened and
one on what to do, in their language, the same in every front-end."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from core.errors import (
    BadKey,
    DatabaseUnavailable,
    DuplicateUpload,
    EmptyFile,
    FloodLimited,
    HostUnavailable,
    InputError,
    InvalidApiKey,
    InvalidExpiry,
    LinkRefused,
    LostAnswer,
    MediaUnavailable,
    MissingKey,
    NotFound,
    NotMedia,
    PermissionDenied,
    PicloudError,
    RequestDenied,
    TooBig,
    UrlUploadsDisabled,
)
from core.i18n import Translator
from core.refs import Platform, UserRef
from core.service.stats import Stats
from core.service.types import LostCopy


@dataclass(frozen=True, slots=True)
class Hints:
    """Front-end words the messages point to (commands differ per platform)."""

    set_key: str
    """How to store a key, e.g. ``/setkey KEY`` or ``/key set``."""
    settings_url: str
    """Where a user finds their API key on the site."""


def api_key_page(api_url: str) -> str:
    """The site's API key settings page, from its upload endpoint."""
    url = httpx.URL(api_url)
    return str(url.copy_with(path="/settings/api", query=None, fragment=None))


def describe_delay(error: Exception, _: Translator) -> str:
    """What a person waiting reads while an upload waits out a passing failure."""
    if isinstance(error, FloodLimited):
        return _(
            "The upload host is busy (too many uploads this minute). Your upload waits "
            "and finishes by itself; this message becomes its answer."
        )
    if isinstance(error, DatabaseUnavailable):
        return _("Busy, retrying… Your upload goes on by itself in a moment.")
    return _("The upload host is not answering; retrying by itself…")


def describe_error(error: PicloudError, _: Translator, hints: Hints) -> str:
    if isinstance(error, MissingKey):
        return _(
            "You have no picloud API key yet. Get yours at {url} and store it with {command}."
        ).format(url=hints.settings_url, command=hints.set_key)
    if isinstance(error, BadKey):
        return _(
            "The upload host refused the API key. Copy it again from {url} and store it "
            "with {command}."
        ).format(url=hints.settings_url, command=hints.set_key)
    if isinstance(error, TooBig):
        if error.max_mb:
            return _("The file is too big: the limit is {max_mb} MB.").format(max_mb=error.max_mb)
        return _("The file is too big for the upload host.")
    if isinstance(error, NotMedia):
        return _(
            "This is not an image or video the host accepts (JPG, PNG, GIF, WebP, BMP, "
            "AVIF, MP4, MOV, WebM)."
        )
    if isinstance(error, LostAnswer):
        site = str(httpx.URL(hints.settings_url).copy_with(path="/"))
        return _(
            "The host stored this file on an earlier try, but its answer never reached me, "
            "so I have no link or delete button for it. It is among your images on {site} "
            "(sign in there to see or delete it)."
        ).format(site=site)
    if isinstance(error, DuplicateUpload):
        return _(
            "The host already has this file from this bot and will not take it again "
            "for 24 hours. It was not uploaded with your key, so there is no link to show."
        )
    if isinstance(error, FloodLimited):
        return _("The upload host is busy (too many uploads this minute). Try again in a minute.")
    if isinstance(error, HostUnavailable):
        return _("The upload host is not answering right now. Try again in a few minutes.")
    if isinstance(error, RequestDenied):
        return _("The upload host does not allow uploads with this key.")
    if isinstance(error, UrlUploadsDisabled):
        return _("The upload host does not accept links; send the file itself.")
    if isinstance(error, MediaUnavailable):
        return _("The file could not be fetched from the chat. Send it again in a moment.")
    if isinstance(error, PermissionDenied):
        return _("Only the uploader or a chat admin can do that.")
    if isinstance(error, NotFound):
        return _("That upload is no longer known; the button may be too old.")
    if isinstance(error, InvalidExpiry):
        return _(
            "That expiry is not one I know: use 10m, 2h, 3d, 1w, 1mo or 1y "
            "(from 5 minutes to 1 year)."
        )
    if isinstance(error, InvalidApiKey):
        return _("That is not an API key: it has no spaces or line breaks. Copy it again.")
    if isinstance(error, EmptyFile):
        return _("The file is empty.")
    if isinstance(error, LinkRefused):
        # The reason is the fetcher's own short English words (unreachable, HTTP 404…).
        return _("That link cannot be fetched ({reason}).").format(reason=error.message)
    if isinstance(error, InputError):
        return error.message
    if isinstance(error, DatabaseUnavailable):
        return _("The bot is busy right now. Try again in a minute.")
    return _("Something went wrong on our side. Try again later.")


def describe_lost_copies(copies: Sequence[LostCopy], _: Translator, hints: Hints) -> str:
    """The part of ``/history`` about copies the host holds without a link."""
    site = str(httpx.URL(hints.settings_url).copy_with(path="/"))
    lines = [
        _(
            "The host also holds these without a link (its answer never reached me); "
            "find them among your images on {site}:"
        ).format(site=site)
    ]
    for copy in copies:
        when = copy.sent_at.strftime("%Y-%m-%d %H:%M UTC")
        md5 = f", md5 {copy.content_md5[:12]}…" if copy.content_md5 else ""
        lines.append(f"• {copy.name}, {when}{md5}")
    return "\n".join(lines)


def mirroring_status(mirroring: bool, shared_key: bool, _: Translator) -> str:
    """What ``/mirror status`` says, the same in every front-end."""
    lines = [
        _("Mirroring is on: every photo, video, GIF, file and media link posted here is uploaded.")
        if mirroring
        else _("Mirroring is off."),
        _("Shared key: set (used for members without their own key).")
        if shared_key
        else _("Shared key: none (members need their own key)."),
    ]
    return "\n".join(lines)


def sharex_warning(_: Translator, remove_key: str) -> str:
    """What goes with a ShareX uploader, on every platform (``remove_key``: its command
    to forget the key)."""
    return _(
        "Your ShareX uploader. It holds your API key: whoever has this file can upload "
        "as you, so keep it to yourself (a new key on the site takes it back; {command} "
        "only makes me forget it). In ShareX: Destinations → Custom uploader settings → "
        "Import, or open the file."
    ).format(command=remove_key)


def describe_stats(
    stats: Stats, _: Translator, platform: Platform, mention: Callable[[str], str]
) -> str:
    """Uploads and bytes per period, the top uploaders of the longest, and failures by
    kind when counted. ``mention`` shows a user of ``platform`` by id as it can (we keep
    no names); another platform's user reads ``platform:id``."""

    def name_of(user: UserRef) -> str:
        return mention(user.user_id) if user.platform is platform else user.qualified

    lines = [
        _("{days} days: uploads {count}, {size}").format(
            days=period.days, count=period.uploads, size=human_bytes(period.bytes)
        )
        for period in stats.periods
    ]
    longest = stats.periods[-1]
    if longest.top:
        top = ", ".join(f"{name_of(user)} ({count})" for user, count in longest.top)
        lines.append(_("Top uploaders, {days} days: {top}").format(days=longest.days, top=top))
    if stats.errors:
        failures = ", ".join(f"{kind} {count}" for kind, count in stats.errors.items())
        lines.append(
            _("Failures, {days} days: {failures}").format(days=longest.days, failures=failures)
        )
    return "\n".join(lines)


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
