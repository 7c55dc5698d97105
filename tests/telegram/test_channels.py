"""Telegram channels: an admin switches mirroring on from the private chat (no command
can be sent as a channel); each post with media is then uploaded with that admin's key
and gains an Open button, with no new message in the channel."""

from __future__ import annotations

from bots.telegram.deps import chat_ref
from tests.fakes.chevereto import USER_KEY
from tests.fakes.media import png_bytes
from tests.telegram.conftest import GROUP_KEY, JSON, Bot

CHANNEL_ID = -100_500


def cats_channel(bot: Bot, *, bot_may_edit: bool = True) -> JSON:
    channel = bot.fake.channel(CHANNEL_ID, "Cats daily", username="catsdaily")
    bot.fake.set_member(
        CHANNEL_ID, bot.fake.bot_id, "administrator", can_edit_messages=bot_may_edit
    )
    bot.fake.set_member(CHANNEL_ID, bot.alice["id"], "administrator")
    return channel


async def say(bot: Bot, user_chat: JSON, user: JSON, text: str) -> str:
    sent = bot.fake.send_text(user_chat, user, text)
    return str((await bot.reply_to(user_chat, sent))["text"])


async def test_a_mirrored_channels_post_gets_an_open_button_and_no_message(
    keyed_bot: Bot,
) -> None:
    bot = keyed_bot
    channel = cats_channel(bot)
    said = await say(bot, bot.alice_chat, bot.alice, "/mirror channel @catsdaily")
    assert "Mirroring is on for Cats daily" in said

    post = bot.fake.post_photo(channel, png_bytes(seed=201), caption="Morning cat")
    post_id = post["channel_post"]["message_id"]
    (edit,) = await bot.fake.wait_for("editMessageReplyMarkup", timeout=10)

    (upload,) = bot.host.uploads.values()
    assert upload.key == USER_KEY  # Alice's, who switched it on
    assert upload.title == "Morning cat"
    assert edit.params["message_id"] == post_id
    marked = bot.fake.message(CHANNEL_ID, post_id)
    assert marked is not None
    (row,) = marked["reply_markup"]["inline_keyboard"]
    assert row == [{"text": "Open", "url": upload.image["url_viewer"]}]
    into_channel = [
        c for c in bot.fake.calls_to("sendMessage") if c.params["chat_id"] == CHANNEL_ID
    ]
    assert into_channel == []  # nothing was said in the channel


async def test_a_channel_key_set_like_a_groups_serves_an_admin_without_one(bot: Bot) -> None:
    channel = cats_channel(bot)  # Alice administers it and has no key of her own
    await say(bot, bot.alice_chat, bot.alice, "/mirror channel @catsdaily")
    asked = await say(bot, bot.alice_chat, bot.alice, f"/start gk_{CHANNEL_ID}")
    assert "Send the channel's API key now" in asked  # a channel's words, not a group's
    assert "Channel key saved" in await say(bot, bot.alice_chat, bot.alice, GROUP_KEY)

    bot.fake.post_photo(channel, png_bytes(seed=203))
    await bot.fake.wait_for("editMessageReplyMarkup", timeout=10)
    (upload,) = bot.host.uploads.values()
    assert upload.key == GROUP_KEY


async def test_only_a_channel_admin_sets_the_channels_key(bot: Bot) -> None:
    cats_channel(bot)  # Alice administers it; Bob does not
    asked = await say(bot, bot.bob_chat, bot.bob, f"/start gk_{CHANNEL_ID}")
    assert asked == "Ключ канала может задать только его администратор."  # Bob reads Russian
    said = await say(bot, bot.bob_chat, bot.bob, GROUP_KEY)  # not taken as a key
    assert "Ключ канала сохранён" not in said
    assert await bot.core.repo.get_chat_key(chat_ref(CHANNEL_ID)) is None


async def test_a_channel_without_mirroring_is_left_alone(keyed_bot: Bot) -> None:
    bot = keyed_bot
    channel = cats_channel(bot)
    bot.fake.post_photo(channel, png_bytes(seed=202))
    said = await say(bot, bot.alice_chat, bot.alice, "/mirror channel @catsdaily status")
    assert "Mirroring is off for Cats daily" in said
    assert bot.host.uploads == {}
    assert bot.fake.calls_to("editMessageReplyMarkup") == []


async def test_switching_a_channel_needs_an_admin_and_a_bot_that_may_edit(keyed_bot: Bot) -> None:
    bot = keyed_bot
    cats_channel(bot, bot_may_edit=False)
    bot.fake.group(-100_600, "Just a group", username="justagroup")

    by_bob = await say(bot, bot.bob_chat, bot.bob, "/mirror channel @catsdaily")
    unknown = await say(bot, bot.alice_chat, bot.alice, "/mirror channel @nosuchchannel")
    a_group = await say(bot, bot.alice_chat, bot.alice, "/mirror channel @justagroup")
    cannot_edit = await say(bot, bot.alice_chat, bot.alice, "/mirror channel @catsdaily")
    wrong_word = await say(bot, bot.alice_chat, bot.alice, "/mirror channel @catsdaily maybe")

    assert "администратор" in by_bob  # Bob reads Russian
    assert "cannot find that channel" in unknown
    assert "not a channel" in a_group
    assert "may edit messages" in cannot_edit
    assert "on, off or status" in wrong_word
    assert not (await bot.core.profiles.chat(chat_ref(CHANNEL_ID))).mirroring
