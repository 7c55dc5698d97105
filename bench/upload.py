"""Upload throughput and memory: the upload service beside a bare httpx loop.

    python -m bench.upload [--count N] [--size-mb S] [--concurrency C]

Starts the Chevereto emulator in its own process on 127.0.0.1 (so its memory is
not counted), then runs each side in a fresh child process, one after the other,
against the same emulator with the same bytes:

- ``service``: ``UploadService.upload`` (job recorded in SQLite, key resolved,
  streamed multipart body, md5 while sending, result recorded);
- ``bare``: ``httpx.AsyncClient.post(files=...)`` with the same payload.

Each child prints its figures as JSON; this prints them side by side with the
ratio of throughputs and the peak RSS growth of each side. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

BENCH_KEY = "chv_9_benchkey" + "B" * 26
CHUNK = 64 * 1024


def payload_chunks(index: int, size: int, run_id: str) -> Iterator[bytes]:
    """A valid PNG header, then bytes unique to this upload, then padding to ``size``."""
    head = png_header() + hashlib.sha256(f"{run_id}-{index}".encode()).digest()
    yield head
    left = size - len(head)
    block = bytes(CHUNK)
    while left > 0:
        yield block[: min(CHUNK, left)]
        left -= CHUNK


def png_header() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def current_rss_kb() -> int:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * (os.sysconf("SC_PAGE_SIZE") // 1024)


def peak_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# -- the two sides, each run in a child process -----------------------------------


async def run_service(api_url: str, count: int, size: int, concurrency: int) -> dict[str, Any]:
    from core.chevereto.models import UploadSource
    from core.refs import Platform, UserId, UserRef
    from core.runtime import open_core
    from core.service.types import MediaInput, UploadRequest
    from core.settings import Settings

    run_id = os.urandom(8).hex()
    user = UserRef(Platform.CLI, UserId("bench"))

    def request(index: int) -> UploadRequest:
        async def chunks() -> AsyncIterator[bytes]:
            for chunk in payload_chunks(index, size, run_id):
                yield chunk

        source = UploadSource.from_stream(
            chunks, size=size, filename=f"bench-{index}.png", content_type="image/png"
        )
        return UploadRequest(user=user, media=MediaInput(ref=f"bench:{index}", source=source))

    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(
            _env_file=None,
            PICLOUD_API_URL=api_url,
            PICLOUD_API_KEY=BENCH_KEY,
            PICLOUD_DATA_DIR=data_dir,
            PICLOUD_MAX_UPLOAD_MB=size // (1024 * 1024) + 1,
            PICLOUD_WORKERS=concurrency,
            PICLOUD_WORKERS_PER_USER=concurrency,
        )
        async with open_core(settings) as core:
            await core.service.upload(request(-1))  # warm-up: connections, tables
            start_rss = current_rss_kb()
            started = time.perf_counter()
            await asyncio.gather(*(core.service.upload(request(i)) for i in range(count)))
            elapsed = time.perf_counter() - started
    return _figures("service", count, size, elapsed, start_rss)


async def run_bare(api_url: str, count: int, size: int, concurrency: int) -> dict[str, Any]:
    import httpx

    run_id = os.urandom(8).hex()
    limit = asyncio.Semaphore(concurrency)

    async def post(client: httpx.AsyncClient, index: int) -> None:
        async with limit:
            body = b"".join(payload_chunks(index, size, run_id))
            files = {"source": (f"bare-{index}.png", body, "image/png")}
            response = await client.post(api_url, files=files, headers={"X-API-Key": BENCH_KEY})
            response.raise_for_status()

    async with httpx.AsyncClient(timeout=300) as client:
        await post(client, -1)
        start_rss = current_rss_kb()
        started = time.perf_counter()
        await asyncio.gather(*(post(client, i) for i in range(count)))
        elapsed = time.perf_counter() - started
    return _figures("bare", count, size, elapsed, start_rss)


def _figures(side: str, count: int, size: int, elapsed: float, start_rss: int) -> dict[str, Any]:
    return {
        "side": side,
        "uploads": count,
        "seconds": round(elapsed, 3),
        "mb_per_s": round(count * size / elapsed / 1e6, 1),
        "uploads_per_s": round(count / elapsed, 2),
        "rss_start_mb": round(start_rss / 1024, 1),
        "rss_peak_growth_mb": round((peak_rss_kb() - start_rss) / 1024, 1),
    }


# -- the parent: emulator process, children, report ----------------------------


@contextmanager
def emulator_process(max_mb: int) -> Iterator[str]:
    command = [
        sys.executable,
        "-m",
        "tests.fakes.chevereto",
        "--port",
        "0",
        "--key",
        BENCH_KEY,
        "--max-upload-mb",
        str(max_mb),
        "--flood-per-minute",
        "100000",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)  # noqa: S603
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.startswith("READY "):
            raise RuntimeError(f"the emulator did not start: {line!r}")
        yield line.removeprefix("READY ").rstrip("/") + "/api/1/upload"
    finally:
        process.terminate()
        process.wait(timeout=10)


def run_child(side: str, api_url: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "bench.upload",
        "--child",
        side,
        "--api-url",
        api_url,
        "--count",
        str(args.count),
        "--size-mb",
        str(args.size_mb),
        "--concurrency",
        str(args.concurrency),
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603
    result: dict[str, Any] = json.loads(output.stdout.strip().splitlines()[-1])
    return result


def report(service: dict[str, Any], bare: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"{args.count} uploads of {args.size_mb} MB at concurrency {args.concurrency} "
        f"(emulator on 127.0.0.1, separate process)"
    )
    print(f"{'side':<8} {'seconds':>8} {'MB/s':>8} {'uploads/s':>10} {'peak RSS growth MB':>19}")
    for row in (service, bare):
        print(
            f"{row['side']:<8} {row['seconds']:>8} {row['mb_per_s']:>8} "
            f"{row['uploads_per_s']:>10} {row['rss_peak_growth_mb']:>19}"
        )
    ratio = service["mb_per_s"] / bare["mb_per_s"] if bare["mb_per_s"] else float("nan")
    print(f"throughput ratio service/bare: {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.upload")
    parser.add_argument("--count", type=int, default=16)
    parser.add_argument("--size-mb", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--child", choices=["service", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    size = args.size_mb * 1024 * 1024
    if args.child:
        runner = run_service if args.child == "service" else run_bare
        figures = asyncio.run(runner(args.api_url, args.count, size, args.concurrency))
        print(json.dumps(figures))
        return
    with emulator_process(max_mb=args.size_mb * 2 + 1) as api_url:
        service = run_child("service", api_url, args)
        bare = run_child("bare", api_url, args)
    report(service, bare, args)


if __name__ == "__main__":
    main()
