"""Delete and Codes, keys through modals, channel mirroring, history and restarts."""

from __future__ import annotations

import asyncio

from bots.discord.deps import server_ref
from tests.discord.conftest import JSON, MANAGE_GUILD, SERVER_KEY, Bot, OpenBot, custom_ids, person
from tests.fakes.chevereto import USER_KEY, Fault
from tests.fakes.discord import Callback, DiscordFake
from tests.fakes.media import png_bytes


async def uploaded(bot: Bot, user: JSON, seed: int) -> JSON:
    attachment = bot.fake.add_attachment(png_bytes(seed=seed), f"cat{seed}.png", "image/png")
    interaction = await bot.use(
        user, "upload", {"title": f"Cat {seed}"}, attachments={"attachment": attachment}
    )
    (answer,) = await bot.fake.wait_for_followups(interaction, timeout=10)
    return answer


def component(message: JSON, prefix: str) -> str:
    (found,) = [i for i in custom_ids(message) if i.startswith(prefix)]
    return found


async def press(bot: Bot, user: JSON, message: JSON, custom_id: str) -> JSON:
    interaction = await bot.fake.press_component(bot.guild, bot.channel, user, message, custom_id)
    await bot.fake.wait_for_response(interaction)
    return interaction


async def test_delete_confirms_then_deletes_and_edits_the_embed(keyed_bot: Bot) -> None:
    bot = keyed_bot
    answer = await uploaded(bot, bot.alice, 1)

    asked = await press(bot, bot.alice, answer, component(answer, "picloud:del:"))
    question = bot.fake.response(asked)
    assert question is not None
    assert question.ephemeral
    assert not any(u.deleted for u in bot.host.uploads.values())
    confirm = bot.fake.original_response(asked)
    assert confirm is not None
    yes = await press(bot, bot.alice, confirm, component(confirm, "picloud:delyes:"))

    assert bot.fake.response(yes).type == 7  # type: ignore[union-attr]
    assert [u.deleted for u in bot.host.uploads.values()] == [True]
    await bot.fake.wait_for("PATCH", rf"/channels/{bot.channel['id']}/messages/{answer['id']}")
    edited = bot.fake.message(int(bot.channel["id"]), answer["id"])
    assert edited is not None
    assert "Deleted" in edited["embeds"][0]["description"]
    assert edited.get("components", []) == []
    assert "/delete/" not in bot.everything_sent()


async def test_delete_pressed_twice_deletes_once(keyed_bot: Bot) -> None:
    bot = keyed_bot
    answer = await uploaded(bot, bot.alice, 2)
    asked = await press(bot, bot.alice, answer, component(answer, "picloud:del:"))
    confirm = bot.fake.original_response(asked)
    assert confirm is not None
    yes_id = component(confirm, "picloud:delyes:")
    await press(bot, bot.alice, confirm, yes_id)
    again = await bot.fake.press_component(
        bot.guild, bot.channel, bot.alice, answer, component(answer, "picloud:del:")
    )

    refusal = await bot.fake.wait_for_response(again)
    assert refusal.ephemeral
    assert "already deleted" in refusal.data["content"]
    assert len([r for r in bot.host.requests if "/delete/" in r.path]) == 1


async def test_others_get_an_ephemeral_refusal_moderators_may_delete(keyed_bot: Bot) -> None:
    bot = keyed_bot
    answer = await uploaded(bot, bot.alice, 3)
    delete_id = component(answer, "picloud:del:")

    refused = await press(bot, bot.bob, answer, delete_id)
    refusal = bot.fake.response(refused)
    assert refusal is not None
    assert refusal.ephemeral
    assert "не ваша" in refusal.data["content"]

    asked = await press(bot, bot.mod, answer, delete_id)
    confirm = bot.fake.original_response(asked)
    assert confirm is not None
    await press(bot, bot.mod, confirm, component(confirm, "picloud:delyes:"))
    assert [u.deleted for u in bot.host.uploads.values()] == [True]


