"""``picloud-bots run`` as an operator starts it: both bots in one process, from the
environment only, stopped by SIGTERM, with no secret in what it prints."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.db import postgres_database, postgres_server
from tests.fakes.chevereto import USER_KEY, CheveretoEmulator
from tests.fakes.discord import OWNER_ID, DiscordFake
from tests.fakes.discord import TOKEN as DISCORD_TOKEN
from tests.fakes.media import png_bytes
from tests.fakes.server import free_port
from tests.fakes.telegram import TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram import TelegramFake

ROOT = Path(__file__).resolve().parent.parent
JSON = dict[str, Any]


async def a_photo_is_answered(
    telegram: TelegramFake, user_id: int, seed: int, timeout: float = 20
) -> JSON:
    """A user sends the bot a photo in a private chat; the bot's answer (its viewer
    link), once Telegram took it."""
    user = telegram.user(user_id, "Alice")
    sent = telegram.send_photo(telegram.private_chat(user), user, png_bytes(seed=seed))
    await telegram.wait_for(
        "sendMessage", where=lambda call: "Viewer" in str(call.params.get("text")), timeout=timeout
    )
    return sent


async def test_run_starts_both_bots_and_stops_cleanly(
    chevereto: CheveretoEmulator, tmp_path: Path
) -> None:
    async with TelegramFake() as telegram, DiscordFake() as discord:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "PICLOUD_DATA_DIR": str(tmp_path),
            "PICLOUD_API_URL": chevereto.api_url,
            "PICLOUD_API_KEY": USER_KEY,
            "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            "TELEGRAM_API_URL": telegram.api_url,
            "TELEGRAM_FILE_URL": telegram.file_url,
            "DISCORD_BOT_TOKEN": DISCORD_TOKEN,
            "DISCORD_API_URL": discord.api_url,
            "DISCORD_GATEWAY_URL": discord.gateway_url,
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bots",
            "run",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await telegram.wait_for("getUpdates", timeout=30)
            await discord.wait_for("PUT", r"/commands$", timeout=30)
            # The operator's guest key serves a user with none of their own.
            sent = await a_photo_is_answered(telegram, 1, seed=1, timeout=60)
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(process.communicate(), timeout=30)

    assert process.returncode == 0, err.decode()
    assert sent["message"]["message_id"]
    printed = (out + err).decode()
    for secret in (TELEGRAM_TOKEN, DISCORD_TOKEN, USER_KEY, TELEGRAM_TOKEN.split(":")[1]):
        assert secret not in printed
    assert len(chevereto.uploads) == 1


def _environment(tmp_path: Path, chevereto: CheveretoEmulator, **platform: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "PICLOUD_DATA_DIR": str(tmp_path),
        "PICLOUD_API_URL": chevereto.api_url,
        "PICLOUD_API_KEY": USER_KEY,
        **platform,
    }


async def _start(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots",
        "run",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _line_with(process: asyncio.subprocess.Process, text: str, timeout: float) -> str:
    """The first line of the process's output (stderr) that holds ``text``."""
    assert process.stderr is not None
    async with asyncio.timeout(timeout):
        while line := (await process.stderr.readline()).decode():
            if text in line:
                return line
    raise AssertionError(f"the bot ended without printing {text!r}")


async def test_a_refused_telegram_token_ends_the_start_with_one_line_and_no_token(
    chevereto: CheveretoEmulator, tmp_path: Path
) -> None:
    refused = "123456789:" + "R" * 35
    async with TelegramFake() as telegram:
        env = _environment(
            tmp_path,
            chevereto,
            TELEGRAM_BOT_TOKEN=refused,
            TELEGRAM_API_URL=telegram.api_url,
            TELEGRAM_FILE_URL=telegram.file_url,
        )
        process = await _start(env, tmp_path)
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)

    printed = (out + err).decode()
    assert process.returncode == 2, printed
    assert "Telegram refused TELEGRAM_BOT_TOKEN" in printed
    assert "Traceback" not in printed
    assert refused not in printed and refused.split(":")[1] not in printed


async def test_telegram_unreachable_at_start_is_waited_for_then_answered(
    chevereto: CheveretoEmulator, tmp_path: Path
) -> None:
    telegram = TelegramFake()
    await telegram.start()  # to learn its address; it is down when the bot starts
    port = int(telegram.base_url.rsplit(":", 1)[1])
    env = _environment(tmp_path, chevereto, **telegram.env())
    await telegram.stop()
    process = await _start(env, tmp_path)
    try:
        warned = await _line_with(process, "unreachable", timeout=30)
        await telegram.start(port=port)  # the network comes up
        await telegram.wait_for("getUpdates", timeout=60)
        await a_photo_is_answered(telegram, 1, seed=2, timeout=60)
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), timeout=30)
        await telegram.stop()

    printed = warned + (out + err).decode()
    assert process.returncode == 0, printed
    assert "Telegram's Bot API is unreachable" in warned
    assert printed.count("unreachable") == 1  # said once, however long it waited
    assert "Traceback" not in printed and TELEGRAM_TOKEN not in printed


