"""Issue 9, Discord with several instances: two bot processes, one shard each
(``DISCORD_SHARD_COUNT=2``, ``DISCORD_SHARD_IDS=0`` and ``1``), on one PostgreSQL
database, against the Discord fake. Each server's events reach only the instance of its
shard, DMs only shard 0's, and buttons and forms work on both: what one instance
stored (a key, an upload) serves the other.

Runs when PICLOUD_TEST_DATABASE_URL names a PostgreSQL server (CI sets it).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from tests.fakes.chevereto import USER_KEY, CheveretoEmulator
from tests.fakes.discord import Callback, DiscordFake
from tests.fakes.media import png_bytes
from tests.kills.conftest import STEP_TIMEOUT, BotProcess, BotProcesses, started

JSON = dict[str, Any]
SHARDS = 2


def on_shard(shard: int, near: int) -> int:
    """The first guild id from ``near`` on that Discord routes to ``shard`` of SHARDS."""
    guild_id = near
    while (guild_id >> 22) % SHARDS != shard:
        guild_id += 1 << 22
    return guild_id


EVEN_GUILD = on_shard(0, 930_000_000_000_000_000)
ODD_GUILD = on_shard(1, 930_000_000_000_000_000)


class Server:
    """A guild, its channel, and Alice, who owns it."""

    def __init__(self, fake: DiscordFake, guild_id: int, alice: JSON) -> None:
        self.guild = fake.guild(guild_id, f"server {guild_id}", owner_id=alice["id"])
        self.channel = fake.channel(guild_id, guild_id + 1, "general")
        self.shard = (guild_id >> 22) % SHARDS
        fake.member(guild_id, alice)


@pytest.fixture
def alice(discord_fake: DiscordFake) -> JSON:
    return discord_fake.user(2001, "alice")


@pytest.fixture
def servers(discord_fake: DiscordFake, alice: JSON) -> tuple[Server, Server]:
    """A server on shard 0 and one on shard 1, registered before the bots connect."""
    return Server(discord_fake, EVEN_GUILD, alice), Server(discord_fake, ODD_GUILD, alice)


async def test_two_instances_of_one_shard_each_split_the_servers_and_share_buttons(
    on_postgres: BotProcesses,
    discord_fake: DiscordFake,
    picloud: CheveretoEmulator,
    alice: JSON,
    servers: tuple[Server, Server],
) -> None:
    fake, (even, odd) = discord_fake, servers
    on_postgres.secrets["Alice's API key"] = USER_KEY
    zero, one = (
        on_postgres("discord", DISCORD_SHARD_COUNT=str(SHARDS), DISCORD_SHARD_IDS=str(shard))
        for shard in range(SHARDS)
    )
    await asyncio.gather(started(zero), started(one))

    # The premise: each process runs its own shard, and each shard its own server.
    assert re.search(r"discord bot .+ is up \(shards 0 of 2\)", zero.logs())
    assert re.search(r"discord bot .+ is up \(shards 1 of 2\)", one.logs())
    assert sorted(identify["shard"] for identify in fake.identifies) == [[0, 2], [1, 2]]
    created = sorted(
        (d.shard[0], d.data["id"]) for d in fake.deliveries if d.event == "GUILD_CREATE"
    )
    assert created == [(0, even.guild["id"]), (1, odd.guild["id"])]

    # Alice types her key into the form in the server on shard 1.
    key_set, typed = await _key_typed_in_the_form(fake, odd, alice)
    assert fake.shards_given(key_set) == fake.shards_given(typed) == [1]

    # A DM goes to shard 0, whose instance reads the key the other one stored.
    shown = await fake.slash_command(None, fake.dm_channel(alice), alice, "key", subcommand="show")
    masked = await fake.wait_for_response(shown, timeout=STEP_TIMEOUT)
    assert "chv_1_…AAAA" in masked.data["content"]
    assert fake.shards_given(shown) == [0]

    # An upload in each server, answered by the instance of its shard only ...
    even_answer = await _uploaded(fake, even, alice, seed=1)
    odd_answer = await _uploaded(fake, odd, alice, seed=2)
    even_copy, odd_copy = picloud.uploads.values()
    assert even_answer["embeds"][0]["url"] == even_copy.image["url_viewer"]
    assert odd_answer["embeds"][0]["url"] == odd_copy.image["url_viewer"]
    # ... and a photo posted in each mirrored channel: messages follow their server too.
    for seed, server in enumerate((even, odd), start=3):
        posted, reply = await _mirrored(fake, server, alice, seed)
        assert fake.shards_given(posted, "MESSAGE_CREATE") == [server.shard]
        assert reply["embeds"][0]["url"] == list(picloud.uploads.values())[-1].image["url_viewer"]
    # Who did the work: each process uploaded for its own server, and only for it.
    assert _uploads_logged(zero) == [even.guild["id"]] * 2
    assert _uploads_logged(one) == [odd.guild["id"]] * 2

    # Codes, on each instance.
    for server, answer, shard in ((even, even_answer, 0), (odd, odd_answer, 1)):
        pressed, codes = await _press(fake, server, alice, answer, "picloud:codes:")
        assert codes.ephemeral and "![" in str(codes.data["embeds"])  # Markdown first
        assert fake.shards_given(pressed) == [shard]

    # Delete, on shard 1's instance: the answer says so.
    assert await _deleted(fake, odd, alice, odd_answer) == [1]
    assert (odd_copy.deleted, even_copy.deleted) == (True, False)
    await fake.wait_for(
        "PATCH", rf"/channels/{odd.channel['id']}/messages/{odd_answer['id']}", timeout=10
    )
    edited = fake.message(int(odd.channel["id"]), odd_answer["id"]) or {}
    assert "Deleted" in edited["embeds"][0]["description"]

    # Shard 1's instance deletes, from /history, the upload shard 0's instance made ...
    listed = await fake.slash_command(odd.guild, odd.channel, alice, "history")
    await fake.wait_for_response(listed, timeout=STEP_TIMEOUT)
    listing = fake.original_response(listed) or {}
    kept = [copy for copy in picloud.uploads.values() if not copy.deleted]
    newest_first = [copy.image["url_viewer"] for copy in reversed(kept)]
    assert [embed["url"] for embed in listing["embeds"]] == newest_first
    assert newest_first[-1] == even_copy.image["url_viewer"]  # Delete 3: shard 0's /upload
    assert await _deleted(fake, odd, alice, listing, number=len(newest_first)) == [1]
    assert even_copy.deleted

    # ... and shard 0's instance knows it is gone when its own answer's Delete is pressed.
    pressed, refused = await _press(fake, even, alice, even_answer, "picloud:del:")
    assert "already deleted" in refused.data["content"] and refused.ephemeral
    assert fake.shards_given(pressed) == [0]

    for process in (zero, one):
        assert (await process.terminate(timeout=STEP_TIMEOUT))[0] == 0
    assert len(picloud.uploads) == 4  # nothing uploaded twice


async def _key_typed_in_the_form(
    fake: DiscordFake, server: Server, alice: JSON
) -> tuple[JSON, JSON]:
    """``/key set`` in ``server``, Alice's key typed into the form: both interactions."""
    key_set = await fake.slash_command(server.guild, server.channel, alice, "key", subcommand="set")
    form = await fake.wait_for_response(key_set, timeout=STEP_TIMEOUT)
    assert form.type == 9
    (field,) = [c for row in form.data["components"] for c in row["components"]]
    typed = await fake.submit_modal(
        server.guild, server.channel, alice, form.data["custom_id"], {field["custom_id"]: USER_KEY}
    )
    saved = await fake.wait_for_response(typed, timeout=STEP_TIMEOUT)
    assert saved.data["content"].startswith("Key saved")
    return key_set, typed


