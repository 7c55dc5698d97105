"""The Telegram bot as it runs: real python-telegram-bot over 127.0.0.1 against the Bot
API fake, the real core against the Chevereto emulator."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import Application

from bots.telegram.app import telegram_bot
from core.chevereto.client import RetryPolicy
from core.errors import DatabaseUnavailable, FloodLimited, HostUnavailable
from core.i18n import translator
from core.messages import describe_delay
from core.refs import Platform, UserId, UserRef
from core.runtime import Core, open_core
from tests.db import make_settings
from tests.fakes.chevereto import USER_KEY, CheveretoEmulator
from tests.fakes.telegram import TOKEN, Call, TelegramFake
from tests.retry import FAST_RETRY

GROUP_KEY = "chv_8_groupkeyGGGGGGGGGGGGGGGGGGGGGGGGGGGG"

JSON = dict[str, Any]


@dataclass
class Bot:
    """A running bot with its fakes, and the people and chats of a test."""

    fake: TelegramFake
    host: CheveretoEmulator
    core: Core
    app: Application  # type: ignore[type-arg]
    alice: JSON
    bob: JSON
    alice_chat: JSON
    bob_chat: JSON
    group: JSON

    async def answer_to(self, chat: JSON, sent: JSON, timeout: float = 10.0) -> JSON:
        """The bot's final answer to a user's message: its reply, or its status message
        once edited into the answer."""
        message_id = sent["message"]["message_id"]

        def is_answer(call: Call) -> bool:
            if call.params.get("chat_id") != chat["id"] or not _final(call):
                return False
            if call.method == "sendMessage":
                replied = call.result.get("reply_to_message") or {}
                return bool(replied.get("message_id") == message_id)
            return _status_of(self.fake, chat, message_id) == call.params.get("message_id")

        answers = ("sendMessage", "editMessageText")
        (call,) = (await self.fake.wait_for(answers, where=is_answer, timeout=timeout))[:1]
        answered = call.result["message_id"] if call.method == "sendMessage" else None
        found = self.fake.message(chat["id"], answered or call.params["message_id"])
        assert found is not None
        return found

    async def reply_to(self, chat: JSON, sent: JSON, timeout: float = 10.0) -> JSON:
        """The bot's first message after ``sent`` in that chat (a reply, or not)."""
        message_id = sent["message"]["message_id"]

        def replies(call: Call) -> bool:
            after = call.ok and call.result["message_id"] > message_id
            return call.params.get("chat_id") == chat["id"] and after

        (call,) = (await self.fake.wait_for("sendMessage", where=replies, timeout=timeout))[:1]
        assert call.result is not None
        result: JSON = call.result
        return result

    def everything_sent(self) -> str:
        """Every parameter of every call the bot made, as text (for secret checks)."""
        return "\n".join(json.dumps(call.params, ensure_ascii=False) for call in self.fake.calls)


_DELAY_NOTICES = {
    describe_delay(error, translator(language))
    for error in (FloodLimited("busy"), HostUnavailable("down"), DatabaseUnavailable("locked"))
    for language in (None, "ru")
}
"""What a status message says while an upload waits; the answer comes after."""


def _final(call: Call) -> bool:
    text = str(call.params.get("text", ""))
    return call.ok and not text.startswith(("Uploading", "Загружаю")) and text not in _DELAY_NOTICES


def _status_of(fake: TelegramFake, chat: JSON, user_message_id: int) -> int | None:
    for message in fake.messages(chat["id"]):
        reply = message.get("reply_to_message") or {}
        if reply.get("message_id") == user_message_id:
            return int(message["message_id"])
    return None


def button_data(message: JSON) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [button.get("callback_data") or button.get("url") for row in rows for button in row]


OpenBot = Callable[..., AbstractAsyncContextManager[Bot]]


@pytest.fixture
async def telegram_fake() -> AsyncIterator[TelegramFake]:
    async with TelegramFake(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def picloud() -> AsyncIterator[CheveretoEmulator]:
    async with CheveretoEmulator(user_keys=(USER_KEY, GROUP_KEY)) as emulator:
        yield emulator


@pytest.fixture
def open_bot(telegram_fake: TelegramFake, picloud: CheveretoEmulator, tmp_path: Path) -> OpenBot:
    """Starts the bot; starting it again on the same data dir is a restart."""

    @asynccontextmanager
    async def opener(retry: RetryPolicy = FAST_RETRY, **overrides: Any) -> AsyncIterator[Bot]:
        values: dict[str, Any] = {
            "api_url": picloud.api_url,
            "telegram_bot_token": TOKEN,
            "telegram_api_url": telegram_fake.api_url,
            "telegram_file_url": telegram_fake.file_url,
            "allow_private_urls": True,
            **overrides,
        }
        settings = make_settings(tmp_path / "data", **values)
        fake = telegram_fake
        alice = fake.user(1001, "Alice", "en", "alice")
        bob = fake.user(1002, "Bob", "ru", "bob")
        async with (
            open_core(settings, retry=retry) as core,
            telegram_bot(settings, core) as app,
        ):
            yield Bot(
                fake=fake,
                host=picloud,
                core=core,
                app=app,
                alice=alice,
                bob=bob,
                alice_chat=fake.private_chat(alice),
                bob_chat=fake.private_chat(bob),
                group=fake.group(-100777, "Cats"),
            )

    return opener


@pytest.fixture
async def bot(open_bot: OpenBot) -> AsyncIterator[Bot]:
    async with open_bot() as running:
        yield running


@pytest.fixture
async def keyed_bot(bot: Bot) -> Bot:
    """A bot where Alice has stored her key."""
    await bot.core.service.keys.set_user_key(person(bot.alice), USER_KEY)
    return bot


def person(user: JSON) -> UserRef:
    return UserRef(Platform.TELEGRAM, UserId(str(user["id"])))