async def test_discord_unreachable_at_start_is_waited_for_then_connected(
    chevereto: CheveretoEmulator, tmp_path: Path
) -> None:
    discord = DiscordFake()
    await discord.start()
    port = int(discord.base_url.rsplit(":", 1)[1])
    env = _environment(tmp_path, chevereto, **discord.env())
    await discord.stop()
    process = await _start(env, tmp_path)
    try:
        warned = await _line_with(process, "unreachable", timeout=30)
        await discord.start(port=port)
        await discord.wait_for("PUT", r"/commands$", timeout=60)
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), timeout=30)
        await discord.stop()

    printed = warned + (out + err).decode()
    assert process.returncode == 0, printed
    assert "Discord is unreachable" in warned
    assert printed.count("unreachable") == 1
    assert "Traceback" not in printed and DISCORD_TOKEN not in printed


@contextlib.asynccontextmanager
async def _forwarding(port: int, host: str, to_port: int) -> AsyncIterator[None]:
    """A TCP port that forwards to ``host:to_port`` while the block runs: a database
    server coming up; at the end, one going away (every connection is cut)."""
    writers: list[asyncio.StreamWriter] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(host, to_port)
        writers.extend((writer, upstream_writer))
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    server = await asyncio.start_server(connected, "127.0.0.1", port)
    async with server:
        try:
            yield
        finally:
            for writer in writers:
                writer.close()


async def test_a_database_that_never_answers_ends_the_start_after_a_bounded_wait(
    chevereto: CheveretoEmulator, tmp_path: Path
) -> None:
    nowhere = f"postgresql+asyncpg://postgres:hunter2@127.0.0.1:{free_port()}/picloud"
    async with TelegramFake() as telegram:
        env = _environment(
            tmp_path,
            chevereto,
            **telegram.env(),
            PICLOUD_DATABASE_URL=nowhere,
            PICLOUD_DATABASE_WAIT_S="2",
        )
        process = await _start(env, tmp_path)
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        asked_telegram = telegram.calls_to("getMe")

    printed = (out + err).decode()
    assert process.returncode == 2, printed
    assert printed.count("the database is unreachable") == 1
    assert "waiting for it up to 2 s" in printed
    assert printed.strip().splitlines()[-1].startswith("picloud-bots: error: cannot open")
    assert "Traceback" not in printed and "hunter2" not in printed
    assert asked_telegram == []  # the bot never started without its database


async def test_a_database_still_starting_is_waited_for(
    chevereto: CheveretoEmulator, tmp_path: Path
) -> None:
    server = postgres_server()
    async with postgres_database(server) as url, TelegramFake() as telegram:
        real = make_url(url)
        port = free_port()
        later = real.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
        env = _environment(tmp_path, chevereto, **telegram.env(), PICLOUD_DATABASE_URL=later)
        process = await _start(env, tmp_path)
        try:
            warned = await _line_with(process, "unreachable", timeout=30)
            async with _forwarding(port, real.host or "127.0.0.1", real.port or 5432):
                await _line_with(process, "telegram bot @", timeout=60)  # "... is up"
                process.send_signal(signal.SIGTERM)
                out, err = await asyncio.wait_for(process.communicate(), timeout=30)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()

    printed = warned + (out + err).decode()
    assert process.returncode == 0, printed
    assert "the database is unreachable" in warned and "up to 30 s" in warned
    assert printed.count("unreachable") == 1
    assert "Traceback" not in printed


async def test_a_stop_while_telegram_starts_up_is_calm(
    chevereto: CheveretoEmulator, tmp_path: Path
) -> None:
    async with TelegramFake() as telegram:
        # Held where polling starts: the application runs, the bot is not up yet.
        starting = telegram.hold("deleteWebhook")
        process = await _start(_environment(tmp_path, chevereto, **telegram.env()), tmp_path)
        try:
            await starting.wait_reached(timeout=30)
            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            starting.release()
            out, err = await asyncio.wait_for(process.communicate(), timeout=30)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()

    printed = (out + err).decode()
    assert process.returncode == 0, printed
    assert "Traceback" not in printed and "is up" not in printed