async def _uploaded(fake: DiscordFake, server: Server, alice: JSON, seed: int) -> JSON:
    """``/upload`` of a photo in ``server``: its answer, once the bot sent it."""
    photo = fake.add_attachment(png_bytes(seed=seed), f"cat{seed}.png", "image/png")
    asked = await fake.slash_command(
        server.guild, server.channel, alice, "upload", attachments={"attachment": photo}
    )
    (answer,) = await fake.wait_for_followups(asked, timeout=STEP_TIMEOUT)
    assert fake.shards_given(asked) == [server.shard]
    return answer


async def _mirrored(fake: DiscordFake, server: Server, alice: JSON, seed: int) -> tuple[JSON, JSON]:
    """Mirroring switched on in ``server``'s channel, then a photo posted there: the
    message and the bot's reply to it."""
    enable = await fake.slash_command(
        server.guild, server.channel, alice, "mirror", subcommand="enable"
    )
    enabled = await fake.wait_for_response(enable, timeout=STEP_TIMEOUT)
    assert "Mirroring is on" in enabled.data["content"]
    photo = fake.add_attachment(png_bytes(seed=seed), f"posted{seed}.png", "image/png")
    posted = await fake.post_message(server.guild, server.channel, alice, attachments=[photo])
    reply = await fake.wait_for_message(
        server.channel,
        where=lambda m: (m.get("message_reference") or {}).get("message_id") == posted["id"],
        timeout=STEP_TIMEOUT,
    )
    return posted, reply


async def _deleted(
    fake: DiscordFake, server: Server, alice: JSON, message: JSON, number: int | None = None
) -> list[int]:
    """Alice presses Delete (``number``, when ``message`` holds several), then Yes: the
    shards the Yes went to."""
    suffix = "" if number is None else f" {number}"
    (delete,) = [b for b in _buttons(message) if b["label"] == f"Delete{suffix}"]
    pressed, question = await _press(fake, server, alice, message, delete["custom_id"])
    confirm = fake.original_response(pressed)
    assert confirm is not None and question.ephemeral
    yes, done = await _press(fake, server, alice, confirm, "picloud:delyes:")
    assert done.data["content"] == "Deleted."
    return fake.shards_given(yes)


async def _press(
    fake: DiscordFake, server: Server, user: JSON, message: JSON, prefix: str
) -> tuple[JSON, Callback]:
    """``user`` presses the one button of ``message`` whose custom id starts with
    ``prefix``: the interaction, and the bot's callback to it."""
    (custom_id,) = [
        button["custom_id"]
        for button in _buttons(message)
        if button.get("custom_id", "").startswith(prefix)
    ]
    pressed = await fake.press_component(server.guild, server.channel, user, message, custom_id)
    return pressed, await fake.wait_for_response(pressed, timeout=STEP_TIMEOUT)


def _buttons(message: JSON) -> list[JSON]:
    return [c for row in message.get("components", []) for c in row.get("components", [])]


def _uploads_logged(process: BotProcess) -> list[str]:
    """The chat of each "uploaded" line in the process's log: who did the work."""
    return re.findall(r"uploaded \d+ bytes.*chat=(\d+)", process.logs())
