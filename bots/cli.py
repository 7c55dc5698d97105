"""``picloud-bots``: the console entry point. It only parses and wires.

Exit codes: 0 success, 1 some upload failed, 2 configuration or usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from core.errors import ConfigurationError
from core.logging_setup import configure_logging
from core.runtime import migrate
from core.settings import Settings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="picloud-bots",
        description="Telegram and Discord bots, and a shell command, that upload media "
        "to picloud.cc or any Chevereto V4 site.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("run", help="start every bot whose token is set")

    upload = commands.add_parser("upload", help="upload files from the shell")
    upload.add_argument("files", nargs="+", type=Path, metavar="FILE")
    upload.add_argument("--title", help="title (cut to 100 characters)")
    upload.add_argument("--description")
    upload.add_argument("--tags", help="comma separated")
    upload.add_argument("--expire", metavar="WHEN", help="10m, 2h, 3d, 1w, 1mo or ISO 8601")
    upload.add_argument("--nsfw", action="store_true", help="mark as not safe for work")
    upload.add_argument("--album", metavar="ALBUM_ID", help="album id (yours)")
    upload.add_argument(
        "--key",
        help="API key for this upload (default: PICLOUD_API_KEY); '-' reads it from stdin, "
        "which keeps it out of the process list and shell history",
    )

    database = commands.add_parser("db", help="database maintenance")
    database_commands = database.add_subparsers(dest="db_command", required=True)
    database_commands.add_parser("upgrade", help="apply database migrations")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        return _fail(f"invalid configuration: {describe_settings_error(exc)}")
    try:
        return asyncio.run(_dispatch(args, settings))
    except ConfigurationError as exc:
        return _fail(exc.message)
    except KeyboardInterrupt:
        return 130


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "run":
        from bots.run import run_bots

        configure_logging(settings.log_level, settings.log_format)
        return await run_bots(settings)
    if args.command == "upload":
        from bots.shell import upload_files

        configure_logging(logging.WARNING, settings.log_format)
        return await upload_files(args, settings)
    configure_logging(settings.log_level, settings.log_format)
    await migrate(settings)
    print("database is up to date")
    return EXIT_OK


def describe_settings_error(exc: ValidationError) -> str:
    """Which variables are wrong and why, without echoing their values (may be secrets)."""
    problems = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]).upper()
        problems.append(f"{name}: {error['msg']}")
    return "; ".join(problems)


def _fail(message: str) -> int:
    print(f"picloud-bots: error: {message}", file=sys.stderr)
    return EXIT_CONFIG
