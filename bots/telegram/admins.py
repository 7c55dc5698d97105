"""Who administers a chat, asked of the Bot API and remembered briefly.

Admin rights change rarely and each check is a request; a minute of caching keeps a
busy group from costing one getChatMember per button press.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from telegram import Bot, ChatMember
from telegram.error import TelegramError

ADMIN_STATUSES = frozenset({ChatMember.ADMINISTRATOR, ChatMember.OWNER})


class AdminCache:
    def __init__(self, ttl_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._known: dict[tuple[int, int], tuple[bool, float]] = {}

    async def is_admin(self, bot: Bot, chat_id: int, user_id: int) -> bool:
        now = self._clock()
        cached = self._known.get((chat_id, user_id))
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            member = await bot.get_chat_member(chat_id, user_id)
        except TelegramError:
            return False  # not a member, or the bot may not look: not an admin to us
        admin = member.status in ADMIN_STATUSES
        self._known[(chat_id, user_id)] = (admin, now + self._ttl_s)
        return admin
