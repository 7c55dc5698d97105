"""SIGKILL of the Discord bot after it deferred an interaction, then a restart: the
deferred "thinking…" response is resolved with the answer (through the interaction's
token, kept encrypted), one copy at the host, and nothing else is posted."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bots.discord.deps import channel_ref, server_ref
from core.refs import Platform, UserId, UserRef
from tests.fakes.chevereto import USER_KEY, CheveretoEmulator, UploadStage
from tests.fakes.discord import DiscordFake
from tests.fakes.media import png_bytes
from tests.kills.conftest import SETTLE_S, STEP_TIMEOUT, BotProcesses, started

JSON = dict[str, Any]


@pytest.fixture
def server(discord_fake: DiscordFake) -> tuple[JSON, JSON, JSON]:
    """A guild, its channel and Alice, registered before the bot connects."""
    alice = discord_fake.user(2001, "alice")
    guild = discord_fake.guild(3001, "Cats", owner_id=alice["id"])
    channel = discord_fake.channel(3001, 3002, "general")
    discord_fake.member(3001, alice)
    return guild, channel, alice


@pytest.mark.parametrize(
    "stage",
    [UploadStage.RECEIVING, UploadStage.STORED],
    ids=["body on its way", "host stored it, its answer unseen"],
)
async def test_killed_after_the_defer_the_restart_answers_the_deferred_response(
    stage: UploadStage,
    bot_process: BotProcesses,
    discord_fake: DiscordFake,
    picloud: CheveretoEmulator,
    server: tuple[JSON, JSON, JSON],
) -> None:
    fake, (guild, channel, alice) = discord_fake, server
    first = await bot_process.start_for(alice, "discord")
    hold = picloud.hold_upload(stage)
    attachment = fake.add_attachment(png_bytes(seed=81), "cat.png", "image/png")
    interaction = await fake.slash_command(
        guild, channel, alice, "upload", {}, attachments={"attachment": attachment}
    )

    deferred = await fake.wait_for_response(interaction)
    await hold.wait_reached(timeout=STEP_TIMEOUT)
    assert deferred.type == 5  # "thinking…": Discord will not send this interaction again
    first.kill()
    hold.release()

    second = await started(bot_process("discord"))
    answer = await _resolved(fake, interaction)
    assert (await second.terminate(timeout=STEP_TIMEOUT))[0] == 0
    (copy,) = picloud.uploads.values()
    (embed,) = answer["embeds"]
    if stage is UploadStage.RECEIVING:
        assert embed["url"] == copy.image["url_viewer"]
    else:
        assert "earlier try" in embed["description"]
    # The deferred response, now the answer, is the bot's only message in the channel.
    assert [m["id"] for m in _bot_posts(fake, channel)] == [answer["id"]]
    assert fake.followups(interaction) in ([], [answer])


async def _resolved(fake: DiscordFake, interaction: JSON) -> JSON:
    """The interaction's @original once it holds an answer (and a pause for a second)."""
    for _ in range(int(STEP_TIMEOUT * 10)):
        original = fake.original_response(interaction)
        if original is not None and original.get("embeds"):
            await asyncio.sleep(SETTLE_S)
            return fake.original_response(interaction) or original
        await asyncio.sleep(0.1)
    raise TimeoutError(f"the deferred response was never resolved; calls: {fake.calls[-10:]}")


async def test_killed_before_the_defer_went_out_the_kept_command_is_answered(
    bot_process: BotProcesses,
    discord_fake: DiscordFake,
    picloud: CheveretoEmulator,
    server: tuple[JSON, JSON, JSON],
) -> None:
    fake, (guild, channel, alice) = discord_fake, server
    first = await bot_process.start_for(alice, "discord")
    defer = fake.hold("POST", r"^/interactions/\d+/[^/]+/callback$")
    attachment = fake.add_attachment(png_bytes(seed=82), "cat.png", "image/png")
    interaction = await fake.slash_command(
        guild, channel, alice, "upload", {}, attachments={"attachment": attachment}
    )

    await defer.wait_reached(timeout=STEP_TIMEOUT)
    assert picloud.requests == []  # nothing uploaded: only our inbox knows of it
    first.kill()
    defer.release(proceed=False)  # the defer never reached Discord

    second = await started(bot_process("discord"))
    answer = await _first_bot_post(fake, channel)
    assert (await second.terminate(timeout=STEP_TIMEOUT))[0] == 0
    (copy,) = picloud.uploads.values()
    assert answer["content"] == f"<@{alice['id']}>"
    assert answer["embeds"][0]["url"] == copy.image["url_viewer"]
    assert len(_bot_posts(fake, channel)) == 1
    assert fake.response(interaction) is None


