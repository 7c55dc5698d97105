"""How results look in Discord: an embed per item, buttons for each upload.

The delete link is never in any message, embed or link button: any visit to it
deletes the file. The buttons carry opaque upload ids (see ``buttons.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import discord

from bots.discord.buttons import upload_buttons
from bots.discord.embeds import outcome_embed
from core.i18n import Translator
from core.messages import Hints
from core.refs import UploadId
from core.service.batch import ItemOutcome, answered_jobs

MAX_EMBEDS = 10  # Discord's limit per message


@dataclass(frozen=True, slots=True)
class Answer:
    embeds: list[discord.Embed]
    view: discord.ui.View | None
    jobs: list[UploadId]
    """The jobs this answers: reported to the service once Discord accepted it."""
    outcomes: list[ItemOutcome]


def render(outcomes: list[ItemOutcome], _: Translator, hints: Hints) -> Answer:
    """One embed per item, failures included; buttons for each upload that worked."""
    embeds = [outcome_embed(outcome, _, hints) for outcome in outcomes][:MAX_EMBEDS]
    views = [o.view for o in outcomes if o.view is not None][:MAX_EMBEDS]
    view = upload_buttons(views, _) if views else None
    return Answer(embeds, view, answered_jobs(outcomes), outcomes)
