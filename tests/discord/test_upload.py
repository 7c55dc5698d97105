"""/upload and "Upload to picloud": deferred at once, answered with embeds and buttons."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from core.logging_setup import AboutFilter
from tests.discord.conftest import JSON, Bot, OpenBot, custom_ids, person
from tests.fakes.chevereto import USER_KEY, Fault
from tests.fakes.media import big_png_file, png_bytes
from tests.retry import PATIENT_RETRY


async def test_upload_an_attachment(keyed_bot: Bot) -> None:
    bot = keyed_bot
    data = png_bytes(seed=1)
    attachment = bot.fake.add_attachment(data, "cat.png", "image/png")
    interaction = await bot.use(
        bot.alice,
        "upload",
        {"title": "A cat", "tags": "cats, cute"},
        attachments={"attachment": attachment},
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


async def test_upload_a_link(keyed_bot: Bot, link_site: str) -> None:
    bot = keyed_bot
    interaction = await bot.use(bot.alice, "upload", {"url": f"{link_site}/cat.png"})

    (answer,) = await bot.fake.wait_for_followups(interaction, timeout=10)

    (upload,) = bot.host.uploads.values()
    assert answer["embeds"][0]["url"] == upload.image["url_viewer"]


async def test_no_option_is_refused_ephemerally(keyed_bot: Bot) -> None:
    bot = keyed_bot
    interaction = await bot.use(bot.alice, "upload", {"title": "nothing"})

    response = await bot.fake.wait_for_response(interaction)

    assert response.type == 4
    assert response.ephemeral
    assert "attachment" in response.data["content"]
    assert bot.host.requests == []


async def test_both_options_broken_are_both_reported(keyed_bot: Bot, link_site: str) -> None:
    bot = keyed_bot
    text = bot.fake.add_attachment(b"just some words", "notes.txt", "text/plain")
    interaction = await bot.use(
        bot.alice, "upload", {"url": f"{link_site}/gone"}, attachments={"attachment": text}
    )

    (answer,) = await bot.fake.wait_for_followups(interaction, timeout=10)

    titles = [embed["title"] for embed in answer["embeds"]]
    assert titles == ["notes.txt", f"{link_site}/gone"]
    assert "not an image or video" in answer["embeds"][0]["description"]
    assert answer.get("components", []) == []
    assert bot.host.uploads == {}


async def test_link_to_a_private_address_is_refused(open_bot: OpenBot, link_site: str) -> None:
    async with open_bot(allow_private_urls=False) as bot:
        await bot.core.service.keys.set_user_key(person(bot.alice), USER_KEY)
        interaction = await bot.use(bot.alice, "upload", {"url": f"{link_site}/cat.png"})
        (answer,) = await bot.fake.wait_for_followups(interaction, timeout=10)
    assert answer["embeds"][0]["title"] == f"{link_site}/cat.png"
    assert bot.host.requests == []


async def test_file_over_the_limit_is_refused_before_download(
    open_bot: OpenBot, tmp_path: Path
) -> None:
    async with open_bot(max_upload_mb=1) as bot:
        await bot.core.service.keys.set_user_key(person(bot.alice), USER_KEY)
        big = big_png_file(tmp_path / "big.png", 3 * 1024 * 1024, seed=2)
        attachment = bot.fake.add_attachment(big, "big.png", "image/png")
        interaction = await bot.use(bot.alice, "upload", attachments={"attachment": attachment})
        (answer,) = await bot.fake.wait_for_followups(interaction, timeout=10)
    assert "1 MB" in answer["embeds"][0]["description"]
    assert bot.fake.downloads == []
    assert bot.host.requests == []


async def test_without_a_key_the_answer_is_ephemeral_and_says_how(bot: Bot) -> None:
    attachment = bot.fake.add_attachment(png_bytes(seed=3), "cat.png", "image/png")
    interaction = await bot.use(bot.alice, "upload", attachments={"attachment": attachment})

    response = await bot.fake.wait_for_response(interaction)

    assert response.ephemeral
    assert "/key set" in response.data["content"]
    assert "/settings/api" in response.data["content"]


async def test_invalid_expiry_is_refused(keyed_bot: Bot) -> None:
    bot = keyed_bot
    attachment = bot.fake.add_attachment(png_bytes(seed=4), "cat.png", "image/png")
    interaction = await bot.use(
        bot.alice, "upload", {"expiry": "soon"}, attachments={"attachment": attachment}
    )
    response = await bot.fake.wait_for_response(interaction)
    assert response.ephemeral
    assert "expiry is not one I know" in response.data["content"]


async def test_expiry_and_spoiler_reach_the_host(keyed_bot: Bot) -> None:
    bot = keyed_bot
    attachment = bot.fake.add_attachment(png_bytes(seed=5), "cat.png", "image/png", spoiler=True)
    interaction = await bot.use(
        bot.alice, "upload", {"expiry": "1d"}, attachments={"attachment": attachment}
    )
    await bot.fake.wait_for_followups(interaction, timeout=10)
    (upload,) = bot.host.uploads.values()
    assert (upload.fields["expiration"], upload.fields["nsfw"]) == ("P1D", "1")


async def test_message_command_uploads_every_attachment_and_link(
    keyed_bot: Bot, link_site: str
) -> None:
    bot = keyed_bot
    files = [
        bot.fake.add_attachment(png_bytes(seed=6), "one.png", "image/png"),
        bot.fake.add_attachment(png_bytes(seed=7), "two.png", "image/png", spoiler=True),
    ]
    posted = await bot.fake.post_message(
        bot.guild, bot.channel, bot.bob, f"look {link_site}/cat.png", attachments=files
    )

    interaction = await bot.fake.message_command(
        bot.guild, bot.channel, bot.alice, "Upload to picloud", posted
    )
    (answer,) = await bot.fake.wait_for_followups(interaction, timeout=10)

    assert len(answer["embeds"]) == 3
    assert len(bot.host.uploads) == 3
    assert {u.fields.get("nsfw") for u in bot.host.uploads.values()} == {"1"}
    assert sum(1 for i in custom_ids(answer) if i.startswith("picloud:del:")) == 3


async def test_ten_attachments_get_one_answer_within_discords_25_buttons(
    keyed_bot: Bot,
) -> None:
    bot = keyed_bot
    files = [
        bot.fake.add_attachment(png_bytes(seed=60 + n), f"{n}.png", "image/png") for n in range(10)
    ]
    posted = await bot.fake.post_message(bot.guild, bot.channel, bot.bob, "", attachments=files)

    interaction = await bot.fake.message_command(
        bot.guild, bot.channel, bot.alice, "Upload to picloud", posted
    )
    (answer,) = await bot.fake.wait_for_followups(interaction, timeout=10)

    assert len(answer["embeds"]) == 10
    viewers = {upload.image["url_viewer"] for upload in bot.host.uploads.values()}
    assert {embed["url"] for embed in answer["embeds"]} == viewers
    # Codes and Delete for each; the embeds' titles link to the viewer.
    assert sum(1 for i in custom_ids(answer) if i.startswith("picloud:del:")) == 10
    assert sum(1 for i in custom_ids(answer) if i.startswith("picloud:codes:")) == 10


async def test_host_down_is_reported(keyed_bot: Bot) -> None:
    bot = keyed_bot
    bot.host.fail_next(Fault.MAINTENANCE_503, times=2)
    attachment = bot.fake.add_attachment(png_bytes(seed=8), "cat.png", "image/png")
    interaction = await bot.use(bot.alice, "upload", attachments={"attachment": attachment})
    answer = await bot.answer_to(interaction)
    assert not answer["content"]  # the note on the retry was replaced by the answer
    assert "not answering" in answer["embeds"][0]["description"]


async def test_rate_limited_follow_up_is_retried_and_counted(keyed_bot: Bot) -> None:
    bot = keyed_bot
    counted_before = _discord_429s()
    bot.fake.fail_next("POST", r"^/webhooks/", status=429, retry_after=0.2)
    attachment = bot.fake.add_attachment(png_bytes(seed=9), "cat.png", "image/png")
    interaction = await bot.use(bot.alice, "upload", attachments={"attachment": attachment})
    (answer,) = await bot.fake.wait_for_followups(interaction, timeout=10)
    assert answer["embeds"][0]["description"] == "Uploaded"
    assert _discord_429s() == counted_before + 1  # /metrics: picloud_platform_rate_limited


async def test_a_failed_command_is_logged_with_its_platform_and_channel(
    keyed_bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    bot = keyed_bot
    caplog.handler.addFilter(AboutFilter())  # as the bots' own log handler has it
    bot.fake.fail_next("POST", r"^/interactions/", status=400, times=2)  # and the apology
    await bot.use(bot.alice, "history")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not (failed := [r for r in caplog.records if "command failed" in r.getMessage()]):
        assert loop.time() < deadline, "the command's failure was never logged"
        await asyncio.sleep(0.05)
    assert failed[0].about == {"platform": "discord", "chat": str(bot.channel["id"])}


def _discord_429s() -> float:
    labels = {"platform": "discord"}
    return REGISTRY.get_sample_value("picloud_platform_rate_limited_total", labels) or 0.0


async def test_russian_locale_reads_russian(bot: Bot) -> None:
    await bot.core.service.keys.set_user_key(person(bot.bob), USER_KEY)
    attachment = bot.fake.add_attachment(png_bytes(seed=10), "cat.png", "image/png")
    interaction = await bot.use(
        bot.bob, "upload", attachments={"attachment": attachment}, locale="ru"
    )
    (answer,) = await bot.fake.wait_for_followups(interaction, timeout=10)
    assert answer["embeds"][0]["description"] == "Загружено"


async def test_a_flooded_host_is_told_at_once_then_the_answer_replaces_it(
    open_bot: OpenBot,
) -> None:
    async with open_bot(retry=PATIENT_RETRY) as bot:
        await bot.core.service.keys.set_user_key(person(bot.alice), USER_KEY)
        bot.host.flood_per_minute = 1
        for seed in (20, 21):  # the first takes the host's one upload of the minute
            attachment = bot.fake.add_attachment(png_bytes(seed=seed), "cat.png", "image/png")
            interaction = await bot.use(bot.alice, "upload", attachments={"attachment": attachment})
            if seed == 20:
                await bot.fake.wait_for_followups(interaction, timeout=10)

        note = await _original_when(bot, interaction, lambda m: "host is busy" in m["content"])
        bot.host.clock = lambda: time.time() + 61  # the host's minute is over
        answer = await _original_when(bot, interaction, lambda m: bool(m.get("embeds")))

    assert note["id"] == answer["id"]  # the note became the answer: one message
    assert not answer["content"]
    assert answer["embeds"][0]["url"] in {u.image["url_viewer"] for u in bot.host.uploads.values()}
    assert bot.fake.followups(interaction) in ([], [answer])


async def _original_when(bot: Bot, interaction: JSON, test: Callable[[JSON], bool]) -> JSON:
    for _ in range(200):
        original = bot.fake.original_response(interaction)
        if original is not None and test(original):
            return original
        await asyncio.sleep(0.1)
    raise AssertionError(
        f"@original never matched; it is {bot.fake.original_response(interaction)}"
    )
