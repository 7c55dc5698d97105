"""Several Telegram instances in webhook mode behind one address, on one PostgreSQL
database, as the README deploys them: every update handled once (even one Telegram
sends again, to the other instance), a setting written through one instance seen by
the other, and the bot's message budget spent by both together.

Runs when PICLOUD_TEST_DATABASE_URL names a PostgreSQL server (CI sets it).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from core.remembered import REMEMBER_S
from tests.db import postgres_database, postgres_server
from tests.fakes.balancer import Balancer
from tests.fakes.chevereto import CheveretoEmulator
from tests.fakes.media import png_bytes
from tests.fakes.server import free_port
from tests.fakes.telegram import RateLimits, TelegramFake
from tests.kills.conftest import (
    SETTLE_S,
    STEP_TIMEOUT,
    BotProcess,
    BotProcesses,
    started,
)

JSON = dict[str, Any]
SECRET = "one-secret-for-every-instance"
HOOK_PATH = "/telegram"
UPLOADED = re.compile(r"uploaded \d+ bytes")


@asynccontextmanager
async def behind_one_address(
    bot_process: BotProcesses,
    count: int = 2,
    *,
    database_urls: list[str] | None = None,
    **env: str,
) -> AsyncIterator[tuple[Balancer, list[BotProcess]]]:
    """``count`` instances in webhook mode, each on its own port, all behind one
    Balancer whose URL is every instance's TELEGRAM_WEBHOOK_URL; up on return. Each on
    ``database_urls[i]`` when given (else the fixture's database), with ``env`` added."""
    ports = [free_port() for _ in range(count)]
    async with Balancer([f"http://127.0.0.1:{port}" for port in ports], HOOK_PATH) as one:
        processes = []
        for index, port in enumerate(ports):
            if database_urls is not None:
                bot_process.database_url = database_urls[index]
            process = bot_process(
                TELEGRAM_WEBHOOK_URL=one.url,
                TELEGRAM_WEBHOOK_SECRET=SECRET,
                TELEGRAM_WEBHOOK_LISTEN=f"127.0.0.1:{port}",
                **env,
            )
            processes.append(process)
        await asyncio.gather(*(started(process) for process in processes))
        yield one, processes


async def deliver(fake: TelegramFake, update: JSON) -> None:
    """As Telegram does: POST to the webhook, which must take it (200)."""
    assert await fake.deliver_webhook(update, secret_token=SECRET) == 200


async def test_every_update_is_handled_once_by_one_of_two_instances(
    on_postgres: BotProcesses,
    telegram_fake: TelegramFake,
    picloud: CheveretoEmulator,
    alice: JSON,
) -> None:
    fake, chat = telegram_fake, telegram_fake.private_chat(alice)
    await on_postgres.store_user_key(alice["id"])
    async with behind_one_address(on_postgres) as (one, (first, second)):
        assert fake.webhook is not None and fake.webhook.url == one.url  # both set the same
        photos = [fake.send_photo(chat, alice, png_bytes(8, 8, seed=300 + n)) for n in range(6)]
        for photo in photos:  # the balancer hands them out in turn
            await deliver(fake, photo)
        # Telegram never saw the 200 for the last one and sends it again; this time the
        # balancer hands it to the other instance.
        last_went_to = one.passed[-1][1]
        one.next_to(1 - last_went_to)
        await deliver(fake, photos[-1])

        answers = await answered(fake, chat, picloud, len(photos))

    again = [index for update_id, index, _ in one.passed if update_id == photos[-1]["update_id"]]
    assert sorted(again) == [0, 1]  # the premise: both instances got the same update
    assert [answers[link] for link in sorted(answers)] == [1] * len(photos)
    assert len(picloud.uploads) == len(photos)
    assert all(UPLOADED.search(process.logs()) for process in (first, second))  # both worked
    assert "came again" in (first if 1 - last_went_to == 0 else second).logs()


async def test_an_update_whose_instance_dies_is_finished_by_the_other(
    on_postgres: BotProcesses,
    telegram_fake: TelegramFake,
    picloud: CheveretoEmulator,
    alice: JSON,
) -> None:
    fake, chat = telegram_fake, telegram_fake.private_chat(alice)
    await on_postgres.store_user_key(alice["id"])
    lease = {"PICLOUD_JOB_LEASE_S": "3"}  # leases looked at every second
    async with behind_one_address(on_postgres, **lease) as (one, (first, second)):
        fetching = fake.hold("getFile")  # the update is kept and its job recorded by then
        photo = fake.send_photo(chat, alice, png_bytes(8, 8, seed=350))
        one.next_to(0)
        await deliver(fake, photo)  # 200: Telegram will not send it again
        await fetching.wait_reached(timeout=STEP_TIMEOUT)
        first.kill()
        fetching.release(proceed=False)

        answers = await answered(fake, chat, picloud, 1)

    assert list(answers.values()) == [1]
    assert len(picloud.uploads) == 1
    assert "took over 1 unanswered uploads" in second.logs()
    assert UPLOADED.search(second.logs()) and not UPLOADED.search(first.logs())


async def test_a_setting_written_through_one_instance_is_seen_by_the_other(
    on_postgres: BotProcesses,
    telegram_fake: TelegramFake,
    picloud: CheveretoEmulator,
    alice: JSON,
) -> None:
    fake = telegram_fake
    group = fake.group(-100_777, "Mirrors")
    fake.set_member(group["id"], fake.bot_id, "administrator")  # sees every message
    fake.set_member(group["id"], alice["id"], "administrator")
    await on_postgres.store_user_key(alice["id"])
    async with behind_one_address(on_postgres) as (one, _processes):
        # The second instance reads the group's settings first: mirroring is off...
        before = fake.send_photo(group, alice, png_bytes(8, 8, seed=400))
        one.next_to(1)
        await deliver(fake, before)
        await _until_done(on_postgres, before)
        # ...and the first switches it on.
        switch = fake.send_text(group, alice, "/mirror on")
        one.next_to(0)
        await deliver(fake, switch)
        await _until(lambda: _said(fake, group, "Mirroring is on"), "mirroring switched on")
        switched_at = asyncio.get_running_loop().time()

        # Photos through the second instance, one a second, until one is mirrored.
        seed = 401
        while not picloud.uploads:
            photo = fake.send_photo(group, alice, png_bytes(8, 8, seed=seed))
            one.next_to(1)
            await deliver(fake, photo)
            seed += 1
            await asyncio.sleep(1.0)
            assert asyncio.get_running_loop().time() - switched_at < REMEMBER_S + STEP_TIMEOUT
        seen_after = asyncio.get_running_loop().time() - switched_at

    # The premise: the switch went through the first instance, every photo the second.
    went_to = {update_id: index for update_id, index, _status in one.passed}
    assert went_to.pop(switch["update_id"]) == 0
    assert set(went_to.values()) == {1}
    print(f"mirroring switched on through one instance, seen by the other after {seen_after:.1f} s")
    assert seen_after <= REMEMBER_S + 3
    never = hashlib.md5(png_bytes(8, 8, seed=400), usedforsecurity=False).hexdigest()
    assert never not in {upload.md5 for upload in picloud.uploads.values()}


async def test_two_instances_spend_one_message_budget(
    on_postgres: BotProcesses,
    telegram_fake: TelegramFake,
    picloud: CheveretoEmulator,
    alice: JSON,
) -> None:
    await on_postgres.store_user_key(alice["id"])
    async with behind_one_address(on_postgres) as (_one, _processes):
        answers = await _burst_into_one_chat(telegram_fake, picloud, alice)
    _say_burst("one shared budget", telegram_fake)
    assert [answers[link] for link in sorted(answers)] == [1] * BURST
    assert telegram_fake.rate_limited == []


async def test_without_a_shared_database_the_same_burst_meets_429s(
    bot_process: BotProcesses,
    telegram_fake: TelegramFake,
    picloud: CheveretoEmulator,
    alice: JSON,
) -> None:
    """The premise of the test above: the burst is one that two instances pacing
    themselves alone (each on a database of its own) send too fast for Telegram."""
    server = postgres_server()
    async with postgres_database(server) as one_url, postgres_database(server) as other_url:
        for url in (one_url, other_url):
            bot_process.database_url = url
            await bot_process.store_user_key(alice["id"])
        urls = [one_url, other_url]
        async with behind_one_address(bot_process, database_urls=urls) as (_one, _processes):
            answers = await _burst_into_one_chat(telegram_fake, picloud, alice)
    _say_burst("a budget per instance", telegram_fake)
    assert [answers[link] for link in sorted(answers)] == [1] * BURST  # retried, not lost
    assert telegram_fake.rate_limited != []


BURST = 12
BURST_EVERY_S = 0.25


async def _burst_into_one_chat(
    fake: TelegramFake, picloud: CheveretoEmulator, user: JSON
) -> dict[str, int]:
    """Telegram's real limits on; ``BURST`` photos into one private chat, one every
    ``BURST_EVERY_S``, handed to the instances in turn; how often each was answered."""
    fake.rate_limits = RateLimits()
    chat = fake.private_chat(user)
    for n in range(BURST):
        await deliver(fake, fake.send_photo(chat, user, png_bytes(8, 8, seed=500 + n)))
        await asyncio.sleep(BURST_EVERY_S)
    return await answered(fake, chat, picloud, BURST)


def _say_burst(how: str, fake: TelegramFake) -> None:
    sent = [call for call in fake.calls_to("sendMessage") if call.error_code is None]
    print(f"{BURST} photos, {how}: {len(sent)} messages, {len(fake.rate_limited)} 429s")


async def answered(
    fake: TelegramFake, chat: JSON, picloud: CheveretoEmulator, count: int
) -> dict[str, int]:
    """Once ``count`` uploads are each in an answer (and a moment more, for any second
    answer): how many answers open each upload."""

    def counted() -> dict[str, int]:
        opened = [  # an answer opens each upload by a button, however many it lists
            button.get("url")
            for message in fake.messages(chat["id"])
            for row in message.get("reply_markup", {}).get("inline_keyboard", [])
            for button in row
        ]
        links = [upload.image["url_viewer"] for upload in picloud.uploads.values()]
        return {link: opened.count(link) for link in links}

    await _until(
        lambda: len(counted()) >= count and all(counted().values()), f"{count} answered uploads"
    )
    await asyncio.sleep(SETTLE_S)
    return counted()


def _said(fake: TelegramFake, chat: JSON, words: str) -> bool:
    return any(words in message.get("text", "") for message in fake.messages(chat["id"]))


async def _until_done(bot_process: BotProcesses, update: JSON) -> None:
    """Until the instance that took ``update`` marked it handled, in the inbox."""
    assert bot_process.database_url is not None
    engine = create_async_engine(bot_process.database_url)
    query = text("SELECT done_at FROM inbox WHERE platform = 'telegram' AND event_key = :key")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STEP_TIMEOUT
    try:
        while True:
            async with engine.connect() as connection:
                row = (await connection.execute(query, {"key": str(update["update_id"])})).first()
            if row is not None and row[0] is not None:
                return
            if loop.time() >= deadline:
                raise TimeoutError(f"update {update['update_id']} not done in {STEP_TIMEOUT} s")
            await asyncio.sleep(0.1)
    finally:
        await engine.dispose()


async def _until(condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STEP_TIMEOUT
    while not condition():
        if loop.time() >= deadline:
            raise TimeoutError(f"not seen within {STEP_TIMEOUT} s: {what}")
        await asyncio.sleep(0.1)
