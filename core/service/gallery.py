"""Who may open which web gallery (issue 10): the links a front-end hands a user, and the
session the gallery page holds once a link (or Telegram's Mini App data) is checked.

Both are signed with the secret key every instance shares, so any instance checks what
another issued. A link opens once, within ``LINK_LIFETIME_S``; that it was opened is
the one thing written down (``Repository.spend_gallery_link``). A session is never
written down: it ends at its expiry.
"""

from __future__ import annotations

import enum
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from core.db.repository import Repository
from core.errors import PicloudError
from core.refs import Platform, UserId, UserRef

LINK_LIFETIME_S = 600
"""A one-time link from ``/gallery`` opens within ten minutes."""
SESSION_LIFETIME_S = 2 * 3600
"""How long an opened gallery works before the user asks the bot again."""
PAGE_PATH = "/gallery"

_LINK = "gallery-link"
_SESSION = "gallery-session"


class Refusal(enum.StrEnum):
    INVALID = "invalid"
    EXPIRED = "expired"
    USED = "used"


class PassRefused(PicloudError):
    """A link, session or Mini App sign-in the gallery does not take, and why."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(f"gallery pass refused: {refusal}")
        self.refusal = refusal


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    expires_in_s: int


class GalleryPasses:
    """``public_url``: where the gallery is reached; None, there is no gallery."""

    def __init__(
        self,
        repo: Repository,
        public_url: str | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._repo = repo
        self._public_url = public_url
        self._clock = clock

    @property
    def enabled(self) -> bool:
        return self._public_url is not None

    def now(self) -> float:
        """The clock passes are checked by, in epoch seconds."""
        return self._clock()

    def page_url(self, language: str) -> str:
        """The page itself (a Telegram Mini App's address: Telegram adds the sign-in)."""
        if self._public_url is None:
            raise PicloudError("the gallery has no PICLOUD_PUBLIC_URL")
        return f"{self._public_url}{PAGE_PATH}?{urlencode({'hl': language})}"

    def one_time_link(self, user: UserRef, language: str) -> str:
        """The page with a pass for ``user`` that opens once, for ten minutes. The pass is
        in the fragment, which browsers never send to a server (nor in a Referer), and
        the page trades it for a session by a POST: a link preview that fetches the page
        does not spend it."""
        expires = int(self.now()) + LINK_LIFETIME_S
        nonce = secrets.token_urlsafe(18)
        signed = self._signed(_LINK, user.platform, user.user_id, str(expires), nonce)
        return f"{self.page_url(language)}#link={signed}"

    async def open_link(self, token: str) -> Session:
        """A session for the link's user; the link is spent."""
        platform, user_id, expires, nonce = self._checked(_LINK, token, parts=4)
        if not await self._repo.spend_gallery_link(nonce, datetime.fromtimestamp(expires, UTC)):
            raise PassRefused(Refusal.USED)
        return self.session(UserRef(platform, user_id))

    def session(self, user: UserRef) -> Session:
        expires = int(self.now()) + SESSION_LIFETIME_S
        token = self._signed(_SESSION, user.platform, user.user_id, str(expires))
        return Session(token=token, expires_in_s=SESSION_LIFETIME_S)

    def session_user(self, token: str) -> UserRef:
        platform, user_id, _expires, _ = self._checked(_SESSION, token, parts=3)
        return UserRef(platform, user_id)

    def _signed(self, purpose: str, *parts: str) -> str:
        message = ".".join(parts)
        return f"{message}.{self._repo.box.sign(purpose, message)}"

    def _checked(
        self, purpose: str, token: str, *, parts: int
    ) -> tuple[Platform, UserId, int, str]:
        """The token's platform, user, expiry and (for a link) nonce, once its signature
        and expiry are good."""
        if not token.isascii():  # every pass we make is
            raise PassRefused(Refusal.INVALID)
        message, _dot, signature = token.rpartition(".")
        fields = message.split(".")
        expected = self._repo.box.sign(purpose, message)
        if len(fields) != parts or not hmac.compare_digest(signature.encode(), expected.encode()):
            raise PassRefused(Refusal.INVALID)
        platform, user_id, expires_text, *rest = fields
        if platform not in set(Platform) or not expires_text.isdecimal():
            raise PassRefused(Refusal.INVALID)
        expires = int(expires_text)
        if self.now() >= expires:
            raise PassRefused(Refusal.EXPIRED)
        return Platform(platform), UserId(user_id), expires, rest[0] if rest else ""
