"""Serving the emulator on its own, as the benchmark does: ``python -m
tests.fakes.chevereto --port 0 --key chv_...`` prints ``READY http://127.0.0.1:PORT``
once listening and serves until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import signal

from tests.fakes.chevereto.emulator import CheveretoEmulator
from tests.fakes.chevereto.models import USER_KEY


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Chevereto V4 upload API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key", action="append", help="user key (repeatable)")
    parser.add_argument("--admin-key", action="append", default=[])
    parser.add_argument("--guest-key")
    parser.add_argument("--max-upload-mb", type=float, default=50)
    parser.add_argument("--guest-max-upload-mb", type=float, default=10)
    parser.add_argument("--post-max-mb", type=float)
    parser.add_argument("--flood-per-minute", type=int, default=50)
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument(
        "--latency-ms", type=float, default=0, help="delay every upload answer by this much"
    )
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    emulator = CheveretoEmulator(
        user_keys=args.key or (USER_KEY,),
        admin_keys=args.admin_key,
        guest_key=args.guest_key,
        max_upload_mb=args.max_upload_mb,
        guest_max_upload_mb=args.guest_max_upload_mb,
        post_max_mb=args.post_max_mb,
        flood_per_minute=args.flood_per_minute,
        gzip=args.gzip,
        latency_s=args.latency_ms / 1000,
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await emulator.start(args.host, args.port)
    try:
        print(f"READY {emulator.base_url}", flush=True)
        await stopping.wait()
    finally:
        await emulator.stop()


def main(argv: list[str] | None = None) -> None:
    asyncio.run(serve(_parse_args(argv)))
