"""The upload service end to end: real SQLite, the real client over 127.0.0.1, the
Chevereto emulator as the host."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest
from pydantic import SecretStr

from core.chevereto.models import DeleteOutcome, UploadOptions, UploadSource
from core.db.tables import JobStatus, Upload
from core.errors import (
    BadKey,
    DuplicateUpload,
    EmptyFile,
    HostUnavailable,
    LostAnswer,
    MissingKey,
    NotFound,
    PermissionDenied,
    TooBig,
)
from core.expiry import parse_expiry
from core.refs import ChatId, ChatRef, Platform, UploadId, UserId, UserRef
from core.remembered import REMEMBER_S
from core.runtime import Core, open_core
from core.service.pool import WorkerPool
from core.service.types import JobOutcome, MediaInput, UploadRequest
from core.service.uploads import ShuttingDown
from tests.db import make_settings
from tests.fakes.chevereto import USER_KEY, CheveretoEmulator, Fault
from tests.fakes.media import png_bytes
from tests.retry import FAST_RETRY

ALICE = UserRef(Platform.TELEGRAM, UserId("1"))
BOB = UserRef(Platform.TELEGRAM, UserId("2"))
GROUP = ChatRef(Platform.TELEGRAM, ChatId("-100"))
OTHER_GROUP = ChatRef(Platform.TELEGRAM, ChatId("-200"))
BOB_KEY = "chv_2_bobkeyBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
CHAT_KEY = "chv_3_chatkeyCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"
OPERATOR_KEY = "chv_4_operatorkeyDDDDDDDDDDDDDDDDDDDDDDDDD"

OpenCore = Callable[..., AbstractAsyncContextManager[Core]]


@pytest.fixture
async def host() -> AsyncIterator[CheveretoEmulator]:
    keys = (USER_KEY, BOB_KEY, CHAT_KEY, OPERATOR_KEY)
    async with CheveretoEmulator(user_keys=keys) as emulator:
        yield emulator


@pytest.fixture
def open_app(host: CheveretoEmulator, tmp_path: Path) -> OpenCore:
    """Opens core on one data dir; opening it again is a restart."""

    def opener(**overrides: object) -> AbstractAsyncContextManager[Core]:
        settings = make_settings(tmp_path / "data", api_url=host.api_url, **overrides)
        return open_core(settings, retry=FAST_RETRY)

    return opener


@pytest.fixture
async def app(open_app: OpenCore) -> AsyncIterator[Core]:
    async with open_app() as core:
        await core.service.keys.set_user_key(ALICE, USER_KEY)
        yield core


def png_input(seed: int, *, known_md5: bool = True) -> MediaInput:
    data = png_bytes(seed=seed)
    source = UploadSource.from_bytes(data, f"cat-{seed}.png", "image/png")
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest() if known_md5 else None
    return MediaInput(ref=f"test:{seed}", source=source, content_md5=md5)


class Delivered(list[JobOutcome]):
    """A front-end's delivery for ``resume``: keeps each outcome, in order."""

    async def __call__(self, outcome: JobOutcome) -> None:
        self.append(outcome)


def uploads_seen(host: CheveretoEmulator) -> list[str]:
    """The key of every upload request the host received, in order."""
    return [r.headers.get("x-api-key", "") for r in host.requests if r.path == "/api/1/upload"]


async def test_upload_returns_links_and_records_the_job(app: Core, host: CheveretoEmulator) -> None:
    options = UploadOptions(title="Кот", tags=("cats", "милота"))
    view = await app.service.upload(
        UploadRequest(user=ALICE, media=png_input(1), chat=GROUP, options=options)
    )

    assert view.url_viewer and view.url and view.thumb_url
    assert view.title == "Кот"
    assert not view.repeated
    assert uploads_seen(host) == [USER_KEY]
    row = await app.repo.find_upload(view.upload_id)
    assert row is not None
    assert (row.status, row.attempts, row.chat_id) == (JobStatus.DONE, 1, "-100")
    assert view.job_id == view.upload_id
    assert row.answered_at is None  # its answer is due until the front-end says it went out
    await app.service.answered([view.upload_id])
    answered = await app.repo.find_upload(view.upload_id)
    assert answered is not None and answered.answered_at is not None
    assert answered.lease_owner is None
    assert await app.service.history(ALICE) == [view]
    assert await app.service.upload_count(ALICE) == 1


