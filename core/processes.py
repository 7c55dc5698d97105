"""Processes on this machine: whether one that left something behind (a lease, a spool
file) is still running."""

from __future__ import annotations

import os


def is_running(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (one we may not signal counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
