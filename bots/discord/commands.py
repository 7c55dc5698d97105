"""The app commands: ``/upload``, "Upload to picloud", ``/key``, ``/mirror``, ``/history``.

Each parses its input, checks what needs no network (so a refusal is instant and
ephemeral), defers (Discord allows three seconds), then calls the core service.
"""

from __future__ import annotations

import io
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str

from bots.discord.arrivals import Arrival
from bots.discord.buttons import upload_buttons
from bots.discord.deps import (
    Deps,
    channel_ref,
    deps_of,
    language_for,
    server_ref,
    translator_for,
    user_ref,
)
from bots.discord.embeds import EMBED_COLOUR, upload_embed
from bots.discord.uploading import (
    DeferredResponse,
    answered,
    items_of,
    keep,
    upload_arrival,
)
from core.charts import bar_chart_png
from core.chevereto.models import UploadOptions
from core.errors import InputError, KeyProblem
from core.expiry import parse_optional_expiry
from core.i18n import Translator, translator
from core.messages import (
    describe_error,
    describe_lost_copies,
    describe_stats,
    mirroring_status,
    sharex_warning,
)
from core.refs import Platform
from core.service.batch import Item, Link
from core.sharex import FILE_NAME

EXPIRY_CHOICES = ("10m", "1h", "6h", "1d", "1w", "1mo", "6mo", "1y")
HISTORY_SIZE = 10


@app_commands.command(
    name=locale_str("upload"), description=locale_str("Upload a file or a link to picloud")
)
@app_commands.allowed_installs(guilds=True, users=True)
@app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
@app_commands.rename(
    attachment=locale_str("attachment"),
    url=locale_str("url"),
    title=locale_str("title"),
    description=locale_str("description"),
    tags=locale_str("tags"),
    expiry=locale_str("expiry"),
    album=locale_str("album"),
)
@app_commands.describe(
    attachment=locale_str("The file to upload"),
    url=locale_str("A link to an image or video"),
    title=locale_str("Title (up to 100 characters)"),
    description=locale_str("Description"),
    tags=locale_str("Tags, separated by commas"),
    expiry=locale_str("Delete after: 10m, 1h, 1d, 1w, 1mo…"),
    nsfw=locale_str("Mark as not safe for work"),
    album=locale_str("Album id (one of yours)"),
)
async def upload(
    interaction: discord.Interaction,
    attachment: discord.Attachment | None = None,
    url: str | None = None,
    title: str | None = None,
    description: str | None = None,
    tags: str | None = None,
    expiry: str | None = None,
    nsfw: bool = False,
    album: str | None = None,
) -> None:
    deps = deps_of(interaction)
    language = await language_for(deps, interaction.user, interaction.locale)
    _ = translator(language)
    items: list[Item] = [deps.files.of(attachment)] if attachment else []
    if url:
        items.append(Link(url.strip()))
    if not items:
        await _refuse(interaction, _("Give an attachment, a url, or both."))
        return
    try:
        options = UploadOptions(
            title=title,
            description=description,
            tags=tuple(tag.strip() for tag in (tags or "").split(",") if tag.strip()),
            album_id=album,
            expiration=parse_optional_expiry(expiry),
            nsfw=nsfw or bool(attachment and attachment.is_spoiler()),
        )
        await _check_key(deps, interaction)
    except (InputError, KeyProblem) as error:
        await _refuse(interaction, describe_error(error, _, deps.hints))
        return
    await _upload_and_answer(interaction, deps, items, options, language)


@upload.autocomplete("expiry")
async def expiry_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    typed = current.strip()
    suggestions = [choice for choice in EXPIRY_CHOICES if choice.startswith(typed)] or [typed]
    return [app_commands.Choice(name=choice, value=choice) for choice in suggestions if choice]


@app_commands.context_menu(name=locale_str("Upload to picloud"))
@app_commands.allowed_installs(guilds=True, users=True)
@app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
async def upload_message(interaction: discord.Interaction, message: discord.Message) -> None:
    """Every attachment and link of a message, in one answer."""
    deps = deps_of(interaction)
    language = await language_for(deps, interaction.user, interaction.locale)
    _ = translator(language)
    items = items_of(message, deps)
    if not items:
        await _refuse(interaction, _("That message has no attachment or link to upload."))
        return
    try:
        await _check_key(deps, interaction)
    except KeyProblem as error:
        await _refuse(interaction, describe_error(error, _, deps.hints))
        return
    spoiler = any(attachment.is_spoiler() for attachment in message.attachments)
    await _upload_and_answer(interaction, deps, items, UploadOptions(nsfw=spoiler), language)