async def test_key_order_user_then_chat_then_operator(
    open_app: OpenCore, host: CheveretoEmulator
) -> None:
    async with open_app(api_key=SecretStr(OPERATOR_KEY)) as core:
        await core.service.keys.set_user_key(BOB, BOB_KEY)
        await core.service.keys.set_chat_key(GROUP, CHAT_KEY, BOB)

        await core.service.upload(UploadRequest(user=BOB, media=png_input(2), chat=GROUP))
        await core.service.upload(UploadRequest(user=ALICE, media=png_input(3), chat=GROUP))
        await core.service.upload(UploadRequest(user=ALICE, media=png_input(4)))
        given = SecretStr(" " + BOB_KEY + "\n")
        await core.service.upload(UploadRequest(user=ALICE, media=png_input(5), api_key=given))

    assert uploads_seen(host) == [BOB_KEY, CHAT_KEY, OPERATOR_KEY, BOB_KEY]


async def test_no_key_anywhere_is_a_clear_error_and_nothing_is_recorded(
    app: Core, host: CheveretoEmulator
) -> None:
    with pytest.raises(MissingKey, match="set your own picloud API key"):
        await app.service.upload(UploadRequest(user=BOB, media=png_input(6)))
    assert host.requests == []
    assert await app.repo.unfinished_jobs(Platform.TELEGRAM) == []


async def test_repeat_with_known_hash_is_answered_from_records(
    app: Core, host: CheveretoEmulator
) -> None:
    first = await app.service.upload(UploadRequest(user=ALICE, media=png_input(7)))
    again = await app.service.upload(UploadRequest(user=ALICE, media=png_input(7)))

    assert again.repeated
    assert (again.upload_id, again.url_viewer) == (first.upload_id, first.url_viewer)
    assert len(uploads_seen(host)) == 1


async def test_repeat_of_a_stream_is_answered_from_records_after_the_hosts_refusal(
    app: Core, host: CheveretoEmulator
) -> None:
    first = await app.service.upload(UploadRequest(user=ALICE, media=png_input(8)))
    again = await app.service.upload(UploadRequest(user=ALICE, media=png_input(8, known_md5=False)))

    assert again.repeated
    assert again.upload_id == first.upload_id
    assert len(uploads_seen(host)) == 2  # the host said "Duplicated upload" the second time
    assert await app.service.history(ALICE) == [first]


async def test_duplicate_not_in_our_records_says_so_plainly(
    app: Core, host: CheveretoEmulator
) -> None:
    await app.service.keys.set_user_key(BOB, BOB_KEY)
    await app.service.upload(UploadRequest(user=ALICE, media=png_input(9)))

    with pytest.raises(DuplicateUpload, match="not from your key"):
        await app.service.upload(UploadRequest(user=BOB, media=png_input(9)))


async def test_deleted_upload_is_not_a_repeat(app: Core, host: CheveretoEmulator) -> None:
    first = await app.service.upload(UploadRequest(user=ALICE, media=png_input(10)))
    assert await app.service.delete(first.upload_id, ALICE) is DeleteOutcome.DELETED

    again = await app.service.upload(UploadRequest(user=ALICE, media=png_input(10)))

    assert not again.repeated
    assert again.upload_id != first.upload_id


async def test_too_big_and_empty_are_refused_before_any_work(
    open_app: OpenCore, host: CheveretoEmulator
) -> None:
    async with open_app(max_upload_mb=1) as core:
        await core.service.keys.set_user_key(ALICE, USER_KEY)
        big = UploadSource.from_bytes(b"\x89PNG" + bytes(1024 * 1024), "big.png", "image/png")
        with pytest.raises(TooBig, match="larger than 1 MB") as caught:
            await core.service.upload(UploadRequest(user=ALICE, media=MediaInput("t:1", big)))
        assert caught.value.max_mb == 1
        empty = UploadSource.from_bytes(b"", "empty.png", "image/png")
        with pytest.raises(EmptyFile):
            await core.service.upload(UploadRequest(user=ALICE, media=MediaInput("t:2", empty)))
        assert await core.repo.unfinished_jobs(Platform.TELEGRAM) == []
    assert host.requests == []


