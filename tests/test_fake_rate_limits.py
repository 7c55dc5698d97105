"""The fakes' opt-in ``rate_limits``: Telegram's and Discord's message limits, answered
with 429 as the real APIs answer them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import discord.http
import httpx
import pytest
from telegram.ext import AIORateLimiter, ExtBot

from tests.fakes import discord as discord_fake
from tests.fakes import telegram as telegram_fake
from tests.fakes.discord import DiscordFake
from tests.fakes.telegram import TelegramFake

GROUP_ID = -1001234567890
GUILD_ID = 900_000_000_000_000_001
CHANNEL_ID = 900_000_000_000_000_002
OTHER_CHANNEL_ID = 900_000_000_000_000_003
START = 1_750_000_000.0


class Clock:
    """A clock the test moves: ``clock.now += 1.5``."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


# --- Telegram ------------------------------------------------------------------------------


@pytest.fixture
async def tg(clock: Clock) -> AsyncIterator[TelegramFake]:
    async with TelegramFake() as fake:
        fake.clock = clock
        fake.group(GROUP_ID, "testers")
        yield fake


def private(fake: TelegramFake, user_id: int = 1001) -> int:
    chat: int = fake.private_chat(fake.user(user_id, f"User {user_id}"))["id"]
    return chat


async def call(
    http: httpx.AsyncClient, fake: TelegramFake, method: str, **params: Any
) -> httpx.Response:
    return await http.post(f"{fake.api_url}{fake.token}/{method}", json=params)


def too_many(retry_after: int) -> dict[str, Any]:
    return {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {retry_after}",
        "parameters": {"retry_after": retry_after},
    }


async def test_telegram_is_not_limited_by_default(
    tg: TelegramFake, http: httpx.AsyncClient
) -> None:
    chat = private(tg)
    for n in range(100):
        answer = await call(http, tg, "sendMessage", chat_id=chat, text=f"m{n}")
        assert answer.status_code == 200
    assert len(tg.messages(chat)) == 100 and tg.rate_limited == []


async def test_telegram_private_chat_bucket(
    tg: TelegramFake, http: httpx.AsyncClient, clock: Clock
) -> None:
    tg.rate_limits = telegram_fake.RateLimits()
    chat = private(tg)
    for n in range(3):  # the burst
        assert (await call(http, tg, "sendMessage", chat_id=chat, text=f"m{n}")).is_success
    fourth = await call(http, tg, "sendMessage", chat_id=chat, text="m3")
    assert (fourth.status_code, fourth.json()) == (429, too_many(1))
    assert [m["text"] for m in tg.messages(chat)] == ["m0", "m1", "m2"]  # not stored
    assert tg.rate_limited == [tg.calls[-1]] and tg.calls[-1].error_code == 429

    clock.now += 0.5  # half a token: still 1 s (rounded up) to wait
    assert (await call(http, tg, "sendMessage", chat_id=chat, text="m3")).json() == too_many(1)
    clock.now += 0.5
    assert (await call(http, tg, "sendMessage", chat_id=chat, text="m3")).is_success
    # Edits count, deletions do not; a send refused for another reason costs nothing.
    last = tg.messages(chat)[-1]["message_id"]
    edit = await call(http, tg, "editMessageText", chat_id=chat, message_id=last, text="x")
    assert edit.json() == too_many(1)
    assert (await call(http, tg, "deleteMessage", chat_id=chat, message_id=last)).is_success
    clock.now += 10  # the bucket refills to 3, no further
    assert (await call(http, tg, "sendMessage", chat_id=chat, text="")).status_code == 400
    for n in range(3):
        assert (await call(http, tg, "sendMessage", chat_id=chat, text=f"n{n}")).is_success
    assert (await call(http, tg, "sendMessage", chat_id=chat, text="n3")).status_code == 429
    # Each private chat has its own bucket.
    assert (await call(http, tg, "sendMessage", chat_id=private(tg, 1002), text="hi")).is_success


async def test_telegram_group_window_of_a_minute(
    tg: TelegramFake, http: httpx.AsyncClient, clock: Clock
) -> None:
    tg.rate_limits = telegram_fake.RateLimits()
    for n in range(20):  # one every 2 s, so only the 20-a-minute limit can bite
        assert (await call(http, tg, "sendMessage", chat_id=GROUP_ID, text=f"g{n}")).is_success
        clock.now += 2
    # 40 s after the first: it leaves the window in 20 s.
    refused = await call(http, tg, "sendMessage", chat_id=GROUP_ID, text="g20")
    assert (refused.status_code, refused.json()) == (429, too_many(20))
    assert len(tg.messages(GROUP_ID)) == 20
    clock.now += 19.5
    assert (await call(http, tg, "sendMessage", chat_id=GROUP_ID, text="g20")).json() == too_many(1)
    clock.now += 0.5
    assert (await call(http, tg, "sendMessage", chat_id=GROUP_ID, text="g20")).is_success
    # The second left 2 s after the first: the window is full again until then.
    assert (await call(http, tg, "sendMessage", chat_id=GROUP_ID, text="g21")).json() == too_many(2)
    assert len(tg.rate_limited) == 3


