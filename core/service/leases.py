"""Who works on a job: an instance leases each job (and each inbox event) it works on.

A lease names its owner and runs out at ``lease_until``. The owner renews the
leases of what it has in hand; a job whose lease ran out, or whose owner is known to
be gone, is claimed by any live instance of the same platform. The claim is one
``UPDATE … WHERE <leasable> RETURNING`` (with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL), so two instances never claim the same job.

An owner is ``host/pid-namespace:pid:token``. Whether an owner on another machine is
alive cannot be known, so its jobs wait for the lease to run out; one on this machine
is gone when its process is (a restart after ``kill -9`` takes its jobs back at once,
instead of a lease later).
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from core.processes import is_running

_LIVE_OWNERS: set[str] = set()
"""The owners alive in this process: one process may run several services (tests)."""


def _this_host() -> str:
    # Containers sharing a hostname (host networking) still have their own pid namespace.
    try:
        namespace = Path("/proc/self/ns/pid").stat().st_ino
    except OSError:
        namespace = 0
    return f"{socket.gethostname()[:60]}/{namespace}"


@dataclass(frozen=True, slots=True)
class Lease:
    """This instance's name on the jobs it holds, and how long a hold lasts."""

    owner: str
    seconds: float

    @classmethod
    def start(cls, seconds: float) -> Lease:
        owner = f"{_this_host()}:{os.getpid()}:{secrets.token_hex(4)}"
        _LIVE_OWNERS.add(owner)
        return cls(owner, seconds)

    def end(self) -> None:
        _LIVE_OWNERS.discard(self.owner)

    def until(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.seconds)


def is_gone(owner: str) -> bool:
    """Whether the instance named ``owner`` is known to have stopped."""
    try:
        host, pid_text, _token = owner.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    if host != _this_host():
        return False
    if pid == os.getpid():
        return owner not in _LIVE_OWNERS
    return not is_running(pid)
