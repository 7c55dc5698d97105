"""``picloud-bots upload FILE...``: the shell front-end over the same upload service."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TransferSpeedColumn,
)

from core.chevereto.models import ProgressCallback, RemoteUrl, UploadOptions, UploadSource
from core.errors import InputError, MissingKey, PicloudError
from core.expiry import parse_expiry
from core.refs import Platform, UserId, UserRef
from core.runtime import open_core
from core.service.types import MediaInput, UploadRequest, UploadView
from core.service.uploads import UploadService
from core.settings import Settings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
PROGRESS_FROM_BYTES = 5 * 1024 * 1024
NO_KEY_HINT = "no API key: pass --key (or --key - to read it from stdin) or set PICLOUD_API_KEY"


@dataclass(frozen=True, slots=True)
class FileOutcome:
    path: Path
    view: UploadView | None = None
    error: str | None = None


async def upload_files(args: argparse.Namespace, settings: Settings) -> int:
    try:
        options = options_from_args(args)
        key = read_key(args.key)
    except InputError as exc:
        print(f"picloud-bots: error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    user = UserRef(Platform.CLI, UserId(getpass.getuser()))
    async with open_core(settings) as core:
        with _progress_bar() as progress:
            outcomes = await asyncio.gather(
                *(
                    _upload_one(core.service, path, user, options, key, progress)
                    for path in args.files
                )
            )
    for outcome in outcomes:
        print_outcome(outcome)
    return EXIT_OK if all(outcome.view for outcome in outcomes) else EXIT_FAILED


def options_from_args(args: argparse.Namespace) -> UploadOptions:
    tags = tuple(tag.strip() for tag in (args.tags or "").split(",") if tag.strip())
    return UploadOptions(
        title=args.title or None,
        description=args.description or None,
        tags=tags,
        album_id=args.album or None,
        expiration=parse_expiry(args.expire) if args.expire else None,
        nsfw=bool(args.nsfw),
    )


def read_key(flag: str | None) -> SecretStr | None:
    if flag is None:
        return None
    return SecretStr(sys.stdin.readline() if flag == "-" else flag)


async def _upload_one(
    service: UploadService,
    path: Path,
    user: UserRef,
    options: UploadOptions,
    key: SecretStr | None,
    progress: Progress,
) -> FileOutcome:
    try:
        media = await MediaInput.from_path(path)
    except OSError as exc:
        return FileOutcome(path, error=exc.strerror or "cannot read the file")
    request = UploadRequest(
        user=user,
        media=media,
        options=options,
        api_key=key,
        progress=_progress_for(progress, path, media.source),
    )
    try:
        view = await service.upload(request)
    except MissingKey:
        return FileOutcome(path, error=NO_KEY_HINT)
    except PicloudError as exc:
        await service.answered([exc.job_id] if exc.job_id else [])
        return FileOutcome(path, error=exc.message)
    await service.answered([view.job_id] if view.job_id else [])
    return FileOutcome(path, view=view)


def _progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def _progress_for(
    progress: Progress, path: Path, source: UploadSource | RemoteUrl
) -> ProgressCallback | None:
    if not isinstance(source, UploadSource) or source.size < PROGRESS_FROM_BYTES:
        return None
    task: TaskID = progress.add_task(path.name, total=source.size)

    def advance(sent: int, total: int) -> None:
        progress.update(task, completed=sent, total=total)

    return advance


def print_outcome(outcome: FileOutcome) -> None:
    if outcome.view is None:
        print(f"{outcome.path}: error: {outcome.error}", file=sys.stderr)
        return
    view = outcome.view
    notes = [note for note, on in (("already uploaded", view.repeated),) if on]
    if not view.is_approved:
        notes.append("awaiting moderation")
    suffix = f"  ({', '.join(notes)})" if notes else ""
    print(f"{outcome.path}{suffix}")
    for label, url in (
        ("viewer", view.url_viewer),
        ("direct", view.url),
        ("thumb", view.thumb_url),
    ):
        if url:
            print(f"  {label + ':':<8} {url}")