async def test_hosts_refusal_is_recorded_with_its_kind(app: Core, host: CheveretoEmulator) -> None:
    await app.service.keys.set_user_key(BOB, "chv_5_revokedkeyEEEEEEEEEEEEEEEEEEEEEEEEE")

    with pytest.raises(BadKey) as caught:
        await app.service.upload(UploadRequest(user=BOB, media=png_input(11)))

    assert await _job_states(app) == [("failed", "bad_key", False)]
    assert caught.value.job_id is not None  # the front-end says when its answer went out
    assert await app.service.history(BOB) == []


async def test_job_is_recorded_before_the_host_answers(app: Core, host: CheveretoEmulator) -> None:
    host.delay_s = 0.5
    host.fail_next(Fault.DELAY)
    upload = asyncio.create_task(app.service.upload(UploadRequest(user=ALICE, media=png_input(12))))
    await asyncio.sleep(0.2)

    (running,) = await app.repo.unfinished_jobs(Platform.TELEGRAM)
    assert running.status == JobStatus.RUNNING
    view = await upload
    assert view.upload_id == running.public_id


async def test_preferences_fill_in_expiry_nsfw_and_album(
    app: Core, host: CheveretoEmulator
) -> None:
    await app.repo.update_prefs(ALICE, default_expiry="P1D", nsfw=True, album_id="AlB")
    await app.service.upload(UploadRequest(user=ALICE, media=png_input(13)))
    explicit = UploadOptions(expiration=parse_expiry("10m"))
    await app.service.upload(UploadRequest(user=ALICE, media=png_input(14), options=explicit))

    first, second = (r.fields for r in host.requests if r.path == "/api/1/upload")
    assert (first["expiration"], first["nsfw"], first["album_id"]) == ("P1D", "1", "AlB")
    assert second["expiration"] == "PT10M"


async def test_delete_permissions_and_outcomes(app: Core, host: CheveretoEmulator) -> None:
    view = await app.service.upload(UploadRequest(user=ALICE, media=png_input(15), chat=GROUP))

    with pytest.raises(PermissionDenied):
        await app.service.delete(view.upload_id, BOB)
    with pytest.raises(PermissionDenied):
        await app.service.delete(view.upload_id, BOB, admin_of=OTHER_GROUP)
    with pytest.raises(NotFound):
        await app.service.delete(UploadId("forged-id"), ALICE)
    with pytest.raises(NotFound):
        await app.service.delete(view.upload_id, UserRef(Platform.DISCORD, UserId("1")))

    assert await app.service.delete(view.upload_id, BOB, admin_of=GROUP) is DeleteOutcome.DELETED
    assert await app.service.delete(view.upload_id, ALICE) is DeleteOutcome.ALREADY_GONE
    assert [u.deleted for u in host.uploads.values()] == [True]
    deletes = [r for r in host.requests if "/delete/" in r.path]
    assert len(deletes) == 1  # the second press never reached the host
    assert await app.service.history(ALICE) == []


async def test_delete_when_the_host_is_down_keeps_the_upload(
    app: Core, host: CheveretoEmulator
) -> None:
    view = await app.service.upload(UploadRequest(user=ALICE, media=png_input(16)))
    await host.stop()

    assert await app.service.delete(view.upload_id, ALICE) is DeleteOutcome.FAILED
    assert await app.service.history(ALICE) == [view]


def stalling_input(seed: int, gate: asyncio.Event) -> MediaInput:
    """Media whose body stops part-way until ``gate`` is set: a crash mid-upload."""
    data = png_bytes(seed=seed)

    async def chunks() -> AsyncIterator[bytes]:
        yield data[:64]
        await gate.wait()
        yield data[64:]

    source = UploadSource.from_stream(chunks, size=len(data), filename=f"s-{seed}.png")
    return MediaInput(ref=f"test:{seed}", source=source)


async def reopen_test_media(rest: str) -> UploadSource:
    return UploadSource.from_bytes(png_bytes(seed=int(rest)), f"s-{rest}.png", "image/png")


