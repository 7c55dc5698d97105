"""Delete and Codes: who may press them, the confirmation, and what the host sees."""

from __future__ import annotations

import json

from tests.fakes.chevereto import MEDIUM_WIDTH
from tests.fakes.media import png_bytes
from tests.fakes.telegram import Call
from tests.telegram.conftest import JSON, Bot, button_data


async def uploaded(bot: Bot, chat: JSON, user: JSON, seed: int) -> JSON:
    sent = bot.fake.send_photo(chat, user, png_bytes(seed=seed), caption="Kitten")
    return await bot.answer_to(chat, sent)


def button(message: JSON, prefix: str) -> str:
    (data,) = [data for data in button_data(message) if data.startswith(prefix)]
    return data


async def alert_for(bot: Bot, count: int = 1) -> Call:
    answers = await bot.fake.wait_for("answerCallbackQuery", count=count)
    return answers[count - 1]


async def confirmation(bot: Bot, chat: JSON, answer: JSON) -> JSON:
    def asks(call: Call) -> bool:
        reply = call.params.get("reply_parameters") or {}
        asks_yes = "delyes:" in json.dumps(call.params.get("reply_markup"))
        return reply.get("message_id") == answer["message_id"] and asks_yes

    (call,) = await bot.fake.wait_for("sendMessage", where=asks)
    result: JSON = call.result
    return result


async def test_delete_asks_then_deletes_and_edits_the_answer(keyed_bot: Bot) -> None:
    bot = keyed_bot
    answer = await uploaded(bot, bot.alice_chat, bot.alice, 1)
    bot.fake.press_button(bot.alice_chat, bot.alice, answer["message_id"], button(answer, "del:"))
    confirm = await confirmation(bot, bot.alice_chat, answer)
    assert not any(u.deleted for u in bot.host.uploads.values())  # asking deletes nothing

    bot.fake.press_button(
        bot.alice_chat, bot.alice, confirm["message_id"], button(confirm, "delyes:")
    )
    await bot.fake.wait_for("deleteMessage")

    assert [u.deleted for u in bot.host.uploads.values()] == [True]
    edited = bot.fake.message(bot.alice_chat["id"], answer["message_id"])
    assert edited is not None
    assert "Deleted" in edited["text"]
    assert button_data(edited) == []
    deletes = [r for r in bot.host.requests if "/delete/" in r.path]
    assert len(deletes) == 1
    assert "/delete/" not in bot.everything_sent()


async def test_cancel_keeps_the_upload(keyed_bot: Bot) -> None:
    bot = keyed_bot
    answer = await uploaded(bot, bot.alice_chat, bot.alice, 2)
    bot.fake.press_button(bot.alice_chat, bot.alice, answer["message_id"], button(answer, "del:"))
    confirm = await confirmation(bot, bot.alice_chat, answer)

    bot.fake.press_button(
        bot.alice_chat, bot.alice, confirm["message_id"], button(confirm, "delno:")
    )
    await bot.fake.wait_for("deleteMessage")

    assert not any(u.deleted for u in bot.host.uploads.values())
    assert bot.fake.message(bot.alice_chat["id"], confirm["message_id"]) is None


async def test_delete_pressed_twice_deletes_once(keyed_bot: Bot) -> None:
    bot = keyed_bot
    answer = await uploaded(bot, bot.alice_chat, bot.alice, 3)
    bot.fake.press_button(bot.alice_chat, bot.alice, answer["message_id"], button(answer, "del:"))
    bot.fake.press_button(bot.alice_chat, bot.alice, answer["message_id"], button(answer, "del:"))
    await bot.fake.wait_for("sendMessage", count=3)  # status, two confirmations
    confirms = [c.result for c in bot.fake.calls_to("sendMessage") if "undone" in c.params["text"]]
    assert len(confirms) == 2
    for confirm in confirms:
        bot.fake.press_button(
            bot.alice_chat, bot.alice, confirm["message_id"], button(confirm, "delyes:")
        )

    await bot.fake.wait_for("answerCallbackQuery", count=4)

    assert len([r for r in bot.host.requests if "/delete/" in r.path]) == 1
    texts = [c.params.get("text", "") for c in bot.fake.calls_to("answerCallbackQuery")]
    assert "Deleted." in texts


