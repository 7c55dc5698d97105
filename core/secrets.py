"""The secret box: encrypts API keys and delete links at rest, and fingerprints keys.

The Fernet key comes from ``PICLOUD_SECRET_KEY`` or from ``<data dir>/secret.key``,
generated there (mode 0600) on first start. A key is generated only for a database
that holds nothing encrypted yet: a missing or wrong key for a database that does
is an error, never a silent fresh start that would orphan every stored key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

from core.errors import SecretKeyError

SECRET_FILE_NAME = "secret.key"
_GENERATE_HINT = (
    'generate one with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"'
)


class SecretBox:
    """Fernet encryption plus a keyed fingerprint for looking secrets up unread."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)
        self._mac_key = hashlib.sha256(b"picloud-bots fingerprint\x00" + key).digest()

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> SecretStr:
        try:
            return SecretStr(self._fernet.decrypt(token.encode("ascii")).decode())
        except (InvalidToken, ValueError):
            raise SecretKeyError(
                "stored secrets cannot be decrypted with this PICLOUD_SECRET_KEY"
            ) from None

    def fingerprint(self, plaintext: str) -> str:
        """Same input, same output, under this box's key only (HMAC-SHA256)."""
        return hmac.new(self._mac_key, plaintext.encode(), hashlib.sha256).hexdigest()

    def sign(self, purpose: str, message: str) -> str:
        """A signature of ``message`` for one ``purpose`` (a signature made for one
        purpose is no good for another, nor a fingerprint for either)."""
        return self.fingerprint(f"sign\x00{purpose}\x00{message}")


def parse_secret_key(value: str, origin: str) -> bytes:
    key = value.strip().encode("ascii", errors="replace")
    try:
        Fernet(key)
    except ValueError:
        raise SecretKeyError(
            f"{origin} is not a valid key (32 url-safe base64-encoded bytes); {_GENERATE_HINT}"
        ) from None
    return key


def read_secret_file(data_dir: Path) -> bytes | None:
    """The key stored in the data dir, or None when there is no file yet."""
    path = data_dir / SECRET_FILE_NAME
    try:
        text = path.read_text("ascii")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretKeyError(f"cannot read {path}: {exc.__class__.__name__}") from None
    return parse_secret_key(text, str(path))


def create_secret_file(data_dir: Path) -> bytes:
    """Generate a key into ``<data dir>/secret.key``, readable by its owner only."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SECRET_FILE_NAME
    key = Fernet.generate_key()
    # O_EXCL: two instances starting at once must not overwrite each other's key.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
    return key
