"""Embeds for uploads, failures, deletions and embed codes."""

from __future__ import annotations

import discord

from core.codes import EmbedCodes, Format
from core.i18n import Translator
from core.messages import Hints, describe_error
from core.service.batch import ItemOutcome, Refused
from core.service.types import UploadView

EMBED_COLOUR = discord.Colour(0x2B7FFF)
FAILED_COLOUR = discord.Colour(0xD9534F)


def outcome_embed(outcome: ItemOutcome, _: Translator, hints: Hints) -> discord.Embed:
    if outcome.view is not None:
        return upload_embed(outcome.view, _)
    if isinstance(outcome.item, Refused):
        name = _(outcome.item.what)
        text = _("{what} cannot be uploaded").format(what=name)
    else:
        assert outcome.error is not None
        name, text = outcome.item.name, describe_error(outcome.error, _, hints)
    return failure_embed(name, text)


def failure_embed(name: str, text: str) -> discord.Embed:
    return discord.Embed(title=name[:256], description=text, colour=FAILED_COLOUR)


def upload_embed(view: UploadView, _: Translator) -> discord.Embed:
    heading = _("Already uploaded earlier") if view.repeated else _("Uploaded")
    embed = discord.Embed(
        title=(view.title or heading)[:256], url=view.url_viewer, colour=EMBED_COLOUR
    )
    if not view.is_approved:
        embed.description = _(
            "The upload awaits the site's moderation; its links appear once approved."
        )
        return embed
    embed.description = heading
    if view.url_viewer:
        embed.add_field(name=_("Viewer"), value=view.url_viewer, inline=False)
    if view.url:
        embed.add_field(name=_("Direct"), value=view.url, inline=False)
    if view.thumbnail:
        embed.set_thumbnail(url=view.thumbnail)
    if view.expires_at:
        when = view.expires_at.strftime("%Y-%m-%d %H:%M UTC")
        embed.set_footer(text=_("Deleted by the site after {when}").format(when=when))
    return embed


def deleted_embed(_: Translator) -> discord.Embed:
    return discord.Embed(description="🗑 " + _("Deleted from picloud."), colour=FAILED_COLOUR)


def codes_embed(codes: EmbedCodes, form: Format, _: Translator) -> discord.Embed:
    """The links, then each variant in ``form``, each in a code block (a click copies)."""
    embed = discord.Embed(title=f"{_('Codes')} · {form.label}", colour=EMBED_COLOUR)
    for label, code in codes.lines(form):
        embed.add_field(name=_(label), value=f"```\n{code}\n```", inline=False)
    return embed