async def test_someone_else_gets_a_private_refusal(keyed_bot: Bot) -> None:
    bot = keyed_bot
    bot.fake.privacy_mode = False
    bot.fake.set_member(bot.group["id"], bot.alice["id"], "member")
    bot.fake.set_member(bot.group["id"], bot.bob["id"], "member")
    sent = bot.fake.send_text(
        bot.group,
        bot.alice,
        "/upload",
        reply_to=bot.fake.send_photo(bot.group, bot.alice, png_bytes(seed=4))["message"],
    )
    answer = await bot.answer_to(bot.group, sent)

    bot.fake.press_button(bot.group, bot.bob, answer["message_id"], button(answer, "del:"))
    refusal = await alert_for(bot)

    assert refusal.params["show_alert"] is True
    assert (
        "not your upload" in refusal.params["text"].lower() or "не ваша" in refusal.params["text"]
    )
    assert not any(u.deleted for u in bot.host.uploads.values())


async def test_a_group_admin_may_delete_a_members_upload(keyed_bot: Bot) -> None:
    bot = keyed_bot
    bot.fake.set_member(bot.group["id"], bot.bob["id"], "administrator")
    photo = bot.fake.send_photo(bot.group, bot.alice, png_bytes(seed=5))
    sent = bot.fake.send_text(bot.group, bot.alice, "/upload", reply_to=photo["message"])
    answer = await bot.answer_to(bot.group, sent)

    bot.fake.press_button(bot.group, bot.bob, answer["message_id"], button(answer, "del:"))
    confirm = await confirmation(bot, bot.group, answer)
    bot.fake.press_button(bot.group, bot.bob, confirm["message_id"], button(confirm, "delyes:"))
    await bot.fake.wait_for("deleteMessage")

    assert [u.deleted for u in bot.host.uploads.values()] == [True]


async def test_forged_or_stale_button_is_refused(keyed_bot: Bot) -> None:
    bot = keyed_bot
    answer = await uploaded(bot, bot.alice_chat, bot.alice, 6)
    upload_id = button(answer, "del:").removeprefix("del:")
    await bot.core.repo.mark_deleted(upload_id)  # type: ignore[arg-type]

    bot.fake.press_button(bot.alice_chat, bot.alice, answer["message_id"], button(answer, "del:"))
    refusal = await alert_for(bot)

    assert refusal.params["show_alert"] is True
    assert "already deleted" in refusal.params["text"]


async def test_codes_show_every_size_full_first_and_switch_format_in_place(
    keyed_bot: Bot,
) -> None:
    bot = keyed_bot
    wide = png_bytes(width=MEDIUM_WIDTH + 100, height=20, seed=7)  # the host makes a medium
    answer = await bot.answer_to(
        bot.alice_chat, bot.fake.send_photo(bot.alice_chat, bot.alice, wide, caption="Kitten")
    )

    bot.fake.press_button(bot.alice_chat, bot.alice, answer["message_id"], button(answer, "codes:"))
    (sent,) = await bot.fake.wait_for("sendMessage", where=lambda c: "Codes" in c.params["text"])
    codes = sent.result
    (upload,) = bot.host.uploads.values()
    page, image = upload.image["url_viewer"], upload.image["url"]
    medium, thumb = upload.image["medium"]["url"], upload.image["thumb"]["url"]
    assert codes["text"].splitlines() == [
        "Codes · Markdown",
        "Viewer link",
        page,
        "Direct link",
        image,
        "Full size",
        f"![Kitten]({image})",
        "Full size, linked",
        f"[![Kitten]({image})]({page})",
        "Medium, linked",
        f"[![Kitten]({medium})]({page})",
        "Thumbnail, linked",
        f"[![Kitten]({thumb})]({page})",
    ]
    assert all(e["type"] == "code" for e in codes["entities"] if e["type"] != "bold")

    (switched,) = [data for data in button_data(codes) if data.endswith(":bb")]
    bot.fake.press_button(bot.alice_chat, bot.alice, codes["message_id"], switched)
    (edit,) = await bot.fake.wait_for(
        "editMessageText", where=lambda c: "BBCode" in c.params["text"]
    )
    lines = edit.params["text"]
    assert f"[url={page}][img]{thumb}[/img][/url]" in lines
    assert f"[img]{image}[/img]" in lines
    assert "• BBCode" in str(edit.params["reply_markup"])
    assert "/delete/" not in lines and "/delete/" not in codes["text"]


