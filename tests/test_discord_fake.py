"""The Discord fake, driven by the real discord.py over HTTP and the gateway."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import discord
import discord.gateway
import discord.http
import pytest
import yarl
from discord import app_commands

from tests.fakes import media
from tests.fakes.discord import (
    APPLICATION_ID,
    BOT_ID,
    OWNER_ID,
    TOKEN,
    DiscordFake,
    Perm,
    make_token,
)

GUILD_ID = 900_000_000_000_000_001
CHANNEL_ID = 900_000_000_000_000_002
LOCKED_CHANNEL_ID = 900_000_000_000_000_003
MOD_ROLE_ID = 900_000_000_000_000_004
ALICE_ID = 910_000_000_000_000_001
MOD_ID = 910_000_000_000_000_002
MIB = 1024 * 1024


class DeleteView(discord.ui.View):
    """A persistent view: timeout None and a fixed custom_id, as the bot's delete button."""

    def __init__(self, bot: FakeBot) -> None:
        super().__init__(timeout=None)
        self.bot = bot

    @discord.ui.button(label="Delete", style=discord.ButtonStyle.danger, custom_id="delete:42")
    async def delete(
        self, interaction: discord.Interaction, button: discord.ui.Button[Any]
    ) -> None:
        self.bot.seen.append(("button", interaction.user.id, interaction.message))
        await interaction.response.edit_message(content="deleted", embed=None, view=None)


class KeyModal(discord.ui.Modal, title="Your picloud API key"):
    key: discord.ui.TextInput[Any] = discord.ui.TextInput(label="API key", custom_id="api_key")

    def __init__(self, bot: FakeBot) -> None:
        super().__init__(custom_id="key-modal")
        self.bot = bot

    async def on_submit(self, interaction: discord.Interaction) -> None:
        self.bot.seen.append(("modal", interaction.user.id, self.key.value))
        await interaction.response.send_message("Key saved.", ephemeral=True)


class SettingsModal(discord.ui.Modal, title="Upload settings"):
    """A modal of labels (discord.py 2.7): a select and an optional text input."""

    expiry: discord.ui.Label[Any] = discord.ui.Label(
        text="Expiry",
        component=discord.ui.Select(
            custom_id="expiry",
            options=[
                discord.SelectOption(label="1 day", value="P1D"),
                discord.SelectOption(label="Never", value="never"),
            ],
        ),
    )
    tags: discord.ui.Label[Any] = discord.ui.Label(
        text="Tags", component=discord.ui.TextInput(custom_id="tags", required=False)
    )

    def __init__(self, bot: FakeBot) -> None:
        super().__init__(custom_id="settings-modal")
        self.bot = bot

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert isinstance(self.expiry.component, discord.ui.Select)
        assert isinstance(self.tags.component, discord.ui.TextInput)
        picked = (self.expiry.component.values, self.tags.component.value)
        self.bot.seen.append(("settings", *picked))
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send("Saved.", ephemeral=False)


