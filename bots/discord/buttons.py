"""The answer's buttons: Codes, Delete, and Delete's confirmation.

They are persistent (``discord.ui.DynamicItem``): the custom id carries the opaque
upload id, so a button works after a restart. Who may delete is decided by the core
service: the uploader, or a member with Manage Messages in the server the upload was
made in; everyone else gets an ephemeral no.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import discord

from bots.discord.deps import (
    about_interaction,
    deps_of,
    server_ref,
    translator_for,
    user_ref,
)
from bots.discord.embeds import codes_embed, deleted_embed
from core.chevereto.models import DeleteOutcome
from core.codes import Format, embed_codes
from core.errors import NotFound, PermissionDenied
from core.i18n import Translator
from core.refs import ChatRef, UploadId
from core.service.types import UploadView

UPLOAD_ID = r"(?P<upload_id>[A-Za-z0-9_-]{8,32})"
Button = discord.ui.Button[Any]


MAX_BUTTONS = 25  # Discord's limit per message


def upload_buttons(views: list[UploadView], _: Translator) -> discord.ui.View:
    """Open, Codes and Delete for each upload (numbered when there are several). Past
    eight uploads the Open buttons would not fit: each embed's title links there."""
    panel = discord.ui.View(timeout=None)
    with_open = 3 * len(views) <= MAX_BUTTONS
    for number, view in enumerate(views, start=1):
        suffix = f" {number}" if len(views) > 1 else ""
        if view.url_viewer and with_open:
            panel.add_item(discord.ui.Button(label=_("Open") + suffix, url=view.url_viewer))
        panel.add_item(CodesButton(view.upload_id, _("Codes") + suffix))
        panel.add_item(DeleteButton(view.upload_id, _("Delete") + suffix))
    return panel


CODES_ID = re.compile(rf"picloud:codes:{UPLOAD_ID}(?::(?P<form>md|bb|html))?")
DELETE_ID = re.compile(rf"picloud:del:{UPLOAD_ID}")
CONFIRM_ID = re.compile(rf"picloud:delyes:{UPLOAD_ID}:(?P<message>\d+)")
"""Our buttons' custom ids, each matched whole: the upload they are about (and the
message to delete, for a confirmation)."""


class _Logged:
    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        about_interaction(interaction)
        return True


class CodesButton(_Logged, discord.ui.DynamicItem[Button], template=CODES_ID):
    """Codes, in a message only the presser sees; with ``form``, one of that message's
    buttons that switch it to another format."""

    def __init__(self, upload_id: str, label: str = "Codes", form: Format | None = None) -> None:
        custom_id = f"picloud:codes:{upload_id}" + (f":{form}" if form else "")
        style = discord.ButtonStyle.secondary
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=custom_id))
        self.upload_id = UploadId(upload_id)
        self.form = form

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> CodesButton:
        form = Format(match["form"]) if match["form"] else None
        return cls(match["upload_id"], form=form)

    async def callback(self, interaction: discord.Interaction) -> None:
        deps = deps_of(interaction)
        _ = await translator_for(deps, interaction.user, interaction.locale)
        view = await deps.service.find(self.upload_id)
        codes = embed_codes(view) if view else None
        if codes is None:
            text = _("No codes for this upload (deleted, or awaiting moderation).")
            await interaction.response.send_message(text, ephemeral=True)
            return
        form = self.form or Format.MARKDOWN
        embed = codes_embed(codes, form, _)
        switch = discord.ui.View(timeout=None)
        for each in Format:
            switch.add_item(CodesButton(self.upload_id, each.switch_label(form), each))
        if self.form is None:
            await interaction.response.send_message(embed=embed, view=switch, ephemeral=True)
        else:
            await interaction.response.edit_message(embed=embed, view=switch)


