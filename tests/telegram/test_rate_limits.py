"""Telegram's real message limits, enforced by the fake (``rate_limits``): the bot paces
its messages per chat and never provokes a 429, and one user's flood costs only that
user's own budget."""

from __future__ import annotations

import asyncio

from tests.fakes.chevereto import USER_KEY
from tests.fakes.media import png_bytes
from tests.fakes.telegram import RateLimits
from tests.telegram.conftest import Bot, person


async def test_a_burst_of_private_uploads_is_answered_without_a_429(keyed_bot: Bot) -> None:
    bot = keyed_bot
    bot.fake.rate_limits = RateLimits()
    people = [bot.fake.user(3000 + n, f"U{n}", "en") for n in range(5)]
    for user in people:
        await bot.core.service.keys.set_user_key(person(user), USER_KEY)
    chats = [bot.fake.private_chat(user) for user in people]
    sent = [
        (chat, bot.fake.send_photo(chat, user, png_bytes(seed=100 + 10 * n + k)))
        for n, (chat, user) in enumerate(zip(chats, people, strict=True))
        for k in range(3)
    ]

    answers = [await bot.answer_to(chat, photo, timeout=60) for chat, photo in sent]

    assert all("Viewer" in answer["text"] for answer in answers)
    assert len(bot.host.uploads) == len(sent)
    assert bot.fake.rate_limited == []


async def test_one_users_flood_costs_only_that_users_budget(keyed_bot: Bot) -> None:
    bot = keyed_bot
    bot.fake.rate_limits = RateLimits()
    for n in range(15):
        bot.fake.send_text(bot.alice_chat, bot.alice, f"junk {n}")
    await bot.fake.wait_for("sendMessage")  # the flood is being handled

    help_asked = bot.fake.send_text(bot.bob_chat, bot.bob, "/help")
    reply = await bot.reply_to(bot.bob_chat, help_asked, timeout=5)

    assert "/setkey" in reply["text"]
    await asyncio.sleep(1.0)
    to_alice = [c for c in bot.fake.calls_to("sendMessage") if c.params["chat_id"] == 1001]
    assert len(to_alice) == 1  # one pointer to /help for the whole flood
    assert bot.fake.rate_limited == []
