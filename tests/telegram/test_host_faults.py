"""The host failing once in each way it really does: the upload is tried again and the
user gets one answer, with one copy at the host, or the truth when its answer was lost."""

from __future__ import annotations

import hashlib

import pytest

from tests.fakes.chevereto import UPLOAD_PATH, Fault, UploadStage
from tests.fakes.media import png_bytes
from tests.telegram.conftest import Bot

PASSING = [
    Fault.HTML_500,
    Fault.MAINTENANCE_503,
    Fault.BAD_GATEWAY_502,
    Fault.NOT_JSON,
    Fault.DROP,  # the connection cut after the body arrived, before anything was stored
]


@pytest.mark.parametrize("fault", PASSING, ids=[fault.value for fault in PASSING])
async def test_a_passing_host_fault_is_tried_again_and_answered_once(
    keyed_bot: Bot, fault: Fault
) -> None:
    bot = keyed_bot
    bot.host.fail_next(fault)
    sent = bot.fake.send_photo(bot.alice_chat, bot.alice, png_bytes(seed=90))

    answer = await bot.answer_to(bot.alice_chat, sent)

    (copy,) = bot.host.uploads.values()
    assert copy.image["url_viewer"] in answer["text"]
    assert len(bot.fake.messages(bot.alice_chat["id"])) == 1


async def test_half_an_answer_from_the_host_is_told_truthfully(keyed_bot: Bot) -> None:
    bot = keyed_bot
    bot.host.fail_next(Fault.TRUNCATED_JSON)  # stored, but its JSON answer is cut short
    sent = bot.fake.send_photo(bot.alice_chat, bot.alice, png_bytes(seed=91))

    answer = await bot.answer_to(bot.alice_chat, sent)

    assert len(bot.host.uploads) == 1  # the retry met "Duplicated upload": no second copy
    assert "earlier try" in answer["text"]
    assert bot.host.base_url in answer["text"]
    assert "not uploaded with your key" not in answer["text"]


async def test_history_names_a_copy_whose_answer_was_lost(keyed_bot: Bot) -> None:
    bot = keyed_bot
    bot.host.fail_next(Fault.TRUNCATED_JSON)
    photo = png_bytes(seed=92)
    sent = bot.fake.send_photo(bot.alice_chat, bot.alice, photo)
    await bot.answer_to(bot.alice_chat, sent)

    listing = await bot.reply_to(
        bot.alice_chat, bot.fake.send_text(bot.alice_chat, bot.alice, "/history")
    )

    assert "without a link" in listing["text"]
    assert hashlib.md5(photo, usedforsecurity=False).hexdigest()[:12] in listing["text"]
    assert "photo_" in listing["text"]  # the file's name as the bot knew it


async def test_a_connection_cut_mid_body_is_tried_again_and_answered_once(keyed_bot: Bot) -> None:
    bot = keyed_bot
    receiving = bot.host.hold_upload(UploadStage.RECEIVING)
    sent = bot.fake.send_photo(bot.alice_chat, bot.alice, png_bytes(seed=93))
    await receiving.wait_reached()
    receiving.release(proceed=False)  # the host hangs up while the body is on its way

    answer = await bot.answer_to(bot.alice_chat, sent)

    (copy,) = bot.host.uploads.values()
    assert copy.image["url_viewer"] in answer["text"]
    assert sum(1 for r in bot.host.requests if r.path == UPLOAD_PATH) == 2