async def test_telegram_overall_thirty_per_second(
    tg: TelegramFake, http: httpx.AsyncClient, clock: Clock
) -> None:
    tg.rate_limits = telegram_fake.RateLimits()
    chats = [private(tg, 2000 + n) for n in range(31)]
    codes = []
    for chat in chats:
        codes.append((await call(http, tg, "sendMessage", chat_id=chat, text="news")).status_code)
        clock.now += 0.01
    assert codes == [200] * 30 + [429]
    assert tg.calls[-1].description == "Too Many Requests: retry after 1"
    assert tg.messages(chats[-1]) == []
    clock.now = START + 1.0  # the first message leaves the rolling second
    assert (await call(http, tg, "sendMessage", chat_id=chats[-1], text="news")).is_success


async def test_telegram_limits_count_only_sends_and_edits(
    tg: TelegramFake, http: httpx.AsyncClient, clock: Clock
) -> None:
    tg.rate_limits = telegram_fake.RateLimits(per_second=1)
    chat = private(tg)
    ref = tg.add_file(b"abc")
    keyboard = {"inline_keyboard": [[{"text": "Go", "callback_data": "data"}]]}
    sent = await call(http, tg, "sendMessage", chat_id=chat, text="one", reply_markup=keyboard)
    message_id = sent.json()["result"]["message_id"]
    query = tg.press_button(tg.chats[chat], tg.users[chat], message_id, "data")
    for _ in range(40):  # all over the overall limit of the knob, never counted
        assert (await call(http, tg, "getFile", file_id=ref.file_id)).is_success
        assert (await call(http, tg, "sendChatAction", chat_id=chat, action="typing")).is_success
        assert (await call(http, tg, "getMe")).is_success
    answer = await call(
        http, tg, "answerCallbackQuery", callback_query_id=query["callback_query"]["id"]
    )
    assert answer.is_success and tg.rate_limited == []
    # Media, copies, forwards and albums count as messages (an album as one).
    photo = await call(http, tg, "sendPhoto", chat_id=chat, photo="https://example.com/a.jpg")
    assert photo.json() == too_many(1)
    clock.now += 1
    forward = {"from_chat_id": chat, "message_id": message_id}
    assert (await call(http, tg, "forwardMessage", chat_id=chat, **forward)).is_success
    assert (await call(http, tg, "copyMessage", chat_id=chat, **forward)).status_code == 429
    # fail_next comes first and is not a rate limit of the knob.
    clock.now += 1
    tg.fail_next("sendMessage", retry_after=7)
    assert (await call(http, tg, "sendMessage", chat_id=chat, text="x")).json() == too_many(7)
    assert (await call(http, tg, "sendMessage", chat_id=chat, text="x")).is_success
    assert [c.method for c in tg.rate_limited] == ["sendPhoto", "copyMessage"]


# PTB warns that retry_after will become a timedelta.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_telegram_429s_are_what_ptbs_rate_limiter_waits_out() -> None:
    async with TelegramFake() as fake:  # the real clock: PTB really sleeps
        fake.rate_limits = telegram_fake.RateLimits()
        chat = private(fake)
        bot = ExtBot(
            fake.token,
            base_url=fake.api_url,
            base_file_url=fake.file_url,
            rate_limiter=AIORateLimiter(max_retries=5),
        )
        async with bot:
            for n in range(6):
                await bot.send_message(chat, f"m{n}")
        assert [m["text"] for m in fake.messages(chat)] == [f"m{n}" for n in range(6)]
        assert fake.rate_limited  # it did provoke 429s, and obeyed them


# --- Discord -------------------------------------------------------------------------------


@pytest.fixture
async def dc(clock: Clock) -> AsyncIterator[DiscordFake]:
    async with DiscordFake() as fake:
        fake.clock = clock
        fake.guild(GUILD_ID, "testers", owner_id=discord_fake.OWNER_ID)
        fake.channel(GUILD_ID, CHANNEL_ID, "general")
        fake.channel(GUILD_ID, OTHER_CHANNEL_ID, "other")
        yield fake


