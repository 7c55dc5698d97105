"""Keys in private chats, keys refused in groups, /upload and mirroring in groups."""

from __future__ import annotations

from tests.fakes.chevereto import USER_KEY
from tests.fakes.media import png_bytes
from tests.fakes.telegram import BOT_USERNAME, Call
from tests.telegram.conftest import GROUP_KEY, Bot, button_data, person


def uploads_keys(bot: Bot) -> list[str]:
    return [r.headers.get("x-api-key", "") for r in bot.host.requests if r.path == "/api/1/upload"]


async def test_setkey_stores_deletes_the_message_and_shows_it_masked(bot: Bot) -> None:
    sent = bot.fake.send_text(bot.alice_chat, bot.alice, f"/setkey {USER_KEY}")

    reply = await bot.reply_to(bot.alice_chat, sent)

    assert reply["text"] == "Key saved: chv_1_…AAAA"
    assert (bot.alice_chat["id"], sent["message"]["message_id"]) in {
        (chat, message) for chat, message in bot.fake.deleted
    }
    assert USER_KEY not in bot.everything_sent().replace(f"/setkey {USER_KEY}", "")
    stored = await bot.core.service.keys.show_user_key(person(bot.alice))
    assert stored == "chv_1_…AAAA"


async def test_malformed_key_is_refused(bot: Bot) -> None:
    sent = bot.fake.send_text(bot.alice_chat, bot.alice, "/setkey chv_1 with spaces")
    reply = await bot.reply_to(bot.alice_chat, sent)
    assert "not an API key" in reply["text"]
    assert await bot.core.service.keys.show_user_key(person(bot.alice)) is None


async def test_setkey_in_a_group_is_refused_and_deleted(bot: Bot) -> None:
    bot.fake.set_member(bot.group["id"], bot.fake.bot_id, "administrator")
    sent = bot.fake.send_text(bot.group, bot.alice, f"/setkey {USER_KEY}")

    (call,) = await bot.fake.wait_for(
        "sendMessage", where=lambda c: c.params.get("chat_id") == bot.group["id"]
    )

    assert "private chat" in call.params["text"]
    assert f"https://t.me/{BOT_USERNAME}?start=setkey" in str(call.params["reply_markup"])
    assert (bot.group["id"], sent["message"]["message_id"]) in set(bot.fake.deleted)
    assert await bot.core.service.keys.show_user_key(person(bot.alice)) is None


async def test_delkey_and_me(bot: Bot) -> None:
    await bot.core.service.keys.set_user_key(person(bot.alice), USER_KEY)
    me = bot.fake.send_text(bot.alice_chat, bot.alice, "/me")
    text = (await bot.reply_to(bot.alice_chat, me))["text"]
    assert "chv_1_…AAAA" in text
    assert "Uploads: 0" in text
    assert USER_KEY not in text

    gone = bot.fake.send_text(bot.alice_chat, bot.alice, "/delkey")
    assert "removed" in (await bot.reply_to(bot.alice_chat, gone))["text"]
    assert await bot.core.service.keys.show_user_key(person(bot.alice)) is None


async def test_upload_command_replying_in_a_group(keyed_bot: Bot) -> None:
    bot = keyed_bot
    photo = bot.fake.send_photo(bot.group, bot.alice, png_bytes(seed=1), caption="Group cat")
    sent = bot.fake.send_text(bot.group, bot.alice, "/upload", reply_to=photo["message"])

    answer = await bot.answer_to(bot.group, sent)

    assert "Uploaded" in answer["text"]
    (upload,) = bot.host.uploads.values()
    assert upload.title == "Group cat"


async def test_upload_command_without_anything_explains(keyed_bot: Bot) -> None:
    bot = keyed_bot
    sent = bot.fake.send_text(bot.group, bot.alice, "/upload")
    reply = await bot.reply_to(bot.group, sent)
    assert "Reply /upload" in reply["text"]


async def test_mirror_is_for_admins_only(bot: Bot) -> None:
    sent = bot.fake.send_text(bot.group, bot.alice, "/mirror on")
    reply = await bot.reply_to(bot.group, sent)
    assert "Only group admins" in reply["text"]
    assert not (await bot.core.profiles.chat(_group(bot))).mirroring