async def test_forged_component_id_is_refused(keyed_bot: Bot) -> None:
    bot = keyed_bot
    answer = await uploaded(bot, bot.alice, 4)
    # A forged id on a real message: edited in the fake's own store, as a client could send.
    stored = bot.fake._messages[int(bot.channel["id"])][int(answer["id"])]
    for row in stored["components"]:
        for item in row["components"]:
            if str(item.get("custom_id", "")).startswith("picloud:del:"):
                item["custom_id"] = "picloud:del:madeUpId1234"

    pressed = await press(bot, bot.alice, stored, "picloud:del:madeUpId1234")

    refusal = bot.fake.response(pressed)
    assert refusal is not None
    assert refusal.ephemeral
    assert "no longer known" in refusal.data["content"]


async def test_codes_are_ephemeral_and_switch_format_in_place(keyed_bot: Bot) -> None:
    bot = keyed_bot
    answer = await uploaded(bot, bot.alice, 5)
    pressed = await press(bot, bot.bob, answer, component(answer, "picloud:codes:"))
    response = bot.fake.response(pressed)
    assert response is not None
    assert response.ephemeral
    (embed,) = response.data["embeds"]
    fields = {field["name"]: field["value"] for field in embed["fields"]}
    (upload,) = bot.host.uploads.values()
    page, thumb, title = upload.image["url_viewer"], upload.image["thumb"]["url"], upload.title
    assert embed["title"].endswith("Markdown")
    # A small picture: no medium size; full size first. Bob reads Russian.
    assert list(fields) == [
        "Ссылка на страницу",
        "Прямая ссылка",
        "Полный размер",
        "Полный размер со ссылкой",
        "Миниатюра со ссылкой",
    ]
    assert f"[![{title}]({thumb})]({page})" in fields["Миниатюра со ссылкой"]

    codes_message = bot.fake.original_response(pressed)
    assert codes_message is not None
    (to_html,) = [i for i in custom_ids(codes_message) if i.endswith(":html")]
    switch = await press(bot, bot.bob, codes_message, to_html)
    switched = bot.fake.response(switch)
    assert switched is not None and switched.type == 7  # the same message, edited
    html_fields = {f["name"]: f["value"] for f in switched.data["embeds"][0]["fields"]}
    assert (
        f'<a href="{page}"><img src="{thumb}" alt="{title}"></a>'
        in html_fields["Миниатюра со ссылкой"]
    )


async def test_delete_button_still_works_after_a_restart(open_bot: OpenBot) -> None:
    async with open_bot() as bot:
        await bot.core.service.keys.set_user_key(person(bot.alice), USER_KEY)
        answer = await uploaded(bot, bot.alice, 6)
    async with open_bot() as again:
        asked = await press(again, again.alice, answer, component(answer, "picloud:del:"))
        confirm = again.fake.original_response(asked)
        assert confirm is not None
        await press(again, again.alice, confirm, component(confirm, "picloud:delyes:"))
        assert [u.deleted for u in again.host.uploads.values()] == [True]


async def fill_key_form(bot: Bot, user: JSON, subcommand: str, value: str) -> Callback:
    """``/key <subcommand>``: the form opens, ``value`` is typed in, the bot answers."""
    modal = await bot.fake.wait_for_response(await bot.use(user, "key", subcommand=subcommand))
    assert modal.type == 9
    (field,) = [c for row in modal.data["components"] for c in row["components"]]
    submitted = await bot.fake.submit_modal(
        bot.guild, bot.channel, user, modal.data["custom_id"], {field["custom_id"]: value}
    )
    return await bot.fake.wait_for_response(submitted)


async def test_key_set_through_a_modal_show_and_remove(bot: Bot) -> None:
    saved = await fill_key_form(bot, bot.alice, "set", f" {USER_KEY} ")
    assert saved.ephemeral
    assert saved.data["content"] == "Key saved: chv_1_…AAAA"

    shown = await bot.fake.wait_for_response(await bot.use(bot.alice, "key", subcommand="show"))
    assert shown.ephemeral
    assert "chv_1_…AAAA" in shown.data["content"]
    removed = await bot.fake.wait_for_response(await bot.use(bot.alice, "key", subcommand="remove"))
    assert "removed" in removed.data["content"]
    assert await bot.core.service.keys.show_user_key(person(bot.alice)) is None
    assert USER_KEY not in bot.everything_sent()


async def test_modal_with_a_malformed_or_empty_key(bot: Bot) -> None:
    for value in ("chv_1 broken key", "   "):
        answer = await fill_key_form(bot, bot.alice, "set", value)
        assert answer.ephemeral
        assert "not an API key" in answer.data["content"]
    assert await bot.core.service.keys.show_user_key(person(bot.alice)) is None