async def test_codes_of_a_small_image_have_no_medium(keyed_bot: Bot) -> None:
    bot = keyed_bot
    answer = await uploaded(bot, bot.alice_chat, bot.alice, 17)
    bot.fake.press_button(bot.alice_chat, bot.alice, answer["message_id"], button(answer, "codes:"))
    (sent,) = await bot.fake.wait_for("sendMessage", where=lambda c: "Codes" in c.params["text"])
    assert "Full size" in sent.params["text"] and "Thumbnail, linked" in sent.params["text"]
    assert "Medium" not in sent.params["text"]


async def test_forged_button_data_is_refused(keyed_bot: Bot) -> None:
    bot = keyed_bot
    answer = await uploaded(bot, bot.alice_chat, bot.alice, 8)
    stored = bot.fake.message(bot.alice_chat["id"], answer["message_id"])
    assert stored is not None
    for row in stored["reply_markup"]["inline_keyboard"]:
        for key in row:
            if str(key.get("callback_data", "")).startswith("del:"):
                key["callback_data"] = "del:made-up-id"

    bot.fake.press_button(bot.alice_chat, bot.alice, answer["message_id"], "del:made-up-id")
    refusal = await alert_for(bot)

    assert refusal.params["show_alert"] is True
    assert "no longer known" in refusal.params["text"]
    assert not any(u.deleted for u in bot.host.uploads.values())


async def test_a_press_too_old_to_answer_still_deletes_and_edits_the_answer(keyed_bot: Bot) -> None:
    # As when the press is handled again after a restart: Telegram refuses the answer.
    bot = keyed_bot
    answer = await uploaded(bot, bot.alice_chat, bot.alice, 7)
    bot.fake.press_button(bot.alice_chat, bot.alice, answer["message_id"], button(answer, "del:"))
    confirm = await confirmation(bot, bot.alice_chat, answer)
    too_old = "Bad Request: query is too old and response timeout expired or query ID is invalid"
    bot.fake.fail_next("answerCallbackQuery", error_code=400, description=too_old)

    bot.fake.press_button(
        bot.alice_chat, bot.alice, confirm["message_id"], button(confirm, "delyes:")
    )
    await bot.fake.wait_for("deleteMessage")

    assert [u.deleted for u in bot.host.uploads.values()] == [True]
    edited = bot.fake.message(bot.alice_chat["id"], answer["message_id"])
    assert edited is not None and "Deleted" in edited["text"]
    assert not [m for m in bot.fake.messages(bot.alice_chat["id"]) if "wrong" in m["text"]]


async def test_a_button_the_bot_does_not_know_is_answered_and_does_nothing(
    keyed_bot: Bot,
) -> None:
    bot = keyed_bot
    answer = await uploaded(bot, bot.alice_chat, bot.alice, seed=901)
    uploads_before = len(bot.host.uploads)

    forged = ["zz:whatever", "del", "x" * 64, ""]
    for data in forged:
        bot.fake.press_button(bot.alice_chat, bot.alice, answer["message_id"], data, forged=True)
    answers = await bot.fake.wait_for("answerCallbackQuery", count=len(forged))

    texts = {call.params["callback_query_id"]: call.params.get("text", "") for call in answers}
    by_data = dict(zip(forged, sorted(texts.items()), strict=True))
    for data in forged[:3]:
        assert "no longer does anything" in by_data[data][1], by_data
    # No data at all: python-telegram-bot hands it to the first button handler, which
    # finds no upload and says so. Answered all the same.
    assert by_data[""][1]
    assert len(bot.host.uploads) == uploads_before
    assert not any(upload.deleted for upload in bot.host.uploads.values())
