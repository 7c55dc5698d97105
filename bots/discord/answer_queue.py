"""Answers posted into a Discord channel (mirrored messages, uploads whose
interaction expired), as the channel's budget allows: Discord takes five messages per
five seconds into a channel. Answers that had to wait for it go together, as one
message with an embed and buttons for each (see ``core/pacing.py``). discord.py would
wait out the 429s too, but every answer would pay for them: here none are provoked.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import discord

from bots.discord.answers import MAX_EMBEDS, Answer, render
from bots.discord.arrivals import Arrival
from core.i18n import translator
from core.messages import Hints
from core.pacing import AnswerQueue, RollingWindow, gathering_s, last_message_s, remembered
from core.signs import Signs

log = logging.getLogger(__name__)

CHANNEL_MESSAGES = 4
"""Discord's bucket holds 5, and the one left unspent matters: discord.py sleeps out the
bucket's reset inside the call that spends its last token, which would hold that
answer's bookkeeping (and "typing…" after it) for up to 5 s."""
CHANNEL_PERIOD_S = 5.0 * 1.1
"""Discord's window, a tenth slower: its window starts when a message arrives."""


@dataclass(frozen=True, slots=True)
class ChannelAnswer:
    """``answer`` to ``arrival``, to be posted in ``channel``."""

    channel: discord.abc.Messageable
    arrival: Arrival
    answer: Answer


class ChannelBudget:
    """The bot's messages into each channel, counted as they go."""

    def __init__(self) -> None:
        self._windows: dict[Hashable, RollingWindow] = {}

    def window(self, channel: Hashable) -> RollingWindow:
        return remembered(self._windows, channel, _channel_window)

    def gathering_s(self, channel: Hashable) -> float:
        return gathering_s(self.window(channel))

    def last_message_s(self, channel: Hashable) -> float:
        return last_message_s(self.window(channel), CHANNEL_PERIOD_S)

    async def until_room(self, channel: Hashable) -> None:
        await self.window(channel).until_capacity()


def _channel_window() -> RollingWindow:
    return RollingWindow(CHANNEL_MESSAGES, CHANNEL_PERIOD_S)


def channel_answers(
    hints: Hints, typing: Signs[discord.abc.Messageable]
) -> AnswerQueue[ChannelAnswer]:
    """The channels' answers; ``typing`` hears of each message (it ends typing there)."""
    budget = ChannelBudget()

    async def send(channel_id: Hashable, answers: list[ChannelAnswer]) -> None:
        first = answers[0]
        answer = first.answer
        if len(answers) > 1:
            log.info("%d answers in one message, to spare the channel's budget", len(answers))
            outcomes = [outcome for each in answers for outcome in each.answer.outcomes]
            answer = render(outcomes, translator(first.arrival.language), hints)
        async with budget.window(channel_id):
            await first.channel.send(
                **_addressed([each.arrival for each in answers]),
                embeds=answer.embeds,
                view=answer.view or discord.utils.MISSING,
            )

    return AnswerQueue(
        send, budget, size=lambda each: len(each.answer.outcomes), max_size=MAX_EMBEDS, signs=typing
    )


def _addressed(arrivals: list[Arrival]) -> dict[str, Any]:
    """A reply to the first message answered; a mention of who asked when there is no
    message to reply to (an expired interaction's answer)."""
    replied = next((a for a in arrivals if a.message_id is not None), None)
    unreplied = {a.user_id for a in arrivals if a.message_id is None}
    address: dict[str, Any] = {}
    if unreplied:
        address["content"] = " ".join(f"<@{user}>" for user in sorted(unreplied))
    if replied is not None:
        assert replied.message_id is not None
        address["reference"] = discord.MessageReference(
            message_id=replied.message_id,
            channel_id=replied.channel_id or 0,
            guild_id=replied.guild_id,
            fail_if_not_exists=False,
        )
        address["mention_author"] = False
    return address
