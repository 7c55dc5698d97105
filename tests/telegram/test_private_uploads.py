"""Private chat: media and links are uploaded without a command and answered."""

from __future__ import annotations

import hashlib

from tests.fakes.media import png_bytes
from tests.telegram.conftest import Bot, button_data


async def test_photo_is_uploaded_and_answered_with_links_and_buttons(keyed_bot: Bot) -> None:
    bot = keyed_bot
    photo = png_bytes(width=40, height=30, seed=1)
    sent = bot.fake.send_photo(bot.alice_chat, bot.alice, photo, caption="Cat on a mat #cats #cute")

    answer = await bot.answer_to(bot.alice_chat, sent)

    (upload,) = bot.host.uploads.values()
    assert upload.md5 == hashlib.md5(photo).hexdigest()
    assert upload.title == "Cat on a mat"
    assert upload.fields["tags"] == "cats,cute"
    viewer = upload.image["url_viewer"]
    assert viewer in answer["text"]
    assert upload.image["url"] in answer["text"]
    buttons = button_data(answer)
    assert viewer in buttons
    assert any(data.startswith("del:") for data in buttons)
    assert any(data.startswith("codes:") for data in buttons)
    assert "/delete/" not in bot.everything_sent()