async def test_restart_finishes_a_cut_off_job_and_answers_once(
    open_app: OpenCore, host: CheveretoEmulator
) -> None:
    async with open_app() as core:
        await core.service.keys.set_user_key(ALICE, USER_KEY)
        media = stalling_input(17, asyncio.Event())
        request = UploadRequest(user=ALICE, media=media, reply_target="msg-1")
        cut_off = asyncio.create_task(core.service.upload(request))
        await asyncio.sleep(0.3)
        # Leaving the block is the crash: work in flight is cancelled, its record stays.
    with pytest.raises(asyncio.CancelledError):
        await cut_off
    assert host.uploads == {}

    delivered = Delivered()

    async with open_app() as core:
        core.service.register_opener("test", reopen_test_media)
        assert await core.service.resume(Platform.TELEGRAM, delivered) == 1
        await _settle(core)
        assert await core.service.resume(Platform.TELEGRAM, delivered) == 0

    (outcome,) = delivered
    assert outcome.error is None
    assert outcome.result is not None
    assert outcome.result.url_viewer
    assert (outcome.user, outcome.reply_target) == (ALICE, "msg-1")
    assert len(host.uploads) == 1


async def test_a_shell_upload_cut_off_is_recorded_as_cancelled(
    open_app: OpenCore, host: CheveretoEmulator
) -> None:
    shell_user = UserRef(Platform.CLI, UserId("alice"))
    async with open_app() as core:
        media = stalling_input(18, asyncio.Event())
        request = UploadRequest(
            user=shell_user, media=media, api_key=SecretStr(USER_KEY), origin="shell:1"
        )
        cut_off = asyncio.create_task(core.service.upload(request))
        await asyncio.sleep(0.3)
        # Leaving the block is Ctrl-C: the shell will not come back for this upload.
    with pytest.raises(asyncio.CancelledError):
        await cut_off

    async with open_app() as core:
        row = await core.repo.find_origin(Platform.CLI, "shell:1")
        unfinished = await core.repo.unfinished_jobs(Platform.CLI)
    assert row is not None and (row.status, row.last_error) == (JobStatus.FAILED, "cancelled")
    assert unfinished == []
    assert host.uploads == {}


async def test_restart_after_the_hosts_answer_was_lost_says_so(
    open_app: OpenCore, host: CheveretoEmulator
) -> None:
    host.delay_s = 1.0  # the host stores the file; its answer comes after the crash
    host.fail_next(Fault.DELAY)
    async with open_app() as core:
        await core.service.keys.set_user_key(ALICE, USER_KEY)
        request = UploadRequest(user=ALICE, media=png_input(21, known_md5=False))
        cut_off = asyncio.create_task(core.service.upload(request))
        await asyncio.sleep(0.3)
    with pytest.raises(asyncio.CancelledError):
        await cut_off

    delivered = Delivered()

    async with open_app() as core:
        core.service.register_opener("test", reopen_test_media)
        await core.service.resume(Platform.TELEGRAM, delivered)
        await _settle(core)

    (outcome,) = delivered
    assert isinstance(outcome.error, LostAnswer)
    assert "never reached us" in outcome.error.message
    row = await _only_job(open_app)
    # The orphan is on record: which job, when, and the md5 of the copy the host holds.
    md5 = hashlib.md5(png_bytes(seed=21), usedforsecurity=False).hexdigest()
    assert (row.last_error, row.content_md5) == ("lost_answer", md5)
    assert row.answered_at is not None


async def test_restart_answers_a_finished_but_unanswered_job(
    open_app: OpenCore, host: CheveretoEmulator
) -> None:
    async with open_app() as core:
        await core.service.keys.set_user_key(ALICE, USER_KEY)
        # Finished, and the process stops before the answer went out (never confirmed).
        view = await core.service.upload(UploadRequest(user=ALICE, media=png_input(18)))

    delivered = Delivered()

    async with open_app() as core:
        assert await core.service.resume(Platform.TELEGRAM, delivered) == 1
        await _settle(core)
    assert [o.result.upload_id if o.result else None for o in delivered] == [view.upload_id]
    assert len(uploads_seen(host)) == 1