async def test_mirror_on_with_privacy_mode_says_what_to_change(bot: Bot) -> None:
    bot.fake.set_member(bot.group["id"], bot.alice["id"], "administrator")
    sent = bot.fake.send_text(bot.group, bot.alice, "/mirror on")

    reply = await bot.reply_to(bot.group, sent)

    assert "/setprivacy" in reply["text"]
    assert "admin" in reply["text"]
    assert not (await bot.core.profiles.chat(_group(bot))).mirroring


async def test_mirroring_uploads_every_media_message_with_the_group_key(bot: Bot) -> None:
    bot.fake.set_member(bot.group["id"], bot.fake.bot_id, "administrator")  # sees everything
    bot.fake.set_member(bot.group["id"], bot.alice["id"], "administrator")
    on = bot.fake.send_text(bot.group, bot.alice, "/mirror on")
    status = await bot.reply_to(bot.group, on)
    assert "Mirroring is on" in status["text"]
    (link,) = [data for data in button_data(status) if data.startswith("https://t.me/")]
    payload = link.split("start=")[1]

    # Alice sets the group's key through the deep link, in her private chat.
    start = bot.fake.send_text(bot.alice_chat, bot.alice, f"/start {payload}")
    assert "Send the group's API key" in (await bot.reply_to(bot.alice_chat, start))["text"]
    key = bot.fake.send_text(bot.alice_chat, bot.alice, GROUP_KEY)
    assert "Group key saved" in (await bot.reply_to(bot.alice_chat, key))["text"]

    # Bob, with no key of his own, posts a photo in the group.
    photo = bot.fake.send_photo(bot.group, bot.bob, png_bytes(seed=2))
    answer = await bot.answer_to(bot.group, photo)

    assert "Загружено" in answer["text"]  # Bob reads Russian
    assert uploads_keys(bot) == [GROUP_KEY]


async def test_group_key_needs_an_admin(bot: Bot) -> None:
    start = bot.fake.send_text(bot.bob_chat, bot.bob, f"/start gk_{bot.group['id']}")
    reply = await bot.reply_to(bot.bob_chat, start)
    assert "администратор" in reply["text"]


async def test_mirror_off_stops_uploading(bot: Bot) -> None:
    bot.fake.set_member(bot.group["id"], bot.fake.bot_id, "administrator")
    bot.fake.set_member(bot.group["id"], bot.alice["id"], "creator")
    await bot.core.service.keys.set_user_key(person(bot.alice), USER_KEY)
    for word in ("on", "off"):
        sent = bot.fake.send_text(bot.group, bot.alice, f"/mirror {word}")
        await bot.reply_to(bot.group, sent)

    bot.fake.send_photo(bot.group, bot.alice, png_bytes(seed=3))
    status = bot.fake.send_text(bot.group, bot.alice, "/mirror status")
    reply = await bot.reply_to(bot.group, status)

    assert "Mirroring is off" in reply["text"]
    assert bot.host.requests == []
    assert not any(_is_status(call) for call in bot.fake.calls_to("sendMessage"))


def _is_status(call: Call) -> bool:
    return str(call.params.get("text", "")).startswith("Uploading")


def _group(bot: Bot):  # type: ignore[no-untyped-def]
    from core.refs import ChatId, ChatRef, Platform

    return ChatRef(Platform.TELEGRAM, ChatId(str(bot.group["id"])))


async def test_an_admin_can_take_the_group_key_back(bot: Bot) -> None:
    bot.fake.set_member(bot.group["id"], bot.alice["id"], "administrator")
    for text in (GROUP_KEY, "off"):
        start = bot.fake.send_text(bot.alice_chat, bot.alice, f"/start gk_{bot.group['id']}")
        await bot.reply_to(bot.alice_chat, start)
        sent = bot.fake.send_text(bot.alice_chat, bot.alice, text)
        reply = await bot.reply_to(bot.alice_chat, sent)
    assert reply["text"] == "The group's key is removed."
    assert not (await bot.core.profiles.chat(_group(bot))).has_key