key = app_commands.Group(
    name=locale_str("key"),
    description=locale_str("Your picloud API key"),
    allowed_installs=app_commands.AppInstallationType(guild=True, user=True),
    allowed_contexts=app_commands.AppCommandContext(
        guild=True, dm_channel=True, private_channel=True
    ),
)


KEY_FORM = "picloud:key:user"
SERVER_KEY_FORM = "picloud:key:server"
KEY_INPUT = "key"


class KeyForm(discord.ui.Modal):
    """Where a key is typed, never in a channel. Only the form: what it sends back is
    handled by :func:`key_submitted`, on whichever instance gets it, from what the
    submission carries; so a form opened before a restart (or on another instance)
    still saves its key."""

    def __init__(self, _: Translator, *, server: bool = False) -> None:
        title = _("The server's picloud API key") if server else _("Your picloud API key")
        form = SERVER_KEY_FORM if server else KEY_FORM
        super().__init__(title=title[:45], custom_id=form, timeout=600)
        # The server's key can be taken back: "off" removes it (see KeyRing.set_chat_key).
        placeholder = _("chv_… (or off to remove it)") if server else "chv_…"
        self.add_item(
            discord.ui.TextInput(
                label=_("API key"),
                custom_id=KEY_INPUT,
                placeholder=placeholder[:100],
                max_length=200,
                required=True,
            )
        )


async def key_submitted(interaction: discord.Interaction) -> None:
    """A key form sent back (``modal_submit``): the user's key, or the server's if the
    sender may still manage the server now."""
    data: dict[str, Any] = dict(interaction.data or {})
    form = data.get("custom_id")
    if form not in (KEY_FORM, SERVER_KEY_FORM):
        return
    deps = deps_of(interaction)
    _, keys = await translator_for(deps, interaction.user, interaction.locale), deps.service.keys
    typed = _typed(data.get("components", []), KEY_INPUT)
    try:
        if form == KEY_FORM:
            masked = await keys.set_user_key(user_ref(interaction.user), typed)
            text = _("Key saved: {masked}").format(masked=masked)
        elif (
            (server := server_ref(interaction.guild_id))
            and interaction.is_guild_integration()
            and interaction.permissions.manage_guild
        ):
            shared = await keys.set_chat_key(server, typed, user_ref(interaction.user))
            text = (
                _("Server key saved: {masked}").format(masked=shared)
                if shared
                else _("The server's key is removed.")
            )
        else:
            text = _("Only members with Manage Server can set the server's key.")
    except InputError:
        text = _("That is not an API key: it has no spaces or line breaks. Copy it again.")
    await interaction.response.send_message(text, ephemeral=True)


def _typed(components: list[Any], custom_id: str) -> str:
    """The value of the input ``custom_id`` among a submission's (nested) components."""
    for component in components:
        if not isinstance(component, dict):
            continue
        if component.get("custom_id") == custom_id and "value" in component:
            return str(component["value"])
        nested = [*component.get("components", []), component.get("component")]
        if found := _typed(nested, custom_id):
            return found
    return ""


@key.command(
    name=locale_str("set"), description=locale_str("Store your picloud API key (opens a form)")
)
async def key_set(interaction: discord.Interaction) -> None:
    _ = await translator_for(deps_of(interaction), interaction.user, interaction.locale)
    await interaction.response.send_modal(KeyForm(_))


@key.command(name=locale_str("remove"), description=locale_str("Forget your API key"))
async def key_remove(interaction: discord.Interaction) -> None:
    deps = deps_of(interaction)
    _ = await translator_for(deps, interaction.user, interaction.locale)
    removed = await deps.service.keys.remove_user_key(user_ref(interaction.user))
    text = _("Your key is removed.") if removed else _("You have no key stored.")
    await interaction.response.send_message(text, ephemeral=True)


@key.command(name=locale_str("show"), description=locale_str("Show your API key, masked"))
async def key_show(interaction: discord.Interaction) -> None:
    deps = deps_of(interaction)
    _ = await translator_for(deps, interaction.user, interaction.locale)
    masked = await deps.service.keys.show_user_key(user_ref(interaction.user))
    text = _("Key: {key}").format(key=masked) if masked else _("You have no key stored.")
    await interaction.response.send_message(text, ephemeral=True)


