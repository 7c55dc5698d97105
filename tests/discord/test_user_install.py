"""The app installed by a user to their account: its commands work where the bot is not
(a server that never added it, a group DM), answering only the user there."""

from __future__ import annotations

import pytest

from tests.discord.conftest import Bot, custom_ids
from tests.fakes.media import png_bytes


async def test_upload_works_in_a_server_that_never_added_the_bot(keyed_bot: Bot) -> None:
    bot = keyed_bot
    there = bot.fake.elsewhere(server=True)
    attachment = bot.fake.add_attachment(png_bytes(seed=91), "cat.png", "image/png")
    asked = await bot.fake.slash_command(
        None, there, bot.alice, "upload", attachments={"attachment": attachment}
    )
    deferred = await bot.fake.wait_for_response(asked)
    (answer,) = await bot.fake.wait_for_followups(asked, timeout=10)

    assert deferred.ephemeral  # "thinking…" and the answer: for Alice alone
    (upload,) = bot.host.uploads.values()
    assert answer["embeds"][0]["url"] == upload.image["url_viewer"]
    assert any(i.startswith("picloud:del:") for i in custom_ids(answer))


async def test_the_message_command_works_in_a_group_dm(keyed_bot: Bot) -> None:
    bot = keyed_bot
    there = bot.fake.elsewhere(server=False)
    photo = bot.fake.add_attachment(png_bytes(seed=92), "dog.png", "image/png")
    posted = await bot.fake.post_message(None, there, bot.bob, "", attachments=[photo])
    asked = await bot.fake.message_command(None, there, bot.alice, "Upload to picloud", posted)
    deferred = await bot.fake.wait_for_response(asked)
    (answer,) = await bot.fake.wait_for_followups(asked, timeout=10)

    assert deferred.ephemeral
    assert len(bot.host.uploads) == 1 and answer["embeds"][0]["url"]


@pytest.mark.parametrize("server", [True, False], ids=["server", "group DM"])
async def test_server_only_commands_are_not_offered_where_the_bot_is_not(
    bot: Bot, server: bool
) -> None:
    there = bot.fake.elsewhere(server=server)
    with pytest.raises(ValueError, match="cannot be installed by a user"):
        await bot.fake.slash_command(None, there, bot.alice, "mirror", subcommand="status")