async def test_health_readiness_and_metrics_are_served_and_move_with_uploads(
    chevereto: CheveretoEmulator, tmp_path: Path
) -> None:
    listen = f"127.0.0.1:{free_port()}"
    async with TelegramFake() as telegram, httpx.AsyncClient() as http:
        env = _environment(tmp_path, chevereto, **telegram.env(), PICLOUD_HTTP_LISTEN=listen)
        process = await _start(env, tmp_path)
        try:
            await _line_with(process, "health and metrics on", timeout=60)
            before = (await http.get(f"http://{listen}/metrics")).text
            await a_photo_is_answered(telegram, 1, seed=3, timeout=60)
            health = await http.get(f"http://{listen}/healthz")
            ready = await http.get(f"http://{listen}/readyz")
            after = (await http.get(f"http://{listen}/metrics")).text
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.communicate(), timeout=30)

    done = 'picloud_uploads_total{platform="telegram",result="done"}'
    assert done not in before and f"{done} 1.0" in after
    assert 'picloud_upload_duration_seconds_count{platform="telegram"} 1.0' in after
    assert 'picloud_upload_size_bytes_count{platform="telegram"} 1.0' in after
    assert "picloud_jobs_waiting 0.0" in after and "picloud_jobs_running 0.0" in after
    assert health.status_code == 200
    assert (ready.status_code, ready.json()) == (200, {"database": True, "telegram": True})
    assert USER_KEY not in after and TELEGRAM_TOKEN not in after


async def test_not_ready_while_the_database_is_away_and_ready_again_when_it_is_back(
    chevereto: CheveretoEmulator, tmp_path: Path
) -> None:
    server = postgres_server()
    listen = f"http://127.0.0.1:{free_port()}"
    async with (
        postgres_database(server) as url,
        TelegramFake() as telegram,
        httpx.AsyncClient(timeout=20) as http,
    ):
        real, port = make_url(url), free_port()
        through = real.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
        env = _environment(
            tmp_path,
            chevereto,
            **telegram.env(),
            PICLOUD_DATABASE_URL=through,
            PICLOUD_HTTP_LISTEN=listen.removeprefix("http://"),
        )
        database = real.host or "127.0.0.1", real.port or 5432
        process = None
        try:
            async with _forwarding(port, *database):
                process = await _start(env, tmp_path)
                await _line_with(process, "telegram bot @", timeout=60)  # "... is up"
                ready = await http.get(f"{listen}/readyz")
            # The database went away, every connection to it cut.
            away = await http.get(f"{listen}/readyz")
            alive = await http.get(f"{listen}/healthz")
            async with _forwarding(port, *database):
                back = await _until_status(http, f"{listen}/readyz", 200, timeout=30)
                process.send_signal(signal.SIGTERM)
                out, err = await asyncio.wait_for(process.communicate(), timeout=30)
        finally:
            if process is not None and process.returncode is None:
                process.kill()
                await process.wait()

    assert (ready.status_code, ready.json()) == (200, {"database": True, "telegram": True})
    assert away.status_code == 503, away.text
    assert (away.status_code, away.json()) == (503, {"database": False, "telegram": True})
    assert alive.status_code == 200  # the process itself is fine: no restart wanted
    assert back.json() == {"database": True, "telegram": True}
    assert process.returncode == 0, (out + err).decode()


async def _until_status(
    http: httpx.AsyncClient, url: str, status: int, timeout: float
) -> httpx.Response:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (answer := await http.get(url)).status_code != status:
        if loop.time() >= deadline:
            raise TimeoutError(f"{url} still answers {answer.status_code} after {timeout} s")
        await asyncio.sleep(0.2)
    return answer