@key.command(
    name=locale_str("server"), description=locale_str("Set this server's key (Manage Server)")
)
@app_commands.guild_only()
async def key_server(interaction: discord.Interaction) -> None:
    _ = await translator_for(deps_of(interaction), interaction.user, interaction.locale)
    if not interaction.is_guild_integration():
        await _refuse(interaction, _("Add the bot to this server first: its key is for the bot."))
        return
    if not interaction.permissions.manage_guild:
        await _refuse(interaction, _("Only members with Manage Server can set the server's key."))
        return
    await interaction.response.send_modal(KeyForm(_, server=True))


mirror = app_commands.Group(
    name=locale_str("mirror"),
    description=locale_str("Upload every attachment posted in this channel"),
    guild_only=True,
    default_permissions=discord.Permissions(manage_channels=True),
)


@mirror.command(name=locale_str("enable"), description=locale_str("Start mirroring this channel"))
async def mirror_enable(interaction: discord.Interaction) -> None:
    await _set_mirroring(interaction, True)


@mirror.command(name=locale_str("disable"), description=locale_str("Stop mirroring this channel"))
async def mirror_disable(interaction: discord.Interaction) -> None:
    await _set_mirroring(interaction, False)


@mirror.command(name=locale_str("status"), description=locale_str("Is this channel mirrored?"))
async def mirror_status(interaction: discord.Interaction) -> None:
    await _set_mirroring(interaction, None)


async def _set_mirroring(interaction: discord.Interaction, enabled: bool | None) -> None:
    deps = deps_of(interaction)
    _ = await translator_for(deps, interaction.user, interaction.locale)
    # Default permissions only hide the command; the check that counts is here.
    if not interaction.permissions.manage_channels:
        await _refuse(interaction, _("Only members with Manage Channels can change mirroring."))
        return
    if enabled and not deps.message_content:
        await _refuse(
            interaction,
            _(
                "I cannot read messages here: the bot runs without the Message Content intent. "
                "Turn it on in the Discord Developer Portal (Bot → Privileged Gateway Intents → "
                "Message Content Intent) and restart the bot."
            ),
        )
        return
    assert interaction.channel_id is not None
    channel = channel_ref(interaction.channel_id)
    if enabled is not None:
        await deps.profiles.set_mirroring(channel, enabled, user_ref(interaction.user))
    switches = await deps.profiles.chat(channel)
    server = await deps.profiles.chat(server_ref(interaction.guild_id))  # type: ignore[arg-type]
    text = mirroring_status(switches.mirroring, server.has_key, _)
    await interaction.response.send_message(text, ephemeral=True)


@app_commands.command(name=locale_str("history"), description=locale_str("Your last 10 uploads"))
@app_commands.allowed_installs(guilds=True, users=True)
@app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
async def history(interaction: discord.Interaction) -> None:
    deps = deps_of(interaction)
    _ = await translator_for(deps, interaction.user, interaction.locale)
    user = user_ref(interaction.user)
    views = await deps.service.history(user, HISTORY_SIZE)
    lost = await deps.service.lost_copies(user, HISTORY_SIZE)
    if not views and not lost:
        await interaction.response.send_message(_("You have no uploads yet."), ephemeral=True)
        return
    await interaction.response.send_message(
        content=describe_lost_copies(lost, _, deps.hints) if lost else None,
        embeds=[upload_embed(view, _) for view in views],
        view=upload_buttons(views, _) if views else discord.utils.MISSING,
        ephemeral=True,
    )


async def _upload_and_answer(
    interaction: discord.Interaction,
    deps: Deps,
    items: list[Item],
    options: UploadOptions,
    language: str,
) -> None:
    """Keep the request, defer (Discord allows three seconds), upload, answer in one
    follow-up."""
    arrival = Arrival.of_interaction(interaction, items, options, language)
    await keep(deps, arrival)
    private = where_the_bot_is_not(interaction)
    await interaction.response.defer(thinking=True, ephemeral=private)
    response = DeferredResponse(interaction, translator(language), ephemeral=private)
    answer = await upload_arrival(deps, arrival, on_delay=response.note_delay)
    await response.answer(answer)
    await answered(deps, arrival, answer)


