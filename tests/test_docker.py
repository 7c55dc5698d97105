"""The image as an operator builds and runs it: built from the Dockerfile, run as a
non-root user, and answering a photo against the fakes on the host's network.

Needs a Docker daemon and a base image: ``PICLOUD_DOCKER_BASE`` names it (CI sets it
from ``docker-python-base``, which builds a stand-in for ``python:3.11-slim`` where no
registry is reachable). Without either the tests skip, saying so in one line.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.chevereto import USER_KEY, CheveretoEmulator
from tests.fakes.telegram import TelegramFake
from tests.test_run import a_photo_is_answered

ROOT = Path(__file__).resolve().parent.parent
TAG = "picloud-bots:smoke"


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    # Only docker, with our own arguments.
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)  # noqa: S603


def _docker() -> str:
    docker = shutil.which("docker")
    if docker is None or _run(docker, "info").returncode:
        pytest.skip("no Docker daemon answers: the image is not built here")
    base = os.environ.get("PICLOUD_DOCKER_BASE")
    if not base:
        pytest.skip("PICLOUD_DOCKER_BASE (the image to build from) is not set")
    return docker


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    docker = _docker()
    base = os.environ["PICLOUD_DOCKER_BASE"]
    built = _run(
        docker,
        "build",
        "-q",
        "--build-arg",
        f"PYTHON_IMAGE={base}",
        "-t",
        TAG,
        str(ROOT),
        timeout=900,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    yield docker
    _run(docker, "image", "rm", "-f", TAG)


def test_the_image_runs_as_an_unprivileged_user(image: str) -> None:
    uid = _run(image, "run", "--rm", TAG, "id", "-u")
    assert uid.returncode == 0 and uid.stdout.strip() not in ("", "0")


async def test_the_container_answers_a_photo(
    image: str, chevereto: CheveretoEmulator, tmp_path: Path
) -> None:
    async with TelegramFake() as telegram:
        env = {**telegram.env(), "PICLOUD_API_URL": chevereto.api_url, "PICLOUD_API_KEY": USER_KEY}
        env["PICLOUD_ALLOW_PRIVATE_URLS"] = "1"
        flags = [part for name, value in env.items() for part in ("-e", f"{name}={value}")]
        started = await asyncio.create_subprocess_exec(
            image,
            "run",
            "-d",
            "--rm",
            "--network",
            "host",
            *flags,
            TAG,
            stdout=asyncio.subprocess.PIPE,
        )
        container = (await started.communicate())[0].decode().strip()
        assert started.returncode == 0 and container
        try:
            await telegram.wait_for("getUpdates", timeout=120)
            await a_photo_is_answered(telegram, 9, seed=6, timeout=60)
        finally:
            stop = await asyncio.create_subprocess_exec(
                image, "stop", "-t", "10", container, stdout=asyncio.subprocess.DEVNULL
            )
            await stop.wait()
    assert len(chevereto.uploads) == 1