class DeleteButton(_Logged, discord.ui.DynamicItem[Button], template=DELETE_ID):
    """Delete: asks the presser to confirm, if the upload is theirs to delete."""

    def __init__(self, upload_id: str, label: str = "Delete") -> None:
        custom_id = f"picloud:del:{upload_id}"
        style = discord.ButtonStyle.danger
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=custom_id))
        self.upload_id = UploadId(upload_id)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> DeleteButton:
        return cls(match["upload_id"])

    async def callback(self, interaction: discord.Interaction) -> None:
        deps = deps_of(interaction)
        _ = await translator_for(deps, interaction.user, interaction.locale)
        try:
            view = await deps.service.check_delete(
                self.upload_id, user_ref(interaction.user), admin_of=moderated(interaction)
            )
        except (NotFound, PermissionDenied) as refusal:
            await interaction.response.send_message(refusal_text(refusal, _), ephemeral=True)
            return
        assert interaction.message is not None
        confirm = discord.ui.View(timeout=None)
        yes = _("Yes, delete")
        confirm.add_item(ConfirmButton(self.upload_id, interaction.message.id, yes))
        name = view.title or _("this upload")
        await interaction.response.send_message(
            _("Delete {name} from picloud? This cannot be undone.").format(name=name),
            view=confirm,
            ephemeral=True,
        )


class ConfirmButton(_Logged, discord.ui.DynamicItem[Button], template=CONFIRM_ID):
    """Yes: deletes, then edits the answer, whose message id it carries."""

    def __init__(self, upload_id: str, message_id: int, label: str = "Yes") -> None:
        custom_id = f"picloud:delyes:{upload_id}:{message_id}"
        style = discord.ButtonStyle.danger
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=custom_id))
        self.upload_id = UploadId(upload_id)
        self.message_id = message_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> ConfirmButton:
        return cls(match["upload_id"], int(match["message"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        deps = deps_of(interaction)
        _ = await translator_for(deps, interaction.user, interaction.locale)
        requester, admin_of = user_ref(interaction.user), moderated(interaction)
        try:
            view = await deps.service.check_delete(self.upload_id, requester, admin_of=admin_of)
            outcome = await deps.service.delete(self.upload_id, requester, admin_of=admin_of)
        except (NotFound, PermissionDenied) as refusal:
            await interaction.response.edit_message(content=refusal_text(refusal, _), view=None)
            return
        if outcome is DeleteOutcome.FAILED:
            text = _("The upload host did not answer; nothing was deleted. Try again later.")
            await interaction.response.edit_message(content=text, view=None)
            return
        await interaction.response.edit_message(content=_("Deleted."), view=None)
        if interaction.channel_id is not None:
            channel = interaction.client.get_partial_messageable(interaction.channel_id)
            with contextlib.suppress(discord.HTTPException):
                answer = await channel.get_partial_message(self.message_id).fetch()
                await _mark_deleted(answer, view, _)


async def _mark_deleted(answer: discord.Message, view: UploadView, _: Translator) -> None:
    """The deleted upload's embed says so; its buttons go, the others' stay."""
    embeds = [
        deleted_embed(_) if embed.url and embed.url == view.url_viewer else embed
        for embed in answer.embeds
    ]
    panel = discord.ui.View.from_message(answer, timeout=None)
    for child in list(panel.children):
        custom_id = getattr(child, "custom_id", None) or ""
        url = getattr(child, "url", None)
        if custom_id.endswith(f":{view.upload_id}") or (url and url == view.url_viewer):
            panel.remove_item(child)
    await answer.edit(embeds=embeds, view=panel if panel.children else None)


def moderated(interaction: discord.Interaction) -> ChatRef | None:
    """The server, if the member may manage its messages (and so delete others' uploads)."""
    if interaction.guild_id is None or not interaction.permissions.manage_messages:
        return None
    return server_ref(interaction.guild_id)


def refusal_text(refusal: NotFound | PermissionDenied, _: Translator) -> str:
    if isinstance(refusal, PermissionDenied):
        return _("This is not your upload: only the uploader or a chat admin can delete it.")
    return _("This upload is already deleted or no longer known.")


DYNAMIC_ITEMS = (CodesButton, DeleteButton, ConfirmButton)


def is_ours(custom_id: str) -> bool:
    """Whether a component's custom id is one of our buttons' (any other is an old
    message's, or a forged press)."""
    return any(known.fullmatch(custom_id) for known in (CODES_ID, DELETE_ID, CONFIRM_ID))


async def unknown_pressed(interaction: discord.Interaction) -> None:
    """A component none of ours knows: answered, briefly, instead of "interaction
    failed" in the client."""
    _ = await translator_for(deps_of(interaction), interaction.user, interaction.locale)
    with contextlib.suppress(discord.HTTPException):
        text = _("This button no longer does anything.")
        await interaction.response.send_message(text, ephemeral=True)