async def test_mirroring_needs_manage_channels(bot: Bot) -> None:
    refused = await bot.fake.wait_for_response(
        await bot.use(bot.alice, "mirror", subcommand="enable")
    )
    assert refused.ephemeral
    assert "Manage Channels" in refused.data["content"]


async def test_mirroring_uploads_attachments_with_the_server_key(bot: Bot) -> None:
    enabled = await bot.fake.wait_for_response(
        await bot.use(bot.mod, "mirror", subcommand="enable")
    )
    assert "Mirroring is on" in enabled.data["content"]
    await fill_key_form(bot, bot.mod, "server", SERVER_KEY)

    photo = bot.fake.add_attachment(png_bytes(seed=7), "posted.png", "image/png")
    posted = await bot.fake.post_message(
        bot.guild, bot.channel, bot.alice, "hi", attachments=[photo]
    )
    reply = await bot.fake.wait_for_message(
        bot.channel,
        where=lambda m: (m.get("message_reference") or {}).get("message_id") == posted["id"],
        timeout=10,
    )

    (upload,) = bot.host.uploads.values()
    assert upload.key == SERVER_KEY
    assert reply["embeds"][0]["url"] == upload.image["url_viewer"]


async def test_mirroring_ignores_plain_text_and_page_links(bot: Bot, link_site: str) -> None:
    await bot.core.service.keys.set_user_key(person(bot.alice), USER_KEY)
    await bot.fake.wait_for_response(await bot.use(bot.mod, "mirror", subcommand="enable"))
    await bot.fake.post_message(bot.guild, bot.channel, bot.alice, f"read {link_site}/page")
    status = await bot.fake.wait_for_response(await bot.use(bot.mod, "mirror", subcommand="status"))
    assert "Mirroring is on" in status.data["content"]
    assert bot.host.requests == []


async def test_missing_message_content_intent_is_explained(open_bot: OpenBot) -> None:
    async with open_bot() as probe:
        probe.fake.privileged_intents_allowed = False
    async with open_bot() as bot:
        response = await bot.fake.wait_for_response(
            await bot.use(bot.mod, "mirror", subcommand="enable")
        )
    assert "Message Content" in response.data["content"]
    assert response.ephemeral


async def test_history_lists_uploads_ephemerally(keyed_bot: Bot) -> None:
    bot = keyed_bot
    for seed in (8, 9):
        await uploaded(bot, bot.alice, seed)
    listing = await bot.fake.wait_for_response(await bot.use(bot.alice, "history"))
    assert listing.ephemeral
    assert [embed["title"] for embed in listing.data["embeds"]] == ["Cat 9", "Cat 8"]


async def test_commands_carry_russian_localizations(bot: Bot) -> None:
    commands = {command["name"]: command for command in bot.fake.commands()}
    assert set(commands) >= {"upload", "key", "mirror", "history", "Upload to picloud"}
    assert commands["upload"]["description_localizations"]["ru"]
    assert commands["Upload to picloud"]["name_localizations"]["ru"] == "Загрузить в picloud"
    assert commands["upload"]["name_localizations"]["ru"] == "загрузить"
    options = {option["name"]: option for option in commands["upload"]["options"]}
    assert options["attachment"]["name_localizations"]["ru"] == "вложение"


async def _cut_off_upload(open_bot: OpenBot) -> JSON:
    """An /upload cut off by a crash after its defer; the host lost it too."""
    async with open_bot() as bot:
        await bot.core.service.keys.set_user_key(person(bot.alice), USER_KEY)
        bot.host.delay_s = 5
        bot.host.fail_next(Fault.DROP)  # the first try's answer is lost...
        bot.host.fail_next(Fault.DELAY)  # ...and the retry is still running at the crash
        attachment = bot.fake.add_attachment(png_bytes(seed=11), "late.png", "image/png")
        interaction = await bot.use(bot.alice, "upload", attachments={"attachment": attachment})
        await bot.fake.wait_for("POST", r"^/interactions/")
        await asyncio.sleep(0.5)
    bot.host.faults.clear()
    bot.host.uploads.clear()  # the host lost it too (as if its answer never came)
    return interaction