async def test_json_logs_name_the_upload_each_line_is_about(
    chevereto: CheveretoEmulator, tmp_path: Path
) -> None:
    async with TelegramFake() as telegram:
        env = _environment(
            tmp_path,
            chevereto,
            **telegram.env(),
            PICLOUD_LOG_FORMAT="json",
            PICLOUD_LOG_LEVEL="info",
        )
        process = await _start(env, tmp_path)
        try:
            await telegram.wait_for("getUpdates", timeout=60)
            await a_photo_is_answered(telegram, 7, seed=4, timeout=60)
            # A line about an update, not a job: the answer to a user who blocked the bot.
            telegram.blocked_chats.add(9)
            blocked = telegram.user(9, "Mallory")
            telegram.send_text(telegram.private_chat(blocked), blocked, "/help")
            await telegram.wait_for("sendMessage", where=lambda call: call.error_code == 403)
            await asyncio.sleep(0.5)  # the line is logged right after
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(process.communicate(), timeout=30)

    assert process.returncode == 0, err.decode()
    lines = [json.loads(line) for line in err.decode().splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    (uploaded,) = [line for line in lines if line["message"].startswith("uploaded ")]
    assert (uploaded["platform"], uploaded["chat"]) == ("telegram", "7")
    assert len(uploaded["job"]) >= 12
    (refused,) = [line for line in lines if "blocked the bot" in line["message"]]
    assert (refused["platform"], refused["chat"]) == ("telegram", "9")
    printed = (out + err).decode()
    assert TELEGRAM_TOKEN not in printed and USER_KEY not in printed


async def test_a_second_poller_gets_one_clear_line_and_the_bot_goes_on(
    chevereto: CheveretoEmulator, tmp_path: Path
) -> None:
    conflict = (
        "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running"
    )
    async with TelegramFake() as telegram:
        process = await _start(_environment(tmp_path, chevereto, **telegram.env()), tmp_path)
        try:
            await telegram.wait_for("getUpdates", timeout=60)
            telegram.fail_next("getUpdates", 409, conflict, times=4)  # another poller, a while
            warned = await _line_with(process, "409 Conflict", timeout=60)
            await a_photo_is_answered(telegram, 8, seed=5, timeout=60)
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(process.communicate(), timeout=30)

    printed = warned + (out + err).decode()
    assert process.returncode == 0, printed
    assert "webhook mode" in warned
    assert printed.count("409 Conflict") == 1  # said once, not once per try
    assert "Traceback" not in printed and TELEGRAM_TOKEN not in printed


@pytest.mark.parametrize(
    ("shards", "said"),
    [
        ({"DISCORD_SHARD_IDS": "0"}, "DISCORD_SHARD_IDS: needs DISCORD_SHARD_COUNT"),
        (
            {"DISCORD_SHARD_COUNT": "2", "DISCORD_SHARD_IDS": "1,2"},
            "DISCORD_SHARD_IDS: shards are numbered 0 to 1 with DISCORD_SHARD_COUNT=2",
        ),
        (
            {"DISCORD_SHARD_COUNT": "2", "DISCORD_SHARD_IDS": "first"},
            "DISCORD_SHARD_IDS: wants shard numbers separated by commas, such as 0,1",
        ),
        ({"DISCORD_SHARD_COUNT": "two"}, "DISCORD_SHARD_COUNT: Input should be a valid integer"),
        ({"DISCORD_SHARD_COUNT": "0"}, "DISCORD_SHARD_COUNT: Input should be greater than"),
    ],
    ids=[
        "ids without a count",
        "an id past the count",
        "ids not numbers",
        "count not a number",
        "no shards",
    ],
)
async def test_bad_shard_settings_end_the_start_with_one_line(
    chevereto: CheveretoEmulator, tmp_path: Path, shards: dict[str, str], said: str
) -> None:
    async with DiscordFake() as discord:
        process = await _start(
            _environment(tmp_path, chevereto, **discord.env(), **shards), tmp_path
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        asked_discord = list(discord.calls)

    printed = (out + err).decode()
    assert process.returncode == 2, printed
    (line,) = printed.strip().splitlines()
    assert line.startswith(f"picloud-bots: error: invalid configuration: {said}")
    assert asked_discord == []
    assert DISCORD_TOKEN not in printed


async def test_past_the_servers_one_shard_may_hold_the_bot_says_to_shard_and_then_shards(
    chevereto: CheveretoEmulator, tmp_path: Path
) -> None:
    async with DiscordFake() as discord:
        for guild_id in (1 << 22, 2 << 22):  # on shards 1 and 0 of 2
            discord.guild(guild_id, f"server {guild_id}", owner_id=OWNER_ID)
        discord.max_guilds_per_shard = 1
        env = _environment(tmp_path, chevereto, **discord.env())
        refused = await _start(env, tmp_path)
        out, err = await asyncio.wait_for(refused.communicate(), timeout=60)
        told = (out + err).decode()

        sharded = await _start({**env, "DISCORD_SHARD_COUNT": "2"}, tmp_path)
        try:
            up = await _line_with(sharded, "is up", timeout=60)
        finally:
            sharded.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(sharded.communicate(), timeout=30)
        shards = sorted(identify["shard"] for identify in discord.identifies[1:])

    assert refused.returncode == 2, told
    assert told.strip().splitlines()[-1] == (
        "picloud-bots: error: Discord requires sharding for this many servers: "
        "set DISCORD_SHARD_COUNT"
    )
    assert "Traceback" not in told and DISCORD_TOKEN not in told
    assert sharded.returncode == 0, (out + err).decode()
    assert "(shards 0, 1 of 2)" in up
    assert shards == [[0, 2], [1, 2]]
