"""``python -m bots run`` as its own process, its output in a log file: how the kill
tests and the benchmarks start the bot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def spawn_bot(env: dict[str, str], cwd: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """Started in a session of its own: a Ctrl-C at the terminal is for the caller."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bots", "run"],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
