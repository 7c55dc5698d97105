"""Every error core raises, under one root.

::

    PicloudError                    kind              transient
    ├── ConfigurationError          "config"
    │   ├── EndpointMisconfigured   "endpoint"        (3xx / 404 from the upload URL)
    │   ├── SecretKeyError          "secret_key"      (missing or wrong PICLOUD_SECRET_KEY)
    │   └── DatabaseUnavailable     "database"        (locked, unreachable, not migrated)
    ├── InputError                  "input"           (the user's own input is wrong)
    │   ├── InvalidExpiry           "expiry"
    │   ├── InvalidApiKey           "key_format"      (whitespace, wrong shape: checked locally)
    │   ├── EmptyFile               "empty"
    │   └── LinkRefused             "link"            (scheme, private address, too large)
    ├── KeyProblem                  "key"
    │   ├── MissingKey              "no_key"          (no key of the user, chat or operator)
    │   └── BadKey                  "bad_key"         (host: "Invalid API key" / "No key provided")
    ├── UploadRejected              "rejected"        (the host refused this upload for good)
    │   ├── RequestDenied           "denied"          (code 401)
    │   ├── DuplicateUpload         "duplicate"       (codes 101-103, not in our records)
    │   │   └── LostAnswer          "lost_answer"     (our own earlier try: its answer was lost)
    │   ├── TooBig                  "too_big"         (codes 400/601, or over our own limit)
    │   ├── NotMedia                "not_media"       (codes 610-614, 120, 130 "Empty upload
    │   │                                                  source")
    │   └── UrlUploadsDisabled      "url_disabled"    (code 403)
    ├── HostUnavailable             "host_down"       yes (5xx, HTML, timeouts, resets, bad JSON,
    │   │                                                  storage full, internal errors)
    │   └── FloodLimited            "flood"           yes (code 130 "Flooding detected")
    ├── MediaUnavailable            "media_gone"      yes (the chat platform did not hand
    │                                                      the file over)
    ├── PermissionDenied            "forbidden"       (delete pressed by someone else)
    └── NotFound                    "not_found"       (unknown or stale upload id)

``kind`` is stable: it is stored as a job's last error and names the message a
front-end shows. Messages never contain an API key, a bot token or a delete link:
errors are built from the host's short error text or from our own words, and the
HTTP edge raises them ``from None`` so no library exception (whose text may hold a
URL) rides along.
"""

from __future__ import annotations

from typing import ClassVar

from core.refs import UploadId


class PicloudError(Exception):
    """Root of every error core raises on purpose."""

    kind: ClassVar[str] = "error"
    transient: ClassVar[bool] = False

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.job_id: UploadId | None = None
        """The recorded job this error ended, if one was recorded: its answer is due."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r})"


class ConfigurationError(PicloudError):
    kind = "config"


class EndpointMisconfigured(ConfigurationError):
    kind = "endpoint"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message, code=status)
        self.status = status


class SecretKeyError(ConfigurationError):
    kind = "secret_key"


class DatabaseUnavailable(ConfigurationError):
    kind = "database"


class InputError(PicloudError):
    kind = "input"


class InvalidExpiry(InputError):
    kind = "expiry"


class InvalidApiKey(InputError):
    kind = "key_format"


class EmptyFile(InputError):
    kind = "empty"


class LinkRefused(InputError):
    kind = "link"


class KeyProblem(PicloudError):
    kind = "key"


class MissingKey(KeyProblem):
    kind = "no_key"


class BadKey(KeyProblem):
    kind = "bad_key"


class UploadRejected(PicloudError):
    kind = "rejected"


class RequestDenied(UploadRejected):
    kind = "denied"


class DuplicateUpload(UploadRejected):
    kind = "duplicate"

    def __init__(
        self, message: str, *, code: int | None = None, after_lost_answer: bool = False
    ) -> None:
        super().__init__(message, code=code)
        self.after_lost_answer = after_lost_answer


class LostAnswer(DuplicateUpload):
    """The host holds a copy from an earlier try whose answer never reached us."""

    kind = "lost_answer"


class TooBig(UploadRejected):
    kind = "too_big"

    def __init__(self, message: str, *, code: int | None = None, max_mb: int | None = None):
        super().__init__(message, code=code)
        self.max_mb = max_mb


class NotMedia(UploadRejected):
    kind = "not_media"


class UrlUploadsDisabled(UploadRejected):
    kind = "url_disabled"


class HostUnavailable(PicloudError):
    kind = "host_down"
    transient = True


class FloodLimited(HostUnavailable):
    kind = "flood"

    def __init__(self, message: str, *, code: int | None = 130, retry_after: float = 60.0):
        super().__init__(message, code=code)
        self.retry_after = retry_after


class MediaUnavailable(PicloudError):
    kind = "media_gone"
    transient = True


class PermissionDenied(PicloudError):
    kind = "forbidden"


class NotFound(PicloudError):
    kind = "not_found"


def error_class_for_kind(kind: str) -> type[PicloudError]:
    """The error class whose ``kind`` this is (stored jobs keep only the kind)."""
    stack: list[type[PicloudError]] = [PicloudError]
    while stack:
        cls = stack.pop()
        if cls.kind == kind:
            return cls
        stack.extend(cls.__subclasses__())
    return PicloudError