async def test_restart_with_the_media_gone_answers_with_an_error(
    open_app: OpenCore, host: CheveretoEmulator, tmp_path: Path
) -> None:
    photo = tmp_path / "gone.png"
    photo.write_bytes(png_bytes(seed=19))
    host.delay_s = 1.0
    host.fail_next(Fault.DELAY)
    async with open_app() as core:
        await core.service.keys.set_user_key(ALICE, USER_KEY)
        request = UploadRequest(user=ALICE, media=await MediaInput.from_path(photo))
        cut_off = asyncio.create_task(core.service.upload(request))
        await asyncio.sleep(0.3)
    with pytest.raises(asyncio.CancelledError):
        await cut_off
    photo.unlink()

    delivered = Delivered()

    async with open_app() as core:
        await core.service.resume(Platform.TELEGRAM, delivered)
        await _settle(core)
        assert await core.repo.unfinished_jobs(Platform.TELEGRAM) == []

    (outcome,) = delivered
    assert isinstance(outcome.error, NotFound)


async def test_an_upload_recording_its_job_as_the_service_closes_waits_for_the_next_start(
    open_app: OpenCore, host: CheveretoEmulator, tmp_path: Path
) -> None:
    photo = tmp_path / "late.png"
    photo.write_bytes(png_bytes(seed=31))
    async with open_app() as core:
        await core.service.keys.set_user_key(ALICE, USER_KEY)
        request = UploadRequest(user=ALICE, media=await MediaInput.from_path(photo))
        late = asyncio.create_task(core.service.upload(request))
        await asyncio.sleep(0)  # it starts, and reads the user's settings as the core closes
    with pytest.raises(ShuttingDown):
        await late  # not sent on the closed connections
    assert uploads_seen(host) == []

    delivered = Delivered()

    async with open_app() as core:
        assert await core.service.resume(Platform.TELEGRAM, delivered) == 1
        await _settle(core)
    (outcome,) = delivered
    assert outcome.result is not None and len(uploads_seen(host)) == 1


async def test_host_down_fails_the_job_with_host_down(app: Core, host: CheveretoEmulator) -> None:
    host.fail_next(Fault.MAINTENANCE_503, times=5)

    with pytest.raises(HostUnavailable) as caught:
        await app.service.upload(UploadRequest(user=ALICE, media=png_input(20)))
    assert await _job_states(app) == [("failed", "host_down", False)]

    assert caught.value.job_id is not None
    await app.service.answered([caught.value.job_id])
    assert await _job_states(app) == [("failed", "host_down", True)]


async def test_worker_pool_limits_per_owner_and_in_total() -> None:
    pool = WorkerPool(total=3, per_owner=2)
    running: dict[str, int] = {"a": 0, "b": 0, "c": 0}
    peaks = {"a": 0, "total": 0}

    async def work(owner: str) -> None:
        async with pool.slot(owner):
            running[owner] += 1
            peaks["a"] = max(peaks["a"], running["a"])
            peaks["total"] = max(peaks["total"], sum(running.values()))
            await asyncio.sleep(0.01)
            running[owner] -= 1

    await asyncio.gather(*(work(owner) for owner in "aaaaaabbbccc"))

    assert peaks == {"a": 2, "total": 3}


async def _settle(core: Core) -> None:
    """Wait for the background work resume() started."""
    for _ in range(200):
        if not await core.repo.unfinished_jobs(Platform.TELEGRAM) and not (
            await core.repo.unanswered_jobs(Platform.TELEGRAM)
        ):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("resumed jobs did not finish")


async def _job_states(core: Core) -> list[tuple[str, str | None, bool]]:
    """(status, last error, answered) of every job, oldest first."""
    from sqlalchemy import select

    async with core.repo._engine.connect() as connection:
        rows = await connection.execute(
            select(Upload.status, Upload.last_error, Upload.answered_at).order_by(Upload.id)  # type: ignore[arg-type]
        )
        return [(status, error, answered is not None) for status, error, answered in rows]


async def _only_job(open_app: OpenCore) -> Upload:
    async with open_app() as core:
        (row,) = await _all_jobs(core)
        return row


async def _all_jobs(core: Core) -> list[Upload]:
    from sqlmodel import select
    from sqlmodel.ext.asyncio.session import AsyncSession

    async with AsyncSession(core.repo._engine) as session:
        return list((await session.exec(select(Upload))).all())


