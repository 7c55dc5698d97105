"""What an operator reads at ``/metrics`` (Prometheus' text format, prometheus-client).

Counted where it happens: the upload service (uploads, durations, sizes, jobs waiting
and running, leases taken over), the host client (retries, host errors by kind) and
the front-ends' platform clients (429s). Everything is labelled by platform where one
applies; nothing carries a user, a chat or a secret.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

UPLOADS = Counter(
    "picloud_uploads", "Uploads finished, by platform and result", ["platform", "result"]
)
UPLOAD_SECONDS = Histogram(
    "picloud_upload_duration_seconds",
    "Time from a job's start to the host's answer",
    ["platform"],
    buckets=(0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
)
UPLOAD_BYTES = Histogram(
    "picloud_upload_size_bytes",
    "Size of what was uploaded (files; links once fetched)",
    ["platform"],
    buckets=tuple(2**n * 1024 for n in range(6, 20, 2)),  # 64 KiB .. 256 MiB
)
JOBS_WAITING = Gauge("picloud_jobs_waiting", "Jobs recorded and waiting for a worker")
JOBS_RUNNING = Gauge("picloud_jobs_running", "Jobs uploading now")
RETRIES = Counter("picloud_upload_retries", "Tries at the host made again after a failure")
HOST_ERRORS = Counter("picloud_host_errors", "Failures the host answered, by kind", ["kind"])
PLATFORM_429S = Counter(
    "picloud_platform_rate_limited", "429s a platform answered (waited out)", ["platform"]
)
LEASES_TAKEN_OVER = Counter(
    "picloud_leases_taken_over", "Jobs taken over from a stopped instance", ["platform"]
)
