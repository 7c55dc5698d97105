"""EmulatorState: the knobs (constructor arguments) and the records every part of the
emulator shares, all set up in ``__init__``."""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterable

from tests.fakes.chevereto.models import USER_KEY, Fault, RecordedRequest, StoredUpload
from tests.fakes.server import LocalServer


class EmulatorState(LocalServer):
    """The knobs and records the parts share; see the package docstring."""

    def __init__(
        self,
        *,
        user_keys: Iterable[str] = (USER_KEY,),
        guest_key: str | None = None,
        admin_keys: Iterable[str] = (),
        max_upload_mb: float = 50,
        guest_max_upload_mb: float = 10,
        post_max_mb: float | None = None,
        flood_per_minute: int = 50,
        url_uploads_admin_only: bool = True,
        denied_keys: Iterable[str] = (),
        storage_full: bool = False,
        gzip: bool = False,
        moderation: bool = False,
        latency_s: float = 0.0,
    ) -> None:
        super().__init__()
        self.user_keys = set(user_keys)
        self.guest_key = guest_key
        self.admin_keys = set(admin_keys)
        self.max_upload_mb = max_upload_mb
        self.guest_max_upload_mb = guest_max_upload_mb
        self.post_max_mb = post_max_mb
        self.flood_per_minute = flood_per_minute
        self.url_uploads_admin_only = url_uploads_admin_only
        self.denied_keys = set(denied_keys)
        self.storage_full = storage_full
        self.gzip = gzip
        self.moderation = moderation
        self.latency_s = latency_s
        self.clock: Callable[[], float] = time.time
        self.delay_s: float = 2.0
        self.faults: collections.deque[Fault] = collections.deque()
        self.requests: list[RecordedRequest] = []
        self.uploads: dict[str, StoredUpload] = {}
        self.fetched_urls: list[str] = []
        self._attempts: dict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        self._files: dict[str, str] = {}  # direct file path -> id_encoded
        self._recording: dict[int, RecordedRequest] = {}  # by id() of the request in progress
        self._next_id = 1
