"""Inline mode: ``@bot words`` lists the user's own uploads that match, a page at a time,
as results that post the media with its viewer link (never a delete link)."""

from __future__ import annotations

from tests.fakes.media import gif_bytes, jpeg_bytes, png_bytes
from tests.telegram.conftest import JSON, Bot


async def inline_answer(bot: Bot, user: JSON, query: str, offset: str = "") -> JSON:
    asked = bot.fake.inline_query(user, query, offset=offset)
    query_id = asked["inline_query"]["id"]
    await bot.fake.wait_for(
        "answerInlineQuery", where=lambda call: str(call.params["inline_query_id"]) == query_id
    )
    return bot.fake.inline_answers[query_id]


async def upload(bot: Bot, content: bytes, caption: str) -> None:
    sent = bot.fake.send_photo(bot.alice_chat, bot.alice, content, caption=caption)
    await bot.answer_to(bot.alice_chat, sent)


async def test_inline_lists_own_uploads_matching_title_description_or_tags(keyed_bot: Bot) -> None:
    bot = keyed_bot
    await upload(bot, jpeg_bytes(9, 9), "Sunset at the beach")
    await upload(bot, png_bytes(seed=41), "Cat on a mat\nvery sleepy #fluffy")
    await upload(bot, gif_bytes(), "Dancing receipt")

    everything = await inline_answer(bot, bot.alice, "")
    assert [result["title"] for result in everything["results"]] == [
        "Dancing receipt",
        "Cat on a mat",
        "Sunset at the beach",
    ]  # newest first
    assert everything["is_personal"] and everything["next_offset"] == ""
    by_tag = await inline_answer(bot, bot.alice, "FLUFFY")
    by_words = await inline_answer(bot, bot.alice, "sleepy cat")
    assert [r["title"] for r in by_tag["results"]] == ["Cat on a mat"]
    assert by_words["results"] == by_tag["results"]
    assert (await inline_answer(bot, bot.alice, "dog"))["results"] == []

    photo, gif = (
        next(r for r in everything["results"] if r["title"] == title)
        for title in ("Sunset at the beach", "Dancing receipt")
    )
    cat = by_tag["results"][0]
    uploads = {upload.title: upload.image for upload in bot.host.uploads.values()}
    assert photo["type"] == "photo"
    assert photo["photo_url"] == uploads["Sunset at the beach"]["url"]
    assert uploads["Sunset at the beach"]["url_viewer"] in photo["caption"]
    assert gif["type"] == "gif" and gif["gif_url"] == uploads["Dancing receipt"]["url"]
    # A PNG is no photo Telegram fetches by URL: its viewer link, the picture as preview.
    assert cat["type"] == "article"
    posted = cat["input_message_content"]
    assert uploads["Cat on a mat"]["url_viewer"] in posted["message_text"]
    assert posted["link_preview_options"]["url"] == uploads["Cat on a mat"]["display_url"]
    assert "/delete/" not in str(everything)


async def test_inline_shows_nobody_elses_uploads(keyed_bot: Bot) -> None:
    bot = keyed_bot
    await upload(bot, png_bytes(seed=42), "Alice's cat")
    answer = await inline_answer(bot, bot.bob, "")
    assert answer["results"] == []
    assert answer["button"]["start_parameter"] == "inline"  # "send me a picture"


async def test_inline_pages_through_many_uploads(keyed_bot: Bot) -> None:
    bot = keyed_bot
    for number in range(23):
        await upload(bot, png_bytes(seed=100 + number), f"Shot {number}")

    first = await inline_answer(bot, bot.alice, "shot")
    second = await inline_answer(bot, bot.alice, "shot", offset=first["next_offset"])
    garbled = await inline_answer(bot, bot.alice, "shot", offset="not-a-number")

    titles = [r["title"] for r in first["results"] + second["results"]]
    assert titles == [f"Shot {number}" for number in reversed(range(23))]
    assert (first["next_offset"], second["next_offset"]) == ("20", "")
    assert garbled["results"] == first["results"]  # a bad offset starts over
