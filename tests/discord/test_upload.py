"""/upload and "Upload to picloud": deferred at once, answered with embeds and buttons."""

from __future__ import annotations

import hashlib

from tests.discord.conftest import Bot, custom_ids
from tests.fakes.media import png_bytes


async def test_upload_an_attachment(keyed_bot: Bot) -> None:
    bot = keyed_bot
    data = png_bytes(seed=1)
    attachment = bot.fake.add_attachment(data, "cat.png", "image/png")
    interaction = await bot.use(
        bot.alice, "upload", {"title": "A cat", "tags": "cats, cute"}, attachments={"attachment": attachment}
    )

    deferred = await bot.fake.wait_for_response(interaction)
    (answer,) = await bot.fake.wait_for_followups(interaction, timeout=10)

    assert deferred.type == 5
    (upload,) = bot.host.uploads.values()
    assert upload.md5 == hashlib.md5(data).hexdigest()
    assert (upload.title, upload.fields["tags"]) == ("A cat", "cats,cute")
    (embed,) = answer["embeds"]
    assert embed["url"] == upload.image["url_viewer"]
    assert embed["thumbnail"]["url"] == upload.image["thumb"]["url"]
    ids = custom_ids(answer)
    assert upload.image["url_viewer"] in ids
    assert any(i.startswith("picloud:del:") for i in ids)
    assert any(i.startswith("picloud:codes:") for i in ids)
    assert "/delete/" not in bot.everything_sent()