async def test_an_answer_never_confirmed_is_delivered_once_the_lease_runs_out(
    open_app: OpenCore, host: CheveretoEmulator
) -> None:
    delivered = Delivered()

    async with open_app(job_lease_s=1) as core:
        await core.service.keys.set_user_key(ALICE, USER_KEY)
        assert await core.service.resume(Platform.TELEGRAM, delivered) == 0
        # The caller got its result but never said the answer went out (it was stuck).
        view = await core.service.upload(UploadRequest(user=ALICE, media=png_input(40)))
        assert delivered == []
        await _settle(core)

    (outcome,) = delivered
    assert outcome.result is not None and outcome.result.upload_id == view.upload_id
    assert len(uploads_seen(host)) == 1


async def test_a_failed_delivery_is_tried_again_until_it_goes_out(
    open_app: OpenCore, host: CheveretoEmulator
) -> None:
    tries: list[JobOutcome] = []

    async def deliver(outcome: JobOutcome) -> None:
        tries.append(outcome)
        if len(tries) == 1:
            raise ConnectionResetError("the platform hung up")

    async with open_app(job_lease_s=1) as core:
        await core.service.keys.set_user_key(ALICE, USER_KEY)
        view = await core.service.upload(UploadRequest(user=ALICE, media=png_input(41)))
        await core.service.resume(Platform.TELEGRAM, deliver)
        await _settle(core)

    assert [t.result.upload_id for t in tries if t.result] == [view.upload_id] * 2


async def test_a_job_waiting_for_a_place_is_already_recorded(
    open_app: OpenCore, host: CheveretoEmulator
) -> None:
    host.delay_s = 0.5
    host.fail_next(Fault.DELAY)
    async with open_app(workers_per_user=1) as core:
        await core.service.keys.set_user_key(ALICE, USER_KEY)
        first = asyncio.create_task(
            core.service.upload(UploadRequest(user=ALICE, media=png_input(30)))
        )
        await asyncio.sleep(0.1)
        second = asyncio.create_task(
            core.service.upload(UploadRequest(user=ALICE, media=png_input(31)))
        )
        await asyncio.sleep(0.1)

        states = await _job_states(core)
        assert [status for status, _error, _answered in states] == ["running", "accepted"]
        await asyncio.gather(first, second)
        assert [s for s, _e, _a in await _job_states(core)] == ["done", "done"]


async def test_a_stuck_instance_loses_its_job_to_a_live_one_once_its_lease_runs_out(
    open_app: OpenCore, host: CheveretoEmulator
) -> None:
    delivered = Delivered()

    # Two instances on one database; the first stays alive but stops renewing its lease
    # (it never serves a platform, so nothing renews what it holds), as a hung one would.
    async with open_app(job_lease_s=1) as stuck, open_app(job_lease_s=1) as live:
        await stuck.service.keys.set_user_key(ALICE, USER_KEY)
        live.service.register_opener("test", reopen_test_media)
        media = stalling_input(43, asyncio.Event())
        hung = asyncio.create_task(
            stuck.service.upload(UploadRequest(user=ALICE, media=media, reply_target="msg-43"))
        )
        await asyncio.sleep(0.3)
        assert await live.service.resume(Platform.TELEGRAM, delivered) == 0  # still leased
        for _ in range(100):
            if delivered:
                break
            await asyncio.sleep(0.1)
        hung.cancel()

    (outcome,) = delivered
    assert outcome.result is not None and outcome.result.url_viewer
    assert outcome.reply_target == "msg-43"
    assert len(host.uploads) == 1


async def test_a_change_through_one_instance_is_seen_by_another_within_seconds(
    open_app: OpenCore,
) -> None:
    group = ChatRef(Platform.TELEGRAM, ChatId("-100900"))
    async with open_app() as one, open_app() as other:
        assert await other.profiles.mirrors(group) is False  # now remembered there
        assert (await other.repo.upload_context(BOB, None)).user_key is None

        await one.profiles.set_mirroring(group, True, ALICE)
        await one.service.keys.set_user_key(BOB, BOB_KEY)
        assert await one.profiles.mirrors(group) is True  # where it was made: at once

        # The other instance reads it again once what it remembered runs out.
        deadline = time.monotonic() + REMEMBER_S + 5
        while not (
            await other.profiles.mirrors(group)
            and (await other.repo.upload_context(BOB, None)).user_key is not None
        ):
            assert time.monotonic() < deadline, "the other instance never saw the change"
            await asyncio.sleep(0.5)