async def test_restart_finishes_a_cut_off_upload_and_answers_its_deferred_response(
    open_bot: OpenBot,
) -> None:
    interaction = await _cut_off_upload(open_bot)

    async with open_bot() as again:
        for _ in range(100):
            original = again.fake.original_response(interaction)
            if original and original.get("embeds"):
                break
            await asyncio.sleep(0.1)
        channel_posts = again.fake.bot_messages(int(again.channel["id"]))

    (upload,) = again.host.uploads.values()
    assert original is not None and original["embeds"][0]["url"] == upload.image["url_viewer"]
    # The deferred response, now the answer, is the bot's only message in the channel.
    assert [post["id"] for post in channel_posts] == [original["id"]]


async def test_restart_after_the_interaction_expired_answers_in_the_channel(
    open_bot: OpenBot, discord_fake: DiscordFake
) -> None:
    interaction = await _cut_off_upload(open_bot)
    discord_fake.interaction_token_lifetime = 0  # Discord no longer takes its token

    async with open_bot() as again:
        mention = f"<@{again.alice['id']}>"
        for _ in range(100):  # the answer may come while the bot starts: look, don't wait
            posts = again.fake.bot_messages(int(again.channel["id"]))
            if answers := [m for m in posts if m["content"] == mention]:
                break
            await asyncio.sleep(0.1)
        (answer,) = answers

    (upload,) = again.host.uploads.values()
    assert answer["embeds"][0]["url"] == upload.image["url_viewer"]
    assert not (again.fake.original_response(interaction) or {}).get("embeds")


async def test_the_server_key_can_be_removed(bot: Bot) -> None:
    for value in (SERVER_KEY, "off"):
        answer = await fill_key_form(bot, bot.mod, "server", value)
    assert answer.data["content"] == "The server's key is removed."
    refused = await bot.fake.wait_for_response(await bot.use(bot.alice, "key", subcommand="server"))
    assert "Manage Server" in refused.data["content"]


async def test_a_server_key_form_sent_after_manage_server_was_taken_away_is_refused(
    bot: Bot,
) -> None:
    bot.fake.member(int(bot.guild["id"]), bot.bob, permissions=MANAGE_GUILD)
    form = await bot.fake.wait_for_response(await bot.use(bot.bob, "key", subcommand="server"))
    assert form.type == 9  # Bob may set it: the form opens...
    bot.fake.member(int(bot.guild["id"]), bot.bob, permissions=0)  # ...and he loses the right
    (field,) = [c for row in form.data["components"] for c in row["components"]]
    typed = await bot.fake.submit_modal(
        bot.guild, bot.channel, bot.bob, form.data["custom_id"], {field["custom_id"]: SERVER_KEY}
    )
    refused = await bot.fake.wait_for_response(typed)
    assert "«Управление сервером»" in refused.data["content"]  # Bob reads Russian
    assert not (await bot.core.profiles.chat(server_ref(int(bot.guild["id"])))).has_key


async def test_history_names_a_copy_whose_answer_was_lost(keyed_bot: Bot) -> None:
    bot = keyed_bot
    bot.host.fail_next(Fault.TRUNCATED_JSON)  # stored, its answer cut short
    attachment = bot.fake.add_attachment(png_bytes(seed=13), "lost.png", "image/png")
    interaction = await bot.use(bot.alice, "upload", attachments={"attachment": attachment})
    answer = await bot.answer_to(interaction)
    assert "earlier try" in answer["embeds"][0]["description"]

    listing = await bot.fake.wait_for_response(await bot.use(bot.alice, "history"))

    assert listing.ephemeral
    assert "without a link" in listing.data["content"]
    assert "lost.png" in listing.data["content"]


async def test_a_button_the_bot_does_not_know_is_answered_and_does_nothing(
    keyed_bot: Bot,
) -> None:
    bot = keyed_bot
    answer = await uploaded(bot, bot.alice, 901)
    uploads_before = len(bot.host.uploads)

    for custom_id in ("oldversion:del:abc", "picloud:del:", "picloud:nuke:AbCdEf123456"):
        interaction = await bot.fake.press_component(
            bot.guild, bot.channel, bot.alice, answer, custom_id, forged=True
        )
        callback = await bot.fake.wait_for_response(interaction)
        assert callback.data.get("flags", 0) & 64  # ephemeral: only the presser sees it
        assert "no longer does anything" in callback.data.get("content", "")
    assert len(bot.host.uploads) == uploads_before
    assert not any(upload.deleted for upload in bot.host.uploads.values())