def where_the_bot_is_not(interaction: discord.Interaction) -> bool:
    """Used through a user's own install, in a server that never added the bot or in a
    group DM: the answer is for that user alone (the bot cannot post there)."""
    foreign_server = interaction.guild_id is not None and not interaction.is_guild_integration()
    return foreign_server or interaction.context.private_channel


async def _check_key(deps: Deps, interaction: discord.Interaction) -> None:
    """Raise MissingKey now, while the answer can still be ephemeral."""
    await deps.service.keys.resolve(user_ref(interaction.user), server_ref(interaction.guild_id))


async def _refuse(interaction: discord.Interaction, text: str) -> None:
    await interaction.response.send_message(text, ephemeral=True)


@app_commands.command(
    name=locale_str("sharex"), description=locale_str("A ShareX uploader with your key")
)
@app_commands.allowed_installs(guilds=True, users=True)
@app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
async def sharex(interaction: discord.Interaction) -> None:
    """A ShareX uploader (``.sxcu``) with the user's own key, seen by them alone."""
    deps = deps_of(interaction)
    _ = await translator_for(deps, interaction.user, interaction.locale)
    uploader = await deps.sharex.uploader_for(user_ref(interaction.user))
    if uploader is None:
        text = _("Store your own key first (/key set): the ShareX file uploads with it.")
        await interaction.response.send_message(text, ephemeral=True)
        return
    await interaction.response.send_message(
        sharex_warning(_, "/key remove"),
        file=discord.File(io.BytesIO(uploader), filename=FILE_NAME),
        ephemeral=True,
    )


@app_commands.command(
    name=locale_str("gallery"),
    description=locale_str("Your uploads in a gallery: search, copy, delete"),
)
@app_commands.allowed_installs(guilds=True, users=True)
@app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
async def gallery(interaction: discord.Interaction) -> None:
    """A one-time link to the user's web gallery, seen by them alone."""
    deps = deps_of(interaction)
    language = await language_for(deps, interaction.user, interaction.locale)
    _ = translator(language)
    if not deps.gallery.enabled:
        text = _("The gallery is off on this bot (its operator has not set PICLOUD_PUBLIC_URL).")
        await interaction.response.send_message(text, ephemeral=True)
        return
    link = deps.gallery.one_time_link(user_ref(interaction.user), language)
    view = discord.ui.View()
    view.add_item(discord.ui.Button(label=_("Open my gallery"), url=link))
    text = _(
        "Your uploads: search them, copy their codes, delete them. "
        "The link is yours alone: it opens once, within 10 minutes."
    )
    await interaction.response.send_message(text, view=view, ephemeral=True)


@app_commands.command(
    name=locale_str("stats"),
    description=locale_str("Uploads of the last 7 and 30 days (Manage Server)"),
)
async def stats(interaction: discord.Interaction) -> None:
    """A server's uploads for those who manage it; everything for the operator, in DMs."""
    deps = deps_of(interaction)
    _ = await translator_for(deps, interaction.user, interaction.locale)
    server = server_ref(interaction.guild_id)
    if server is not None and interaction.permissions.manage_guild:
        counted, heading = await deps.statistics.of_chat(server), _("This server")
    elif server is None and deps.statistics.is_operator(user_ref(interaction.user)):
        counted, heading = await deps.statistics.of_everything(), _("Everything")
    else:
        text = _("Statistics are for those who manage a server, and for the bot's operator.")
        await interaction.response.send_message(text, ephemeral=True)
        return
    embed = discord.Embed(
        title=f"📊 {heading}",
        description=describe_stats(counted, _, Platform.DISCORD, _mention),
        colour=EMBED_COLOUR,
    )
    embed.set_image(url="attachment://stats.png")
    embed.set_footer(text=_("Uploads per day, last 30 days."))
    chart = discord.File(io.BytesIO(bar_chart_png(counted.daily)), filename="stats.png")
    await interaction.response.send_message(embed=embed, file=chart, ephemeral=True)


def _mention(user_id: str) -> str:
    """Shown as the user's name; never a ping inside an embed."""
    return f"<@{user_id}>"


COMMANDS: tuple[
    app_commands.Command[Any, Any, Any] | app_commands.ContextMenu | app_commands.Group, ...
] = (
    upload,
    sharex,
    gallery,
    stats,
    upload_message,
    key,
    mirror,
    history,
)
