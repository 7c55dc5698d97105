"""Retry policies for tests: fast, so a failing host costs no time."""

from __future__ import annotations

from core.chevereto.client import RetryPolicy

FAST_RETRY = RetryPolicy(attempts=2, deadline_s=5, wait_initial_s=0.01, wait_max_s=0.02)
"""One retry, at once."""

PATIENT_RETRY = RetryPolicy(
    attempts=3,
    deadline_s=30,
    wait_initial_s=0.01,
    wait_max_s=0.02,
    wait_jitter_s=0,
    flood_wait_s=1.0,
)
"""Waits out a flooded host (a second instead of the real twenty)."""
