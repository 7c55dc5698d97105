"""Telegram's real message limits, enforced by the fake (``rate_limits``): the bot paces
its messages per chat and never provokes a 429, and one user's flood costs only that
user's own budget."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bots.telegram.deps import chat_ref
from tests.fakes.chevereto import USER_KEY
from tests.fakes.media import png_bytes
from tests.fakes.telegram import RateLimits
from tests.telegram.conftest import GROUP_KEY, Bot, button_data, person

JSON = dict[str, Any]


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


async def test_the_last_message_a_chat_has_room_for_waits_for_the_uploads_on_their_way(
    keyed_bot: Bot,
) -> None:
    """Five photos at once into a private chat, which takes three messages at once and
    then one a second: the first two are answered on their own, the third message waits
    for the two still uploading and carries all three, so nothing waits a second."""
    bot = keyed_bot
    bot.fake.rate_limits = RateLimits()
    for n in range(5):
        bot.fake.send_photo(bot.alice_chat, bot.alice, png_bytes(seed=500 + n))

    viewers = await _viewers_shown(bot, bot.alice_chat, count=5, timeout=30)

    assert viewers == {upload.image["url_viewer"] for upload in bot.host.uploads.values()}
    messages = bot.fake.calls_to("sendMessage")
    assert len(messages) == 3
    assert bot.fake.rate_limited == []
    # A message from the bot ends "sending photo…" in the client: it is shown again
    # while the other photos still upload.
    actions = bot.fake.calls_to("sendChatAction")
    assert any(messages[0].time < action.time < messages[-1].time for action in actions)


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


async def test_a_burst_in_a_mirrored_group_is_answered_whole_without_a_429(bot: Bot) -> None:
    """30 photos from 3 members within 10 s, Telegram's 20 messages a minute enforced:
    every photo uploaded once and its link in the group, in fewer messages than the
    group's minute allows."""
    group = chat_ref(bot.group["id"])
    admin = person(bot.alice)
    await bot.core.service.keys.set_chat_key(group, GROUP_KEY, admin)
    await bot.core.profiles.set_mirroring(group, True, admin)
    bot.fake.set_member(bot.group["id"], bot.fake.bot_id, "administrator")  # sees everything
    carol = bot.fake.user(1003, "Carol", "en")
    bot.fake.rate_limits = RateLimits()
    members = [bot.alice, bot.bob, carol]

    started = time.monotonic()
    for n in range(30):
        bot.fake.send_photo(bot.group, members[n % 3], png_bytes(seed=300 + n))
        await asyncio.sleep(1 / 3)
    viewers = await _viewers_shown(bot, bot.group, count=30, timeout=100)
    answered_s = time.monotonic() - started

    assert len(bot.host.uploads) == 30
    assert viewers == {upload.image["url_viewer"] for upload in bot.host.uploads.values()}
    sent = bot.fake.calls_to("sendMessage")
    print(f"30 photos answered in {answered_s:.1f} s with {len(sent)} messages")
    assert len(sent) < 20  # several answers went together
    assert bot.fake.rate_limited == []
    # "Sending photo…" for the group while its uploads run, not one per photo: once,
    # renewed every 4.5 s, and again after each answer message (which ends it).
    assert len(bot.fake.calls_to("sendChatAction")) <= len(sent) + 5


async def _viewers_shown(bot: Bot, chat: JSON, count: int, timeout: float) -> set[str]:
    """The viewer links the bot's messages in ``chat`` show, once there are ``count``."""

    def shown() -> set[str]:
        return {
            link
            for message in bot.fake.messages(chat["id"])
            for link in button_data(message)
            if link.startswith(bot.host.base_url)
        }

    for _ in range(int(timeout * 10)):
        if len(shown()) >= count:
            return shown()
        await asyncio.sleep(0.1)
    raise AssertionError(f"{len(shown())} of {count} links shown after {timeout} s")