class FakeBot(discord.Client):
    """A small bot with the shapes the real one uses: slash, group, context menu, views."""

    def __init__(self, *, intents: discord.Intents | None = None) -> None:
        if intents is None:
            intents = discord.Intents.default()
            intents.message_content = True
            intents.members = True
        super().__init__(intents=intents, guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)
        self.seen: list[tuple[Any, ...]] = []
        self.messages: list[discord.Message] = []
        self.got_message = asyncio.Event()
        self._commands()

    def _commands(self) -> None:
        tree = self.tree

        @tree.command(name="upload", description="Upload a file to picloud")
        @app_commands.describe(file="A file", title="A title")
        async def upload(
            interaction: discord.Interaction,
            file: discord.Attachment | None = None,
            url: str | None = None,
            title: str | None = None,
            nsfw: bool = False,
        ) -> None:
            await interaction.response.defer(thinking=True)
            data = await file.read() if file is not None else b""
            self.seen.append(("upload", file, data, url, title, nsfw, interaction.locale))
            embed = discord.Embed(title=title or "Uploaded", url="https://picloud.cc/image/x")
            embed.set_image(url="https://picloud.cc/images/x.png")
            await interaction.followup.send(embed=embed, view=DeleteView(self))

        key = app_commands.Group(name="key", description="Your picloud API key")

        @key.command(name="set", description="Set your key")
        async def key_set(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(KeyModal(self))

        @tree.command(name="settings", description="Your upload settings")
        async def settings(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(SettingsModal(self))

        @key.command(name="show", description="Show your key")
        async def key_show(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("ab…yz", ephemeral=True)
            await interaction.followup.send("That was your key.", ephemeral=True)
            await interaction.edit_original_response(content="ab…yz (masked)")

        tree.add_command(key)

        @tree.command(name="mirror", description="Mirror uploads in this channel")
        @app_commands.checks.has_permissions(manage_channels=True)
        async def mirror(interaction: discord.Interaction) -> None:
            self.seen.append(("mirror", interaction.user.id, interaction.permissions.value))
            await interaction.response.send_message("Mirroring on.")

        @mirror.error
        async def mirror_error(
            interaction: discord.Interaction, error: app_commands.AppCommandError
        ) -> None:
            self.seen.append(("mirror-error", interaction.user.id, error))
            if isinstance(error, app_commands.MissingPermissions):
                await interaction.response.send_message("You need Manage Channels.", ephemeral=True)

        @tree.context_menu(name="Upload to picloud")
        async def upload_message(
            interaction: discord.Interaction, message: discord.Message
        ) -> None:
            names = [a.filename for a in message.attachments]
            self.seen.append(("context", message.id, names, message.content))
            report = discord.File(io.BytesIO(b"\n".join(n.encode() for n in names)), "report.txt")
            await interaction.response.send_message(
                f"{len(names)} files", file=report, ephemeral=True
            )

    async def setup_hook(self) -> None:
        self.add_view(DeleteView(self))  # persistent: survives restarts

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py waits 5 s before a re-IDENTIFY (Discord's identify limit); tests need not."""

    async def on_message(self, message: discord.Message) -> None:
        if message.author.id == BOT_ID:
            return
        self.messages.append(message)
        self.got_message.set()


@pytest.fixture
async def fake() -> AsyncIterator[DiscordFake]:
    async with DiscordFake() as server:
        server.user(ALICE_ID, "alice", locale="de")
        server.user(MOD_ID, "mod")
        server.guild(GUILD_ID, "picloud testers", owner_id=OWNER_ID)
        server.role(GUILD_ID, MOD_ROLE_ID, "mods", permissions=Perm.MANAGE_CHANNELS)
        server.channel(GUILD_ID, CHANNEL_ID, "general")
        server.channel(
            GUILD_ID,
            LOCKED_CHANNEL_ID,
            "locked",
            overwrites=[{"id": BOT_ID, "type": 1, "deny": Perm.SEND_MESSAGES}],
        )
        server.member(GUILD_ID, server.users[ALICE_ID])
        server.member(GUILD_ID, server.users[MOD_ID], roles=[MOD_ROLE_ID])
        yield server


@pytest.fixture(autouse=True)
def pointed(fake: DiscordFake, monkeypatch: pytest.MonkeyPatch) -> None:
    """discord.py's REST base and gateway on the fake; monkeypatch restores both."""
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_url)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url)
    )


@contextlib.asynccontextmanager
async def running(client: discord.Client, token: str = TOKEN) -> AsyncIterator[asyncio.Task[None]]:
    """``client`` logged in and connected (ready), closed afterwards."""
    await client.login(token)
    connecting = asyncio.create_task(client.connect(reconnect=True))
    ready = asyncio.create_task(client.wait_until_ready())
    try:
        done, _ = await asyncio.wait({connecting, ready}, timeout=5, return_when="FIRST_COMPLETED")
        if connecting in done:
            connecting.result()  # raises what connect raised
        assert ready in done, "the client did not get ready"
        yield connecting
    finally:
        ready.cancel()
        await client.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(connecting, 5)


@pytest.fixture
async def bot(fake: DiscordFake) -> AsyncIterator[FakeBot]:
    client = FakeBot()
    async with running(client):
        await client.tree.sync()
        yield client


def guild(fake: DiscordFake) -> dict[str, Any]:
    return fake.guild_payload(GUILD_ID)


def channel(fake: DiscordFake, channel_id: int = CHANNEL_ID) -> dict[str, Any]:
    return {"id": str(channel_id)}


# --- connecting ------------------------------------------------------------------------------


async def test_login_identify_ready_guilds_and_sync(fake: DiscordFake) -> None:
    client = FakeBot()
    async with running(client) as connecting:
        assert client.user is not None and client.user.id == BOT_ID
        assert client.application_id == APPLICATION_ID
        identify = fake.identifies[0]
        assert identify["token"] == TOKEN
        assert identify["intents"] == client.intents.value
        assert fake.gateway_requests[0]["compress"] == "zlib-stream"
        assert fake.calls_to("GET", r"^/users/@me$")[0].status == 200
        assert fake.calls_to("GET", r"^/oauth2/applications/@me$")
        assert fake.heartbeats >= 1  # discord.py beats at once after HELLO

        found = client.get_guild(GUILD_ID)
        assert found is not None and found.name == "picloud testers" and found.chunked
        assert {c.id for c in found.text_channels} == {CHANNEL_ID, LOCKED_CHANNEL_ID}
        alice = found.get_member(ALICE_ID)
        assert alice is not None and alice.name == "alice"
        me = found.me
        general = found.get_channel(CHANNEL_ID)
        locked = found.get_channel(LOCKED_CHANNEL_ID)
        assert isinstance(general, discord.TextChannel) and isinstance(locked, discord.TextChannel)
        # discord.py's own permission maths agrees with the fake's.
        assert general.permissions_for(me).value == fake.permissions(GUILD_ID, CHANNEL_ID, BOT_ID)
        assert not locked.permissions_for(me).send_messages
        assert fake.permissions(GUILD_ID, LOCKED_CHANNEL_ID, BOT_ID) & Perm.SEND_MESSAGES == 0

        synced = await client.tree.sync()
        names = {c.name for c in synced}
        assert names == {"upload", "key", "settings", "mirror", "Upload to picloud"}
        stored = {c["name"]: c for c in fake.commands()}
        assert [o["name"] for o in stored["key"]["options"]] == ["set", "show"]
        assert stored["Upload to picloud"]["type"] == 3
        again = await client.tree.sync()
        assert {c.id for c in again} == {c.id for c in synced}  # bulk overwrite keeps ids

    assert connecting.done() and connecting.exception() is None
    await asyncio.sleep(0.05)
    assert not fake.connections


async def test_injecting_without_a_client_raises(fake: DiscordFake) -> None:
    with pytest.raises(RuntimeError, match="no gateway session"):
        await fake.dispatch("TYPING_START", {})
    with pytest.raises(RuntimeError, match="no gateway session"):
        await fake.post_message(guild(fake), channel(fake), fake.users[ALICE_ID], "hi")


async def test_wrong_token_fails_login_and_identify(fake: DiscordFake) -> None:
    client = discord.Client(intents=discord.Intents.default())
    with pytest.raises(discord.LoginFailure):
        await client.login(make_token(BOT_ID, "other1"))
    await client.close()

    client = discord.Client(intents=discord.Intents.default())
    await client.login(TOKEN)
    fake.token = make_token(BOT_ID, "other2")  # revoked between login and connect
    with pytest.raises(discord.ConnectionClosed) as closed:
        await asyncio.wait_for(client.connect(), 5)
    assert closed.value.code == 4004
    await client.close()


async def test_disallowed_privileged_intents(fake: DiscordFake) -> None:
    fake.privileged_intents_allowed = False
    client = FakeBot()  # asks for message_content
    await client.login(TOKEN)
    with pytest.raises(discord.PrivilegedIntentsRequired):
        await asyncio.wait_for(client.connect(), 5)
    await client.close()
    assert fake.identifies[0]["intents"] & (1 << 15)

    # Without the privileged intent it connects.
    plain = FakeBot(intents=discord.Intents.default())
    async with running(plain):
        assert plain.is_ready()


async def test_resume_after_a_dropped_connection_and_invalid_session(
    fake: DiscordFake, bot: FakeBot
) -> None:
    session_id = bot.ws.session_id
    resumed = asyncio.create_task(bot.wait_for("resumed", timeout=5))
    await asyncio.sleep(0)
    await fake.close_gateway(4000)
    # Posted while the client is away: kept for the session and replayed on RESUME.
    missed = await fake.post_message(guild(fake), channel(fake), fake.users[ALICE_ID], "missed")
    await resumed
    assert fake.resumes[-1]["session_id"] == session_id
    assert len(fake.identifies) == 1
    await asyncio.wait_for(bot.got_message.wait(), 5)
    assert [m.id for m in bot.messages] == [int(missed["id"])]

    # RECONNECT (op 7): the client reconnects and resumes again.
    resumed = asyncio.create_task(bot.wait_for("resumed", timeout=5))
    await asyncio.sleep(0)
    await fake.request_reconnect()
    await resumed
    assert len(fake.resumes) == 2

    # A session the gateway will not resume: INVALID_SESSION, then a fresh IDENTIFY.
    fake.resume_enabled = False
    await fake.close_gateway(4000)
    await fake._wait_until(lambda: len(fake.identifies) == 2 or None, 5, lambda: "no identify")
    await fake.wait_ready()
    assert bot.ws.session_id != session_id


# --- interactions -----------------------------------------------------------------------------


async def test_slash_command_with_attachment_defer_followup_embed_and_view(
    fake: DiscordFake, bot: FakeBot
) -> None:
    photo = media.png_bytes(4, 3)
    attachment = fake.add_attachment(photo, "cat.png")
    assert attachment["content_type"] == "image/png" and attachment["size"] == len(photo)
    assert (attachment["width"], attachment["height"]) == (4, 3)

    interaction = await fake.slash_command(
        guild(fake),
        channel(fake),
        fake.users[ALICE_ID],
        "upload",
        {"title": "A cat", "nsfw": True},
        attachments={"file": attachment},
    )
    callback = await fake.wait_for_response(interaction)
    assert callback.type == 5 and not callback.ephemeral
    [followup] = await fake.wait_for_followups(interaction)

    kind, file, data, url, title, nsfw, locale = bot.seen[0]
    assert kind == "upload" and data == photo and file.filename == "cat.png"
    assert (url, title, nsfw, locale) == (None, "A cat", True, discord.Locale.german)

    # The follow-up filled the "thinking" message: it is the @original.
    original = fake.original_response(interaction)
    assert original is not None and original["id"] == followup["id"]
    assert original["flags"] == 0  # LOADING cleared
    assert original["embeds"][0]["title"] == "A cat"
    assert original["embeds"][0]["image"]["url"] == "https://picloud.cc/images/x.png"
    [row] = original["components"]
    assert row["components"][0]["custom_id"] == "delete:42"
    assert original["interaction_metadata"]["user"]["id"] == str(ALICE_ID)
    assert fake.bot_messages(CHANNEL_ID)[-1]["id"] == original["id"]


async def test_persistent_view_button_updates_the_message(fake: DiscordFake, bot: FakeBot) -> None:
    general = bot.get_channel(CHANNEL_ID)
    assert isinstance(general, discord.TextChannel)
    sent = await general.send("https://picloud.cc/image/x", view=DeleteView(bot))
    stored = fake.message(CHANNEL_ID, sent.id)
    assert stored is not None and stored["components"][0]["components"][0]["label"] == "Delete"

    interaction = await fake.press_component(
        guild(fake), channel(fake), fake.users[ALICE_ID], stored, "delete:42"
    )
    callback = await fake.wait_for_response(interaction)
    assert callback.type == 7
    assert bot.seen[0][0] == "button" and bot.seen[0][1] == ALICE_ID
    assert bot.seen[0][2].id == sent.id
    updated = fake.message(CHANNEL_ID, sent.id)
    assert updated is not None
    assert updated["content"] == "deleted" and updated["components"] == []
    assert updated["edited_timestamp"] is not None
    assert fake.original_response(interaction) == updated

    with pytest.raises(ValueError, match="no component"):
        await fake.press_component(guild(fake), channel(fake), fake.users[ALICE_ID], updated, "x")


async def test_message_context_menu(fake: DiscordFake, bot: FakeBot) -> None:
    files = [fake.add_attachment(b"GIF89a...", "a.gif"), fake.add_attachment(b"x", "b.txt")]
    posted = await fake.post_message(
        guild(fake), channel(fake), fake.users[ALICE_ID], "look", attachments=files
    )
    interaction = await fake.message_command(
        guild(fake), channel(fake), fake.users[MOD_ID], "Upload to picloud", posted
    )
    callback = await fake.wait_for_response(interaction)
    assert callback.ephemeral and callback.data["content"] == "2 files"
    assert [f.filename for f in callback.files] == ["report.txt"]
    assert callback.files[0].read_bytes() == b"a.gif\nb.txt"
    assert bot.seen == [("context", int(posted["id"]), ["a.gif", "b.txt"], "look")]
    original = fake.original_response(interaction)
    assert original is not None and original["type"] == 23 and original["flags"] == 64
    [report] = original["attachments"]
    async with aiohttp.ClientSession() as session, session.get(report["url"]) as response:
        assert await response.read() == b"a.gif\nb.txt"


async def test_modal_is_opened_then_submitted(fake: DiscordFake, bot: FakeBot) -> None:
    alice = fake.users[ALICE_ID]
    with pytest.raises(ValueError, match="no modal"):
        await fake.submit_modal(guild(fake), channel(fake), alice, "key-modal", {"api_key": "k"})

    opened = await fake.slash_command(guild(fake), channel(fake), alice, "key", subcommand="set")
    callback = await fake.wait_for_response(opened)
    assert callback.type == 9 and callback.data["custom_id"] == "key-modal"
    assert callback.data["title"] == "Your picloud API key"
    assert fake.original_response(opened) is None

    submitted = await fake.submit_modal(
        guild(fake), channel(fake), alice, "key-modal", {"api_key": "chv_secret"}
    )
    answer = await fake.wait_for_response(submitted)
    assert answer.ephemeral and answer.data["content"] == "Key saved."
    assert bot.seen == [("modal", ALICE_ID, "chv_secret")]
    # Ephemeral messages exist for the user only: no MESSAGE_CREATE, hidden from channel routes.
    original = fake.original_response(submitted)
    assert original is not None
    general = bot.get_channel(CHANNEL_ID)
    assert isinstance(general, discord.TextChannel)
    with pytest.raises(discord.NotFound) as missing:
        await general.fetch_message(int(original["id"]))
    assert missing.value.code == 10008


async def test_modal_of_labels_then_ephemeral_defer_and_followup(
    fake: DiscordFake, bot: FakeBot
) -> None:
    alice = fake.users[ALICE_ID]
    opened = await fake.slash_command(guild(fake), channel(fake), alice, "settings")
    assert (await fake.wait_for_response(opened)).type == 9
    with pytest.raises(ValueError, match="offers"):
        await fake.submit_modal(
            guild(fake), channel(fake), alice, "settings-modal", {"expiry": "P9Y"}
        )
    submitted = await fake.submit_modal(
        guild(fake), channel(fake), alice, "settings-modal", {"expiry": "P1D"}
    )
    [followup] = await fake.wait_for_followups(submitted)
    assert bot.seen == [("settings", ["P1D"], "")]
    # The first follow-up after an ephemeral defer fills the "thinking" message: still ephemeral.
    assert followup["content"] == "Saved." and followup["flags"] == 64
    assert fake.original_response(submitted) == followup
    [row_one, row_two] = submitted["data"]["components"]
    assert row_one["type"] == 18 and row_one["component"]["values"] == ["P1D"]
    assert row_two["component"] == {"type": 4, "custom_id": "tags", "value": ""}


async def test_ephemeral_reply_followup_and_edit_original(fake: DiscordFake, bot: FakeBot) -> None:
    interaction = await fake.slash_command(
        guild(fake), channel(fake), fake.users[ALICE_ID], "key", subcommand="show"
    )
    await fake.wait_for("PATCH", r"/messages/@original$")
    original = fake.original_response(interaction)
    assert original is not None and original["content"] == "ab…yz (masked)"
    assert original["flags"] == 64 and original["edited_timestamp"] is not None
    [followup] = fake.followups(interaction)
    assert followup["content"] == "That was your key." and followup["flags"] == 64
    assert followup["id"] != original["id"]


async def test_has_permissions_uses_the_computed_member_permissions(
    fake: DiscordFake, bot: FakeBot
) -> None:
    denied = await fake.slash_command(guild(fake), channel(fake), fake.users[ALICE_ID], "mirror")
    assert (await fake.wait_for_response(denied)).ephemeral
    allowed = await fake.slash_command(guild(fake), channel(fake), fake.users[MOD_ID], "mirror")
    assert (await fake.wait_for_response(allowed)).data["content"] == "Mirroring on."
    kind, user_id, error = bot.seen[0]
    assert (kind, user_id) == ("mirror-error", ALICE_ID)
    assert isinstance(error, app_commands.MissingPermissions)
    kind, user_id, permissions = bot.seen[1]
    assert (kind, user_id) == ("mirror", MOD_ID) and permissions & Perm.MANAGE_CHANNELS
    assert int(denied["member"]["permissions"]) & Perm.MANAGE_CHANNELS == 0
    assert int(allowed["app_permissions"]) == fake.permissions(GUILD_ID, CHANNEL_ID, BOT_ID)


async def test_guild_commands_take_precedence(fake: DiscordFake, bot: FakeBot) -> None:
    target = discord.Object(GUILD_ID)
    bot.tree.copy_global_to(guild=target)
    synced = await bot.tree.sync(guild=target)
    assert {c["name"] for c in fake.commands(GUILD_ID)} == {c.name for c in synced}
    interaction = await fake.slash_command(guild(fake), channel(fake), fake.users[MOD_ID], "mirror")
    assert interaction["data"]["guild_id"] == str(GUILD_ID)
    assert interaction["data"]["id"] == str(next(c.id for c in synced if c.name == "mirror"))
    assert (await fake.wait_for_response(interaction)).data["content"] == "Mirroring on."


async def test_slash_command_checks_its_options_against_the_synced_command(
    fake: DiscordFake, bot: FakeBot
) -> None:
    alice = fake.users[ALICE_ID]
    with pytest.raises(ValueError, match="no command 'nope'"):
        await fake.slash_command(guild(fake), channel(fake), alice, "nope")
    with pytest.raises(ValueError, match="no option 'colour'"):
        await fake.slash_command(guild(fake), channel(fake), alice, "upload", {"colour": "red"})
    with pytest.raises(ValueError, match="no subcommand"):
        await fake.slash_command(guild(fake), channel(fake), alice, "key", subcommand="drop")


async def test_interaction_answered_too_late_is_unknown(fake: DiscordFake, bot: FakeBot) -> None:
    fake.interaction_response_timeout = 0.0
    interaction = await fake.slash_command(guild(fake), channel(fake), fake.users[MOD_ID], "mirror")
    await fake.wait_for("POST", r"^/interactions/.*/callback$", where=lambda c: c.status == 404)
    assert fake.response(interaction) is None
    for _ in range(50):
        if any(seen[0] == "mirror-error" for seen in bot.seen):
            break
        await asyncio.sleep(0.01)
    error = bot.seen[-1][2]
    assert isinstance(error, app_commands.CommandInvokeError)
    assert isinstance(error.original, discord.NotFound) and error.original.code == 10062


# --- messages and REST -------------------------------------------------------------------------


async def test_message_create_reaches_on_message_with_message_content(
    fake: DiscordFake, bot: FakeBot
) -> None:
    attachment = fake.add_attachment(media.jpeg_bytes(16, 9), "photo.jpg", spoiler=True)
    posted = await fake.post_message(
        guild(fake), channel(fake), fake.users[ALICE_ID], "a photo", attachments=[attachment]
    )
    await asyncio.wait_for(bot.got_message.wait(), 5)
    [message] = bot.messages
    assert message.id == int(posted["id"]) and message.content == "a photo"
    assert isinstance(message.author, discord.Member) and message.author.id == ALICE_ID
    [received] = message.attachments
    assert received.filename == "SPOILER_photo.jpg" and received.is_spoiler()
    assert received.content_type == "image/jpeg" and (received.width, received.height) == (16, 9)
    assert await received.read() == media.jpeg_bytes(16, 9)
    assert fake.messages(CHANNEL_ID)[-1]["content"] == "a photo"


async def test_without_message_content_only_mentions_carry_content(fake: DiscordFake) -> None:
    client = FakeBot(intents=discord.Intents.default())
    async with running(client):
        alice = fake.users[ALICE_ID]
        await fake.post_message(guild(fake), channel(fake), alice, "hidden text")
        await asyncio.wait_for(client.got_message.wait(), 5)
        client.got_message.clear()
        await fake.post_message(guild(fake), channel(fake), alice, f"<@{BOT_ID}> hi")
        await asyncio.wait_for(client.got_message.wait(), 5)
    first, second = client.messages
    assert first.content == "" and second.content == f"<@{BOT_ID}> hi"
    assert client.user in second.mentions


async def test_channel_send_with_file_edit_and_delete(
    fake: DiscordFake, bot: FakeBot, tmp_path: Path
) -> None:
    general = bot.get_channel(CHANNEL_ID)
    assert isinstance(general, discord.TextChannel)
    async with general.typing():
        pass
    png = media.png_bytes(2, 2, seed=3)
    embed = discord.Embed(title="preview").set_image(url="attachment://p.png")
    sent = await general.send(
        "done", file=discord.File(tmp_file(tmp_path, png), "p.png"), embed=embed
    )
    assert sent.attachments[0].filename == "p.png" and sent.attachments[0].size == len(png)
    assert await sent.attachments[0].read() == png
    assert sent.embeds[0].image.url == sent.attachments[0].url  # attachment:// resolved
    [call] = fake.calls_to("POST", rf"^/channels/{CHANNEL_ID}/messages$")
    assert call.json["content"] == "done" and call.files[0].filename == "p.png"
    assert fake.calls_to("POST", rf"^/channels/{CHANNEL_ID}/typing$")

    edited = await sent.edit(content="edited", attachments=[])
    assert edited.content == "edited" and edited.attachments == [] and edited.edited_at
    await sent.delete()
    assert fake.deleted == [(CHANNEL_ID, sent.id)]
    assert fake.message(CHANNEL_ID, sent.id) is None

    # Another user's message needs Manage Messages; the locked channel refuses sends.
    posted = await fake.post_message(guild(fake), channel(fake), fake.users[ALICE_ID], "mine")
    theirs = await general.fetch_message(int(posted["id"]))
    with pytest.raises(discord.Forbidden) as forbidden:
        await theirs.delete()
    assert forbidden.value.code == 50013
    locked = bot.get_channel(LOCKED_CHANNEL_ID)
    assert isinstance(locked, discord.TextChannel)
    with pytest.raises(discord.Forbidden):
        await locked.send("no")
    with pytest.raises(discord.HTTPException) as empty:
        await general.send("")
    assert empty.value.code == 50006


def tmp_file(directory: Path, content: bytes) -> Path:
    path = directory / "upload.bin"
    path.write_bytes(content)
    return path


async def test_direct_messages(fake: DiscordFake, bot: FakeBot) -> None:
    alice = bot.get_user(ALICE_ID) or await bot.fetch_user(ALICE_ID)
    sent = await alice.send("Use /key set in a DM, please.")
    dm = fake.dm_channel(fake.users[ALICE_ID])
    assert fake.message(int(dm["id"]), sent.id) is not None
    fake.closed_dms.add(ALICE_ID)
    with pytest.raises(discord.Forbidden) as closed:
        await alice.send("again")
    assert closed.value.code == 50007


# --- faults ------------------------------------------------------------------------------------


async def test_rate_limited_followup_is_retried(fake: DiscordFake, bot: FakeBot) -> None:
    fake.fail_next("POST", r"^/webhooks/", retry_after=0.05)
    attachment = fake.add_attachment(media.png_bytes(), "x.png")
    interaction = await fake.slash_command(
        guild(fake), channel(fake), fake.users[ALICE_ID], "upload", attachments={"file": attachment}
    )
    await fake.wait_for_followups(interaction)
    webhook_calls = fake.calls_to("POST", r"^/webhooks/")
    assert [c.status for c in webhook_calls] == [429, 200]
    assert webhook_calls[0].error == {
        "message": "You are being rate limited.",
        "retry_after": 0.05,
        "global": False,
    }


async def test_rate_limited_bot_route_is_retried_and_errors_are_typed(
    fake: DiscordFake, bot: FakeBot
) -> None:
    general = bot.get_channel(CHANNEL_ID)
    assert isinstance(general, discord.TextChannel)
    fake.fail_next("POST", r"/messages$", retry_after=0.05, global_=True)
    sent = await general.send("hello")
    assert [c.status for c in fake.calls_to("POST", r"/messages$")] == [429, 200]

    fake.fail_next("PATCH", r"/messages/\d+$", status=404)
    with pytest.raises(discord.NotFound) as missing:
        await sent.edit(content="x")
    assert missing.value.code == 10008 and missing.value.text == "Unknown Message"
    fake.fail_next("DELETE", r"/messages/\d+$", status=403)
    with pytest.raises(discord.Forbidden) as forbidden:
        await sent.delete()
    assert forbidden.value.code == 50013 and forbidden.value.text == "Missing Permissions"


async def test_attachment_streaming_of_a_25_mib_file(fake: DiscordFake, tmp_path: Path) -> None:
    path = media.big_png_file(tmp_path / "big.png", 25 * MIB)
    attachment = fake.add_attachment(path, "big.png")
    assert attachment["size"] == 25 * MIB and attachment["content_type"] == "image/png"
    digest, size = hashlib.sha256(), 0
    async with aiohttp.ClientSession() as session:
        async with session.get(attachment["url"]) as response:
            assert response.status == 200
            async for chunk in response.content.iter_chunked(1 << 20):
                digest.update(chunk)
                size += len(chunk)
        assert size == 25 * MIB
        assert digest.hexdigest() == hashlib.sha256(path.read_bytes()).hexdigest()
        assert [(d.attachment_id, d.size) for d in fake.downloads] == [(attachment["id"], size)]
        # An unsigned CDN link is refused, as on Discord since 2024.
        unsigned = attachment["url"].split("?")[0]
        async with session.get(unsigned) as response:
            assert response.status == 404


async def test_discord_attachment_read(fake: DiscordFake, bot: FakeBot, tmp_path: Path) -> None:
    path = media.big_png_file(tmp_path / "mid.png", 3 * MIB)
    posted = await fake.post_message(
        guild(fake),
        channel(fake),
        fake.users[ALICE_ID],
        "",
        attachments=[fake.add_attachment(path, "mid.png")],
    )
    await asyncio.wait_for(bot.got_message.wait(), 5)
    [message] = bot.messages
    assert message.id == int(posted["id"])
    assert await message.attachments[0].read() == path.read_bytes()


async def test_uploads_over_the_limit_get_413(fake: DiscordFake, bot: FakeBot) -> None:
    fake.max_upload_bytes = 1024
    general = bot.get_channel(CHANNEL_ID)
    assert isinstance(general, discord.TextChannel)
    with pytest.raises(discord.HTTPException) as too_big:
        await general.send(file=discord.File(io.BytesIO(bytes(4096)), "x.bin"))
    assert too_big.value.status == 413 and too_big.value.code == 40005


# --- shards ------------------------------------------------------------------------------------


def on_shard(shard: int, count: int, near: int) -> int:
    """The first guild id from ``near`` on that Discord routes to ``shard`` of ``count``."""
    guild_id = near
    while (guild_id >> 22) % count != shard:
        guild_id += 1 << 22
    return guild_id


EVEN_GUILD_ID = on_shard(0, 2, 920_000_000_000_000_001)
EVEN_CHANNEL_ID = 920_000_000_000_000_002
assert (GUILD_ID >> 22) % 2 == 1  # the fixture's guild is on shard 1 of 2


class ShardBot(discord.AutoShardedClient):
    """A sharded client that notes what reaches it: messages, and a /ping it answers."""

    def __init__(self, **options: Any) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        super().__init__(intents=intents, guild_ready_timeout=0.05, **options)
        self.tree = app_commands.CommandTree(self)
        self.messages: list[discord.Message] = []
        self.pings: list[discord.Interaction] = []

        @self.tree.command(name="ping", description="Which shard answers")
        async def ping(interaction: discord.Interaction) -> None:
            self.pings.append(interaction)
            await interaction.response.send_message("pong")

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """No 5 s between the shards' IDENTIFYs in tests (the fake has no identify limit)."""

    async def on_message(self, message: discord.Message) -> None:
        self.messages.append(message)


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Until ``condition()`` holds (what the clients got, which the fake does not see)."""
    for _ in range(int(timeout * 100)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError(f"not so after {timeout} s")


@pytest.fixture
def two_guilds(fake: DiscordFake) -> DiscordFake:
    """The fixture's guild (shard 1 of 2) and one on shard 0, with Alice in both."""
    fake.guild(EVEN_GUILD_ID, "even", owner_id=OWNER_ID)
    fake.channel(EVEN_GUILD_ID, EVEN_CHANNEL_ID, "general")
    fake.member(EVEN_GUILD_ID, fake.users[ALICE_ID])
    return fake


async def test_a_sharded_client_asks_gateway_bot_and_runs_every_shard(
    two_guilds: DiscordFake,
) -> None:
    fake = two_guilds
    fake.shards = 2
    client = ShardBot()  # no shard_count: discord.py takes GET /gateway/bot's
    async with running(client):
        assert fake.calls_to("GET", r"^/gateway/bot$")[0].response["shards"] == 2
        assert client.shard_count == 2 and set(client.shards) == {0, 1}
        assert sorted(identify["shard"] for identify in fake.identifies) == [[0, 2], [1, 2]]
        placed = {guild.id: guild.shard_id for guild in client.guilds}
        assert placed == {EVEN_GUILD_ID: 0, GUILD_ID: 1}
        ready = [d for d in fake.deliveries if d.event in ("READY", "GUILD_CREATE")]
        assert sorted(
            (d.shard, d.event, d.data.get("id")) for d in ready if d.event != "READY"
        ) == [
            ((0, 2), "GUILD_CREATE", str(EVEN_GUILD_ID)),
            ((1, 2), "GUILD_CREATE", str(GUILD_ID)),
        ]
        readies = {d.shard: d.data for d in ready if d.event == "READY"}
        assert readies[(0, 2)]["shard"] == [0, 2]
        assert [g["id"] for g in readies[(0, 2)]["guilds"]] == [str(EVEN_GUILD_ID)]
        assert [g["id"] for g in readies[(1, 2)]["guilds"]] == [str(GUILD_ID)]


async def test_two_instances_of_one_shard_each_get_only_their_guilds_events(
    two_guilds: DiscordFake,
) -> None:
    fake = two_guilds
    alice = fake.users[ALICE_ID]
    even, odd = ShardBot(shard_count=2, shard_ids=[0]), ShardBot(shard_count=2, shard_ids=[1])
    async with running(even), running(odd):
        await fake.wait_ready(shard=0)
        await fake.wait_ready(shard=1)
        assert [g.id for g in even.guilds] == [EVEN_GUILD_ID]
        assert [g.id for g in odd.guilds] == [GUILD_ID]
        await even.tree.sync()

        # Messages: a guild's to its shard, a DM to shard 0.
        in_even = await fake.post_message(
            fake.guild_payload(EVEN_GUILD_ID), {"id": str(EVEN_CHANNEL_ID)}, alice, "zero"
        )
        in_odd = await fake.post_message(guild(fake), channel(fake), alice, "one")
        in_dm = await fake.post_message(None, fake.dm_channel(alice), alice, "dm")
        await until(lambda: len(even.messages) + len(odd.messages) == 3)
        assert [m.content for m in even.messages] == ["zero", "dm"]
        assert [m.content for m in odd.messages] == ["one"]
        assert fake.shards_given(in_even) == [0]
        assert fake.shards_given(in_odd) == [1]
        assert fake.shards_given(in_dm) == [0]

        # Interactions likewise: each answered by the one instance that got it.
        pings = [
            await fake.slash_command(guild(fake), channel(fake), alice, "ping"),
            await fake.slash_command(
                fake.guild_payload(EVEN_GUILD_ID), {"id": str(EVEN_CHANNEL_ID)}, alice, "ping"
            ),
            await fake.slash_command(None, fake.dm_channel(alice), alice, "ping"),
        ]
        for ping in pings:
            await fake.wait_for_response(ping)
        assert [fake.shards_given(ping) for ping in pings] == [[1], [0], [0]]
        assert [i.guild_id for i in odd.pings] == [GUILD_ID]
        assert [i.guild_id for i in even.pings] == [EVEN_GUILD_ID, None]


async def test_a_shard_identified_twice_both_sessions_get_its_events(fake: DiscordFake) -> None:
    first, second = ShardBot(shard_count=1), ShardBot(shard_count=1)
    async with running(first), running(second):
        posted = await fake.post_message(guild(fake), channel(fake), fake.users[ALICE_ID], "hi")
        await until(lambda: bool(first.messages and second.messages))
        assert fake.shards_given(posted) == [0, 0]  # as on Discord: both would answer


async def test_an_invalid_shard_closes_4010_too_many_guilds_4011(
    two_guilds: DiscordFake,
) -> None:
    fake = two_guilds
    outside = ShardBot(shard_count=2, shard_ids=[2])
    await outside.login(TOKEN)
    with pytest.raises(discord.ConnectionClosed) as invalid:
        await asyncio.wait_for(outside.connect(reconnect=True), 5)
    assert invalid.value.code == 4010
    await outside.close()

    fake.max_guilds_per_shard = 1  # two guilds: one shard is not enough
    unsharded = discord.Client(intents=discord.Intents.default())
    await unsharded.login(TOKEN)
    with pytest.raises(discord.ConnectionClosed) as required:
        await asyncio.wait_for(unsharded.connect(reconnect=True), 5)
    assert required.value.code == 4011
    await unsharded.close()
    async with running(ShardBot(shard_count=2)):
        assert fake.identifies[-1]["shard"] == [1, 2]
