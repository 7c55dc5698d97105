"""SIGKILL at each step of a Telegram upload, then a restart: one copy at the host
(counted by md5) and one answer.

A quick upload has no status message (its answer is its only message); a slow one
shows "Uploading…" and the restart edits that same message into the answer. Both
paths are killed at each step. The one window that ends with two answers is the
quick answer Telegram took just before the kill: a new message cannot be sent
idempotently, so the restart sends it again (never zero answers).

Each window is a hold in a fake: the bot's request stops there, the test proves it
got there (and what had already happened), kills the bot, and lets the request go
(or drops it), so a kill that missed its window fails the test instead of passing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bots.telegram.deps import chat_ref
from core.db.tables import InboxEvent, Upload
from core.refs import Platform, UserId, UserRef
from tests.fakes.chevereto import CheveretoEmulator, Fault, UploadStage
from tests.fakes.media import png_bytes
from tests.fakes.server import Hold
from tests.fakes.telegram import Call, TelegramFake
from tests.kills.conftest import STEP_TIMEOUT, BotProcesses, settled_messages, started

JSON = dict[str, Any]


def _uploading(call: Call) -> bool:
    return str(call.params.get("text", "")).startswith("Uploading")


def _final(call: Call) -> bool:
    return "Viewer" in str(call.params.get("text", ""))


@dataclass(frozen=True)
class Window:
    """Where the first process dies: ``arm`` sets the hold; ``landed`` checks, at the
    kill, what had and had not happened yet; ``proceed`` whether the held request
    goes on after the kill (True: it takes effect, its answer reaches nobody);
    ``slow`` whether the upload had been running long enough to show its status
    message (the kill waits until it is shown and noted); ``database_locked`` whether
    another program holds the database's write lock from before the update arrives
    until after the kill; ``link_lost`` when the host keeps a copy whose link nobody
    can know; ``answers`` how many answers the chat ends with."""

    name: str
    arm: Callable[[TelegramFake, CheveretoEmulator], Hold[Any]]
    landed: Callable[[TelegramFake, CheveretoEmulator, JSON], None]
    proceed: bool = True
    slow: bool = False
    database_locked: bool = False
    link_lost: bool = False
    answers: int = 1


def _nothing_kept(fake: TelegramFake, host: CheveretoEmulator, chat: JSON) -> None:
    # The update could not be kept, so Telegram was not told we have it: it will
    # deliver it again.
    assert fake.pending_updates != []
    assert fake.messages(chat["id"]) == []
    assert host.requests == []


def _no_upload(fake: TelegramFake, host: CheveretoEmulator, chat: JSON) -> None:
    # Telegram has forgotten the update (the next getUpdates confirmed it): only our
    # inbox and the job recorded still know it.
    assert fake.pending_updates == []
    assert host.requests == []


def _body_on_its_way(fake: TelegramFake, host: CheveretoEmulator, chat: JSON) -> None:
    assert fake.downloads, "the photo was being downloaded from Telegram"
    assert host.uploads == {}


def _stored_not_answered(fake: TelegramFake, host: CheveretoEmulator, chat: JSON) -> None:
    assert len(host.uploads) == 1
    assert not any("Viewer" in m["text"] for m in fake.messages(chat["id"]))


def _answer_shown(fake: TelegramFake, host: CheveretoEmulator, chat: JSON) -> None:
    (message,) = fake.messages(chat["id"])
    assert "Viewer" in message["text"]


def _slowed(
    hold: Callable[[TelegramFake, CheveretoEmulator], Hold[Any]],
) -> Callable[[TelegramFake, CheveretoEmulator], Hold[Any]]:
    """``hold``, on an upload the host answers slowly enough to show its status."""

    def arm(fake: TelegramFake, host: CheveretoEmulator) -> Hold[Any]:
        host.fail_next(Fault.DELAY)
        return hold(fake, host)

    return arm


QUICK = [
    Window(
        "update arrived, its sign of life on its way, not yet kept (database locked)",
        lambda fake, host: fake.hold("sendChatAction"),
        _nothing_kept,
        proceed=False,
        database_locked=True,
    ),
    Window(
        "job recorded, file not yet located (getFile on its way)",
        lambda fake, host: fake.hold("getFile"),
        _no_upload,
        proceed=False,
    ),
    Window(
        "file located, its answer never seen (getFile answered)",
        lambda fake, host: fake.hold_after("getFile"),
        _no_upload,
    ),
    Window(
        "body on its way to the host",
        lambda fake, host: host.hold_upload(UploadStage.RECEIVING),
        _body_on_its_way,
    ),
    Window(
        "host stored it, its answer unseen",
        lambda fake, host: host.hold_upload(UploadStage.STORED),
        _stored_not_answered,
        link_lost=True,
    ),
    Window(
        "answer on its way",
        lambda fake, host: fake.hold("sendMessage", where=_final),
        _stored_not_answered,
        proceed=False,
    ),
    Window(
        "answer delivered, Telegram's reply unseen: sent again",
        lambda fake, host: fake.hold_after("sendMessage", where=_final),
        _answer_shown,
        answers=2,
    ),
]
SLOW = [
    Window(
        "status shown, getFile on its way",
        lambda fake, host: fake.hold("getFile"),
        _no_upload,
        proceed=False,
        slow=True,
    ),
    Window(
        "status shown, body on its way to the host",
        lambda fake, host: host.hold_upload(UploadStage.RECEIVING),
        _body_on_its_way,
        slow=True,
    ),
    Window(
        "status shown, host stored it, its answer unseen",
        lambda fake, host: host.hold_upload(UploadStage.STORED),
        _stored_not_answered,
        slow=True,
        link_lost=True,
    ),
    Window(
        "status shown, answer (its edit) on its way",
        _slowed(lambda fake, host: fake.hold("editMessageText", where=_final)),
        _stored_not_answered,
        proceed=False,
        slow=True,
    ),
    Window(
        "status shown, answer delivered, Telegram's reply unseen",
        _slowed(lambda fake, host: fake.hold_after("editMessageText", where=_final)),
        _answer_shown,
        slow=True,
    ),
]
WINDOWS = QUICK + SLOW


@pytest.mark.parametrize("window", WINDOWS, ids=[w.name for w in WINDOWS])
async def test_killed_at_each_step_the_restart_answers_once(
    window: Window,
    bot_process: BotProcesses,
    telegram_fake: TelegramFake,
    picloud: CheveretoEmulator,
    alice: JSON,
) -> None:
    fake, chat = telegram_fake, telegram_fake.private_chat(alice)
    first = await bot_process.start_for(alice)
    hold = window.arm(fake, picloud)
    photo = png_bytes(width=40, height=30, seed=41)
    with _locked(bot_process) if window.database_locked else contextlib.nullcontext():
        fake.send_photo(chat, alice, photo)
        await hold.wait_reached(timeout=STEP_TIMEOUT)
        status = await _status_noted(bot_process, fake, chat) if window.slow else None
        window.landed(fake, picloud, chat)
        first.kill()
    hold.release(proceed=window.proceed)

    second = await started(bot_process())
    answers = await settled_messages(fake, chat)
    assert (await second.terminate(timeout=STEP_TIMEOUT))[0] == 0
    assert len(answers) == window.answers
    answer = answers[-1]
    if status is not None:
        assert answer["message_id"] == status  # the status message became the answer
    else:
        assert not any(_uploading(call) for call in fake.calls)  # quick: never a status
    copies = [u for u in picloud.uploads.values() if u.md5 == _md5(photo)]
    assert len(copies) == 1
    if window.link_lost:
        # The host never said where its copy is: the user is told so, truthfully.
        assert "earlier try" in answer["text"]
        assert picloud.base_url in answer["text"]
        (job,) = await _jobs(bot_process)
        assert (job.last_error, job.content_md5) == ("lost_answer", _md5(photo))
    else:
        assert copies[0].image["url_viewer"] in answer["text"]
    assert await _inbox_open(bot_process) == []


@contextlib.contextmanager
def _locked(bot_process: BotProcesses) -> Iterator[None]:
    """Another program holds the SQLite database's write lock."""
    locker = sqlite3.connect(bot_process.data_dir / "picloud-bots.db", isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        locker.close()


async def _status_noted(bot_process: BotProcesses, fake: TelegramFake, chat: JSON) -> int:
    """The status message's id, once it is shown and noted on its update."""
    (shown,) = await fake.wait_for("sendMessage", where=_uploading, timeout=STEP_TIMEOUT)
    for _ in range(int(STEP_TIMEOUT * 10)):
        async with bot_process.open_core() as core, AsyncSession(core.repo._engine) as session:
            noted = select(InboxEvent.note).where(InboxEvent.note != None)  # noqa: E711
            if (await session.exec(noted)).all() == [str(shown.result["message_id"])]:
                return int(shown.result["message_id"])
        await asyncio.sleep(0.1)
    raise AssertionError("the status message was never noted on its update")


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


async def _jobs(bot_process: BotProcesses) -> list[Upload]:
    async with bot_process.open_core() as core, AsyncSession(core.repo._engine) as session:
        return list((await session.exec(select(Upload))).all())


async def _inbox_open(bot_process: BotProcesses) -> list[str]:
    """Updates kept and never done: none once the restarted bot has handled them."""
    async with bot_process.open_core() as core, AsyncSession(core.repo._engine) as session:
        query = select(InboxEvent.event_key).where(InboxEvent.done_at == None)  # noqa: E711
        return list((await session.exec(query)).all())


@pytest.mark.parametrize(
    "where",
    ["uploading", "marking"],
    ids=["killed while the post uploads", "killed as its button goes on"],
)
async def test_a_channel_post_cut_off_by_a_kill_gets_its_button_after_the_restart(
    where: str,
    bot_process: BotProcesses,
    telegram_fake: TelegramFake,
    picloud: CheveretoEmulator,
    alice: JSON,
) -> None:
    fake = telegram_fake
    channel = fake.channel(-100_700, "Cats daily", username="catsdaily")
    fake.set_member(channel["id"], fake.bot_id, "administrator", can_edit_messages=True)
    await bot_process.store_user_key(alice["id"])
    async with bot_process.open_core() as core:  # as /mirror channel @catsdaily does
        await core.profiles.set_mirroring(chat_ref(channel["id"]), True, person(alice))
    first = await started(bot_process())
    hold: Hold[Any] = (
        picloud.hold_upload(UploadStage.RECEIVING)
        if where == "uploading"
        else fake.hold("editMessageReplyMarkup")
    )
    post = fake.post_photo(channel, png_bytes(width=30, height=20, seed=230))
    await hold.wait_reached(timeout=STEP_TIMEOUT)
    first.kill()
    hold.release(proceed=where == "uploading")  # a held edit never reached Telegram

    second = await started(bot_process())
    (marked,) = await fake.wait_for("editMessageReplyMarkup", timeout=STEP_TIMEOUT)
    await asyncio.sleep(1.0)  # a second edit would show by now
    assert (await second.terminate(timeout=STEP_TIMEOUT))[0] == 0

    (copy,) = picloud.uploads.values()  # one copy at the host
    assert marked.params["message_id"] == post["channel_post"]["message_id"]
    assert len(fake.calls_to("editMessageReplyMarkup")) == 1  # the held call never went
    (row,) = fake.message(channel["id"], marked.params["message_id"])["reply_markup"][
        "inline_keyboard"
    ]
    assert row == [{"text": "Open", "url": copy.image["url_viewer"]}]
    assert [c for c in fake.calls_to("sendMessage") if c.params["chat_id"] == channel["id"]] == []


def person(user: JSON) -> UserRef:
    return UserRef(Platform.TELEGRAM, UserId(str(user["id"])))