async def post(
    http: httpx.AsyncClient, fake: DiscordFake, channel_id: int, content: str
) -> httpx.Response:
    return await http.post(
        f"{fake.api_url}/channels/{channel_id}/messages",
        json={"content": content},
        headers={"Authorization": f"Bot {fake.token}"},
    )


async def test_discord_is_not_limited_by_default(dc: DiscordFake, http: httpx.AsyncClient) -> None:
    for n in range(100):
        assert (await post(http, dc, CHANNEL_ID, f"m{n}")).status_code == 200
    assert len(dc.messages(CHANNEL_ID)) == 100 and dc.rate_limited == []


async def test_discord_channel_bucket(
    dc: DiscordFake, http: httpx.AsyncClient, clock: Clock
) -> None:
    dc.rate_limits = discord_fake.RateLimits()
    remaining = []
    for n in range(5):
        answer = await post(http, dc, CHANNEL_ID, f"m{n}")
        assert answer.status_code == 200
        assert answer.headers["X-RateLimit-Limit"] == "5"
        assert float(answer.headers["X-RateLimit-Reset-After"]) == pytest.approx(5 - n * 0.5)
        remaining.append(answer.headers["X-RateLimit-Remaining"])
        clock.now += 0.5
    assert remaining == ["4", "3", "2", "1", "0"]

    sixth = await post(http, dc, CHANNEL_ID, "m5")  # 2.5 s after the first
    assert sixth.status_code == 429
    assert sixth.json() == {
        "message": "You are being rate limited.",
        "retry_after": 2.5,
        "global": False,
    }
    headers = sixth.headers
    assert headers["Content-Type"] == "application/json"
    assert (headers["Retry-After"], headers["X-RateLimit-Limit"]) == ("3", "5")
    assert headers["X-RateLimit-Remaining"] == "0"
    assert float(headers["X-RateLimit-Reset-After"]) == pytest.approx(2.5)
    assert float(headers["X-RateLimit-Reset"]) == pytest.approx(START + 5)
    assert headers["X-RateLimit-Scope"] == "user" and "X-RateLimit-Global" not in headers
    assert headers["X-RateLimit-Bucket"] and headers["Via"]
    assert len(dc.messages(CHANNEL_ID)) == 5 and dc.rate_limited == [dc.calls[-1]]

    # Another channel has its own bucket; other routes are not limited.
    other = await post(http, dc, OTHER_CHANNEL_ID, "elsewhere")
    assert (other.status_code, other.headers["X-RateLimit-Remaining"]) == (200, "4")
    message_id = dc.messages(CHANNEL_ID)[0]["id"]
    edit = await http.patch(
        f"{dc.api_url}/channels/{CHANNEL_ID}/messages/{message_id}",
        json={"content": "edited"},
        headers={"Authorization": f"Bot {dc.token}"},
    )
    assert edit.status_code == 200 and edit.headers["X-RateLimit-Limit"] == "50"

    clock.now = START + 5  # the window ends: all five slots are free again
    again = await post(http, dc, CHANNEL_ID, "m5")
    assert (again.status_code, again.headers["X-RateLimit-Remaining"]) == (200, "4")
    assert len(dc.rate_limited) == 1


async def test_discord_refused_message_frees_its_slot(
    dc: DiscordFake, http: httpx.AsyncClient
) -> None:
    dc.rate_limits = discord_fake.RateLimits(messages_per_channel=1)
    assert (await post(http, dc, CHANNEL_ID, "x" * 2001)).status_code == 400
    assert (await post(http, dc, CHANNEL_ID, "ok")).status_code == 200
    assert (await post(http, dc, CHANNEL_ID, "too many")).status_code == 429


@pytest.fixture
def discord_on_fake(dc: DiscordFake) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(discord.http.Route, "BASE", dc.api_url)
        yield


async def test_discord_py_paces_itself_from_the_headers(
    dc: DiscordFake, discord_on_fake: None
) -> None:
    # The real clock and a short window: discord.py really sleeps until the reset.
    dc.clock = time.time
    dc.rate_limits = discord_fake.RateLimits(per_seconds=0.5)
    client = discord.http.HTTPClient(asyncio.get_running_loop())
    try:
        await client.static_login(dc.token)
        for n in range(12):
            with discord.http.handle_message_parameters(content=f"m{n}") as params:
                await client.send_message(CHANNEL_ID, params=params)
    finally:
        await client.close()
    assert len(dc.messages(CHANNEL_ID)) == 12
    assert dc.rate_limited == []  # the headers told it when to wait: no 429 provoked
