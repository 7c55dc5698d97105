"""``/stats``: a server's uploads for those who manage it, everything for the operator in
DMs; an ephemeral embed with a chart of uploads per day."""

from __future__ import annotations

from tests.discord.conftest import JSON, Bot, OpenBot, person
from tests.fakes.chevereto import USER_KEY
from tests.fakes.media import png_bytes

OPERATOR = "discord:2001"  # Alice


async def uploaded(bot: Bot, user: JSON, seed: int) -> None:
    attachment = bot.fake.add_attachment(png_bytes(seed=seed), f"cat{seed}.png", "image/png")
    interaction = await bot.use(user, "upload", attachments={"attachment": attachment})
    await bot.fake.wait_for_followups(interaction, timeout=10)


async def test_a_server_manager_sees_its_uploads_with_a_chart(keyed_bot: Bot) -> None:
    bot = keyed_bot
    for seed in (81, 82):
        await uploaded(bot, bot.alice, seed)

    shown = await bot.fake.wait_for_response(await bot.use(bot.mod, "stats"))
    refused = await bot.fake.wait_for_response(await bot.use(bot.alice, "stats"))

    assert shown.ephemeral
    (embed,) = shown.data["embeds"]
    lines = embed["description"].splitlines()
    assert embed["title"] == "📊 This server"
    assert lines[0].startswith("7 days: uploads 2, ")
    assert lines[2] == f"Top uploaders, 30 days: <@{bot.alice['id']}> (2)"
    assert embed["image"]["url"] == "attachment://stats.png"
    (chart,) = shown.files
    assert chart.filename == "stats.png" and chart.read_bytes().startswith(b"\x89PNG")
    assert refused.ephemeral and "manage a server" in refused.data["content"]


async def test_the_operator_sees_everything_in_dms(open_bot: OpenBot) -> None:
    async with open_bot(admin_ids=(OPERATOR,)) as bot:
        await bot.core.service.keys.set_user_key(person(bot.alice), USER_KEY)
        await uploaded(bot, bot.alice, 83)
        dm = bot.fake.dm_channel(bot.alice)
        shown = await bot.fake.wait_for_response(
            await bot.fake.slash_command(None, dm, bot.alice, "stats")
        )
    (embed,) = shown.data["embeds"]
    assert embed["title"] == "📊 Everything"
    assert embed["description"].splitlines()[0].startswith("7 days: uploads 1, ")