async def test_killed_before_a_mirrored_message_was_touched_it_is_answered(
    bot_process: BotProcesses,
    discord_fake: DiscordFake,
    picloud: CheveretoEmulator,
    server: tuple[JSON, JSON, JSON],
) -> None:
    fake, (guild, channel, alice) = discord_fake, server
    await bot_process.store_user_key(alice["id"], USER_KEY, platform=Platform.DISCORD)
    async with bot_process.open_core() as core:
        owner = UserRef(Platform.DISCORD, UserId(str(alice["id"])))
        await core.profiles.set_mirroring(channel_ref(int(channel["id"])), True, owner)
    first = await started(bot_process("discord"))
    typing = fake.hold("POST", r"^/channels/\d+/typing$")
    attachment = fake.add_attachment(png_bytes(seed=83), "dog.png", "image/png")
    posted = await fake.post_message(guild, channel, alice, attachments=[attachment])

    await typing.wait_reached(timeout=STEP_TIMEOUT)
    # "typing…" is the bot's first call for the message: nothing else happened yet.
    assert picloud.requests == [] and _bot_posts(fake, channel) == []
    first.kill()
    typing.release(proceed=False)

    second = await started(bot_process("discord"))
    answer = await _first_bot_post(fake, channel)
    assert (await second.terminate(timeout=STEP_TIMEOUT))[0] == 0
    (copy,) = picloud.uploads.values()
    assert answer["embeds"][0]["url"] == copy.image["url_viewer"]
    assert answer["message_reference"]["message_id"] == posted["id"]
    assert len(_bot_posts(fake, channel)) == 1


async def _first_bot_post(fake: DiscordFake, channel: JSON) -> JSON:
    """The bot's first message in the channel (it may come while the bot starts), after
    a pause in which a second one would have shown up."""
    for _ in range(int(STEP_TIMEOUT * 10)):
        if posts := _bot_posts(fake, channel):
            await asyncio.sleep(SETTLE_S)
            return posts[0]
        await asyncio.sleep(0.1)
    raise TimeoutError(f"no bot message in the channel; calls: {fake.calls[-10:]}")


def _bot_posts(fake: DiscordFake, channel: JSON) -> list[JSON]:
    return fake.bot_messages(int(channel["id"]))


@pytest.mark.parametrize("form", ["set", "server"])
async def test_a_key_form_opened_before_a_restart_is_saved_after_it(
    form: str,
    bot_process: BotProcesses,
    discord_fake: DiscordFake,
    server: tuple[JSON, JSON, JSON],
) -> None:
    fake, (guild, channel, alice) = discord_fake, server
    first = await started(bot_process("discord"))
    opening = await fake.slash_command(guild, channel, alice, "key", subcommand=form)
    opened = await fake.wait_for_response(opening, timeout=STEP_TIMEOUT)
    assert opened.type == 9  # the form is open in Alice's client...
    assert (await first.terminate(timeout=STEP_TIMEOUT))[0] == 0  # ...when the bot restarts
    second = await started(bot_process("discord"))

    (field,) = [c for row in opened.data["components"] for c in row["components"]]
    typed = await fake.submit_modal(
        guild, channel, alice, opened.data["custom_id"], {field["custom_id"]: USER_KEY}
    )
    saved = await fake.wait_for_response(typed, timeout=STEP_TIMEOUT)
    assert (await second.terminate(timeout=STEP_TIMEOUT))[0] == 0

    assert saved.data["content"].startswith("Key saved" if form == "set" else "Server key saved")
    bot_process.secrets["the key typed"] = USER_KEY
    async with bot_process.open_core() as core:
        if form == "set":
            alices = UserRef(Platform.DISCORD, UserId(str(alice["id"])))
            assert await core.service.keys.show_user_key(alices)
        else:
            cats = server_ref(int(guild["id"]))
            assert cats is not None and (await core.profiles.chat(cats)).has_key
