"""``/stats``: a group's uploads for its admins, everything for the operator, each with
a chart of uploads per day; from our own records."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

from tests.fakes.chevereto import USER_KEY
from tests.fakes.media import png_bytes
from tests.telegram.conftest import JSON, Bot, OpenBot, person

OPERATOR = "telegram:1001"  # Alice


async def mirrored_group(bot: Bot) -> None:
    """Alice and Bob, both with a key, in a group Alice mirrors."""
    await bot.core.service.keys.set_user_key(person(bot.alice), USER_KEY)
    await bot.core.service.keys.set_user_key(person(bot.bob), USER_KEY)
    bot.fake.set_member(bot.group["id"], bot.fake.bot_id, "administrator")
    bot.fake.set_member(bot.group["id"], bot.alice["id"], "administrator")
    await bot.reply_to(bot.group, bot.fake.send_text(bot.group, bot.alice, "/mirror on"))


async def posted(bot: Bot, chat: JSON, user: JSON, seed: int) -> None:
    sent = bot.fake.send_photo(chat, user, png_bytes(seed=seed))
    await bot.answer_to(chat, sent)


async def stats_photo(bot: Bot, chat: JSON, user: JSON) -> tuple[str, bytes]:
    asked = bot.fake.send_text(chat, user, "/stats")
    (sent,) = await bot.fake.wait_for(
        "sendPhoto",
        where=lambda c: (
            c.params["reply_parameters"]["message_id"] == asked["message"]["message_id"]
        ),
    )
    chart = await asyncio.to_thread(Path(sent.files["photo"].path).read_bytes)
    return sent.result["caption"], chart  # as the user reads it (HTML parsed)


async def test_a_group_admin_sees_the_groups_uploads_and_top_uploaders(open_bot: OpenBot) -> None:
    async with open_bot() as bot:
        await mirrored_group(bot)
        for seed, user in ((61, bot.alice), (62, bot.alice), (63, bot.bob)):
            await posted(bot, bot.group, user, seed)
        await posted(bot, bot.alice_chat, bot.alice, 64)  # not the group's

        caption, chart = await stats_photo(bot, bot.group, bot.alice)
        refused = await bot.reply_to(bot.group, bot.fake.send_text(bot.group, bot.bob, "/stats"))

    lines = caption.splitlines()
    assert lines[0] == "📊 This group"
    assert lines[1].startswith("7 days: uploads 3, ") and lines[2].startswith(
        "30 days: uploads 3, "
    )
    assert lines[3] == "Top uploaders, 30 days: 1001 (2), 1002 (1)"
    assert "Failures" not in caption
    assert chart.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", chart[16:24])
    assert (width, height) == (4 + 30 * 18, 160)  # a bar for each of 30 days
    assert "администратор" in refused["text"]  # Bob reads Russian


async def test_the_operator_sees_everything_with_failures_by_kind(open_bot: OpenBot) -> None:
    async with open_bot(admin_ids=(OPERATOR,)) as bot:
        await mirrored_group(bot)
        await posted(bot, bot.group, bot.bob, 71)
        await posted(bot, bot.alice_chat, bot.alice, 72)
        await posted(bot, bot.alice_chat, bot.alice, 72)  # the same again: a repeat

        caption, _chart = await stats_photo(bot, bot.alice_chat, bot.alice)
        refused = await bot.reply_to(
            bot.bob_chat, bot.fake.send_text(bot.bob_chat, bot.bob, "/stats")
        )

    lines = caption.splitlines()
    assert lines[0] == "📊 Everything"
    assert lines[1].startswith("7 days: uploads 2, ")
    assert lines[4] == "Failures, 30 days: duplicate 1"
    assert "оператор" in refused["text"]
