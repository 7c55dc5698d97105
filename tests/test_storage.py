"""The storage suite: runs on SQLite always and on PostgreSQL when configured."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from core.chevereto.models import MediaType, UploadedMedia
from core.db.database import MIGRATIONS, create_engine, upgrade
from core.db.repository import NewJob, Repository
from core.db.tables import JobStatus, Upload
from core.errors import DatabaseUnavailable, SecretKeyError
from core.refs import ChatId, ChatRef, Platform, UploadId, UserId, UserRef
from core.runtime import load_secret_box
from core.secrets import SECRET_FILE_NAME, SecretBox
from core.service.leases import Lease
from tests.db import make_settings, postgres_database, postgres_server

USER = UserRef(Platform.TELEGRAM, UserId("1001"))
OTHER = UserRef(Platform.DISCORD, UserId("1001"))
CHAT = ChatRef(Platform.TELEGRAM, ChatId("-100500"))
API_KEY = "chv_7_storagetestkeyZZZZZZZZZZZZZZZZZZZ"
DELETE_URL = "http://127.0.0.1:9/image/AbC/delete/" + "d" * 48
LEASE = Lease("elsewhere/1:1:aaaa", 60)
"""An instance on another machine: alive as far as anyone here can tell."""


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def repo(engine: AsyncEngine) -> Repository:
    repository = Repository(engine, SecretBox(Fernet.generate_key()))
    await repository.verify_secret_box()
    return repository


async def new_job(repo: Repository, lease: Lease = LEASE, **overrides: object) -> Upload:
    row, created = await repo.create_job(a_job(**overrides), lease)
    assert created
    return row


def a_job(**overrides: object) -> NewJob:
    values: dict[str, object] = {
        "user": USER,
        "chat": CHAT,
        "source_ref": "file:/tmp/cat.png",
        "source_name": "cat.png",
        "source_size": 1234,
        "content_type": "image/png",
        "options": {"title": "Кот", "tags": ["cats"]},
        "reply_target": '{"chat": 1, "message": 2}',
        "key_fingerprint": "f" * 64,
        "content_md5": "a" * 32,
        **overrides,
    }
    return NewJob(**values)  # type: ignore[arg-type]


def media(**overrides: object) -> UploadedMedia:
    values: dict[str, object] = {
        "id_encoded": "AbC",
        "media_type": MediaType.IMAGE,
        "mime": "image/png",
        "size": 1234,
        "delete_url": SecretStr(DELETE_URL),
        "url_viewer": "http://127.0.0.1:9/image/cat.AbC",
        "url": "http://127.0.0.1:9/images/cat.png",
        "thumb_url": "http://127.0.0.1:9/images/cat.th.png",
        "title": "Кот",
        **overrides,
    }
    return UploadedMedia(**values)  # type: ignore[arg-type]


async def everything_stored(engine: AsyncEngine, database_url: str) -> bytes:
    """What an attacker holding the database would read: files on SQLite, rows on PG."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        await engine.dispose()  # let SQLite write back the WAL, then read every file
        path = Path(str(url.database))
        files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
        return b"".join(p.read_bytes() for p in files if p.exists())
    rows: list[str] = []
    async with engine.connect() as connection:
        for table in ("meta", "user_keys", "chat_settings", "user_prefs", "uploads"):
            result = await connection.execute(text(f"SELECT t::text FROM {table} t"))
            rows.extend(row[0] for row in result)
    return "\n".join(rows).encode()


async def test_migrations_apply_twice_without_change(engine: AsyncEngine) -> None:
    await upgrade(engine)
    async with engine.connect() as connection:
        version = (await connection.execute(text("SELECT version_num FROM alembic_version"))).one()
    assert version[0] == "0005"


async def test_instances_started_at_once_migrate_once() -> None:
    server = postgres_server()
    async with postgres_database(server) as url:
        engines = [create_engine(url) for _ in range(4)]
        try:
            await asyncio.gather(*(upgrade(engine) for engine in engines))
            async with engines[0].connect() as connection:
                versions = (await connection.execute(text("SELECT * FROM alembic_version"))).all()
        finally:
            for engine in engines:
                await engine.dispose()
    assert [tuple(row) for row in versions] == [("0005",)]


async def test_uploads_made_before_search_are_found_by_it(database_url: str) -> None:
    engine = create_engine(database_url)
    options = '{"title": "Sunset", "description": "At the Beach", "tags": ["sea", "orange"]}'
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_upgrade_to, "0003")
            await connection.execute(
                text(
                    "INSERT INTO uploads (public_id, platform, user_id, status, attempts, "
                    "source_ref, source_name, options_json, is_approved, created_at, "
                    "updated_at) VALUES ('old1', 'telegram', '1001', 'done', 1, 'x', "
                    "'IMG_0042.jpg', :options, true, :now, :now)"
                ),
                {"options": options, "now": datetime.now(UTC)},
            )
            await connection.commit()
        await upgrade(engine)
        async with engine.connect() as connection:
            found = (await connection.execute(text("SELECT search_text FROM uploads"))).scalar()
    finally:
        await engine.dispose()
    assert found == "sunset at the beach sea orange img_0042.jpg"


def _upgrade_to(connection: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def test_user_key_round_trip_per_platform(repo: Repository) -> None:
    await repo.set_user_key(USER, API_KEY)
    await repo.set_user_key(USER, API_KEY + "2")  # replaces, does not add a second row

    stored = await repo.get_user_key(USER)
    assert stored is not None and stored.get_secret_value() == API_KEY + "2"
    assert await repo.get_user_key(OTHER) is None
    assert await repo.delete_user_key(USER) is True
    assert await repo.delete_user_key(USER) is False
    assert await repo.get_user_key(USER) is None


async def test_chat_settings_mirroring_and_key(repo: Repository) -> None:
    assert await repo.get_chat_settings(CHAT) is None
    await repo.set_mirroring(CHAT, True, USER)
    await repo.set_chat_key(CHAT, API_KEY, USER)

    settings = await repo.get_chat_settings(CHAT)
    assert settings is not None and settings.mirror_enabled and settings.key_set_by == "1001"
    chat_key = await repo.get_chat_key(CHAT)
    assert chat_key is not None and chat_key.get_secret_value() == API_KEY

    await repo.set_chat_key(CHAT, None, USER)
    await repo.set_mirroring(CHAT, False, USER)
    assert await repo.get_chat_key(CHAT) is None
    settings = await repo.get_chat_settings(CHAT)
    assert settings is not None and not settings.mirror_enabled


async def test_preferences_default_then_update(repo: Repository) -> None:
    prefs = await repo.get_prefs(USER)
    assert (prefs.language, prefs.default_expiry, prefs.nsfw, prefs.album_id) == (
        None,
        None,
        False,
        None,
    )
    await repo.update_prefs(USER, language="ru", default_expiry="P1D", nsfw=True)
    prefs = await repo.get_prefs(USER)
    assert (prefs.language, prefs.default_expiry, prefs.nsfw) == ("ru", "P1D", True)
    with pytest.raises(ValueError, match="no preference"):
        await repo.update_prefs(USER, user_id="someone else")


async def test_job_lifecycle_and_repeat_lookup(repo: Repository) -> None:
    row = await new_job(repo)
    upload_id = UploadId(row.public_id)
    assert row.status == JobStatus.ACCEPTED
    assert [r.public_id for r in await repo.unfinished_jobs(Platform.TELEGRAM)] == [upload_id]

    await repo.start_attempt(upload_id)
    await repo.start_attempt(upload_id)
    done = await repo.complete_job(upload_id, media(), "b" * 32, LEASE)
    assert (done.status, done.attempts, done.remote_id) == (JobStatus.DONE, 2, "AbC")
    assert await repo.unfinished_jobs(Platform.TELEGRAM) == []
    assert [r.public_id for r in await repo.unanswered_jobs(Platform.TELEGRAM)] == [upload_id]

    await repo.mark_answered([upload_id])
    assert await repo.unanswered_jobs(Platform.TELEGRAM) == []
    now = datetime.now(UTC)
    found = await repo.find_repeat("b" * 32, "f" * 64, now)
    assert found is not None and found.public_id == upload_id
    assert await repo.find_repeat("b" * 32, "e" * 64, now) is None  # another key
    assert await repo.count_uploads(USER) == 1
    assert [r.public_id for r in await repo.recent_uploads(USER)] == [upload_id]


async def test_expired_upload_is_not_a_repeat(repo: Repository) -> None:
    row = await new_job(repo)
    soon = datetime.now(UTC) + timedelta(minutes=5)
    await repo.complete_job(UploadId(row.public_id), media(expires_at=soon), "c" * 32, LEASE)

    assert await repo.find_repeat("c" * 32, "f" * 64, datetime.now(UTC)) is not None
    assert await repo.find_repeat("c" * 32, "f" * 64, soon + timedelta(seconds=1)) is None


async def test_failed_and_deleted_jobs(repo: Repository) -> None:
    failed = await new_job(repo)
    await repo.fail_job(UploadId(failed.public_id), "host_down")
    deleted = await new_job(repo, content_md5="d" * 32)
    deleted_id = UploadId(deleted.public_id)
    await repo.complete_job(deleted_id, media(), None, LEASE)
    assert (await repo.get_delete_url(deleted_id)) is not None

    await repo.mark_deleted(deleted_id)

    row = await repo.find_upload(UploadId(failed.public_id))
    assert row is not None and (row.status, row.last_error) == (JobStatus.FAILED, "host_down")
    assert await repo.get_delete_url(deleted_id) is None
    assert await repo.find_repeat("d" * 32, "f" * 64, datetime.now(UTC)) is None
    assert await repo.recent_uploads(USER) == []


async def test_a_gallery_link_is_spent_once_by_any_instance(engine: AsyncEngine) -> None:
    box = SecretBox(Fernet.generate_key())
    one, other = Repository(engine, box), Repository(engine, box)  # two instances
    soon = datetime.now(UTC) + timedelta(minutes=10)
    opened = await asyncio.gather(
        *(repo.spend_gallery_link("nonce-a", soon) for repo in (one, other))
    )
    assert sorted(opened) == [False, True]  # at once: one of them opens it
    assert not await one.spend_gallery_link("nonce-a", soon)
    # Links past their expiry are forgotten as others are spent; they are refused by
    # their signed expiry before they get here.
    await one.spend_gallery_link("nonce-old", datetime.now(UTC) - timedelta(seconds=1))
    await other.spend_gallery_link("nonce-b", soon)
    async with engine.connect() as connection:
        kept = await connection.execute(text("SELECT nonce FROM gallery_links_spent"))
        assert sorted(kept.scalars()) == ["nonce-a", "nonce-b"]


async def test_no_key_or_delete_link_in_the_raw_database(
    repo: Repository, engine: AsyncEngine, database_url: str
) -> None:
    await repo.set_user_key(USER, API_KEY)
    await repo.set_chat_key(CHAT, API_KEY, USER)
    row = await new_job(repo)
    await repo.complete_job(UploadId(row.public_id), media(), None, LEASE)

    raw = await everything_stored(engine, database_url)

    assert b"http://127.0.0.1:9/images/cat.png" in raw  # the reading works...
    assert API_KEY.encode() not in raw  # ...and finds no secret
    assert b"chv_7_" not in raw
    assert DELETE_URL.encode() not in raw
    assert b"d" * 48 not in raw


async def test_wrong_secret_key_is_refused(engine: AsyncEngine) -> None:
    await Repository(engine, SecretBox(Fernet.generate_key())).verify_secret_box()

    with pytest.raises(SecretKeyError, match="not the one this database was written with"):
        await Repository(engine, SecretBox(Fernet.generate_key())).verify_secret_box()


async def test_secret_file_is_generated_private_once(engine: AsyncEngine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    box = await load_secret_box(settings, engine)
    await Repository(engine, box).verify_secret_box()
    secret_file = tmp_path / "data" / SECRET_FILE_NAME

    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    again = await load_secret_box(settings, engine)
    assert again.fingerprint("x") == box.fingerprint("x")


async def test_missing_secret_file_for_a_sealed_database_is_an_error(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "data")
    await Repository(engine, await load_secret_box(settings, engine)).verify_secret_box()
    (tmp_path / "data" / SECRET_FILE_NAME).unlink()

    with pytest.raises(SecretKeyError, match="would lose every stored key"):
        await load_secret_box(settings, engine)
    assert not (tmp_path / "data" / SECRET_FILE_NAME).exists()


@pytest.mark.parametrize("bad", ["not-a-key", "", "x" * 44])
async def test_corrupt_secret_key_is_refused(engine: AsyncEngine, tmp_path: Path, bad: str) -> None:
    (tmp_path / SECRET_FILE_NAME).write_text(bad)
    settings = make_settings(tmp_path)

    with pytest.raises(SecretKeyError, match="not a valid key"):
        await load_secret_box(settings, engine)
    with pytest.raises(SecretKeyError, match="PICLOUD_SECRET_KEY is not a valid key"):
        await load_secret_box(make_settings(tmp_path, secret_key=bad or "  x "), engine)


async def test_unreachable_postgres_is_a_clear_error() -> None:
    engine = create_engine("postgresql+asyncpg://nobody:hunter2@127.0.0.1:9/none")
    with pytest.raises(DatabaseUnavailable) as caught:
        await upgrade(engine)
    await engine.dispose()
    assert "cannot open the database" in str(caught.value)
    assert "hunter2" not in str(caught.value)


async def test_unopenable_sqlite_path_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DatabaseUnavailable, match=r"cannot open the database.*Not a directory"):
        create_engine(f"sqlite+aiosqlite:///{blocker}/inside/db.sqlite")


async def test_locked_sqlite_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    engine = create_engine(f"sqlite+aiosqlite:///{path}", busy_timeout_s=0.2)
    try:
        with pytest.raises(DatabaseUnavailable, match=r"cannot open the database.*locked"):
            await upgrade(engine)
    finally:
        holder.close()
        await engine.dispose()


def test_not_a_database_url() -> None:
    with pytest.raises(DatabaseUnavailable, match="not a database URL"):
        create_engine("this is not a url")


# -- leases, origins and the inbox ----------------------------------------------------

RUN_OUT = Lease("elsewhere/1:2:bbbb", -1)
"""A lease that ran out the moment it was taken: its jobs are anyone's."""


async def test_two_instances_never_claim_the_same_job(
    repo: Repository, engine: AsyncEngine
) -> None:
    made = {(await new_job(repo, RUN_OUT)).public_id for _ in range(12)}
    # The second instance has its own connections, as another process would.
    other_engine = create_engine(engine.url.render_as_string(hide_password=False))
    other = Repository(other_engine, repo.box)
    first, second = Lease("a/1:1:first", 60), Lease("b/1:1:second", 60)
    try:
        mine, theirs = await asyncio.gather(
            repo.claim_jobs(Platform.TELEGRAM, first, gone=[], limit=7),
            other.claim_jobs(Platform.TELEGRAM, second, gone=[], limit=7),
        )
    finally:
        await other_engine.dispose()

    claimed_by_first = {row.public_id for row in mine}
    claimed_by_second = {row.public_id for row in theirs}
    assert claimed_by_first.isdisjoint(claimed_by_second)
    assert claimed_by_first | claimed_by_second == made
    assert {row.lease_owner for row in mine} == {first.owner}


async def test_a_live_lease_is_left_alone_until_it_runs_out_or_its_owner_is_gone(
    repo: Repository,
) -> None:
    held = await new_job(repo)  # LEASE: a minute, held by a live instance elsewhere
    free = await new_job(repo, RUN_OUT)
    taker = Lease("here/1:1:taker", 60)

    assert [r.public_id for r in await repo.claim_jobs(Platform.TELEGRAM, taker, [])] == [
        free.public_id
    ]
    assert await repo.claim_jobs(Platform.TELEGRAM, taker, []) == []  # taker holds it now
    assert await repo.claim_jobs(Platform.DISCORD, taker, [LEASE.owner]) == []  # other platform
    (taken,) = await repo.claim_jobs(Platform.TELEGRAM, taker, [LEASE.owner])
    assert taken.public_id == held.public_id
    assert await repo.lease_owners(Platform.TELEGRAM) == {taker.owner}


async def test_answered_jobs_are_closed_and_never_claimed(repo: Repository) -> None:
    row = await new_job(repo, RUN_OUT)
    done = await repo.complete_job(UploadId(row.public_id), media(), "e" * 32, RUN_OUT)
    assert done.answered_at is None and done.lease_owner == RUN_OUT.owner

    await repo.mark_answered([UploadId(row.public_id)])

    closed = await repo.find_upload(UploadId(row.public_id))
    assert closed is not None and closed.answered_at is not None and closed.lease_owner is None
    assert await repo.claim_jobs(Platform.TELEGRAM, LEASE, [RUN_OUT.owner]) == []


async def test_a_late_error_never_overwrites_a_success(repo: Repository) -> None:
    row = await new_job(repo)
    upload_id = UploadId(row.public_id)
    await repo.complete_job(upload_id, media(), "f" * 32, LEASE)

    after = await repo.fail_job(upload_id, "host_down", LEASE)

    assert (after.status, after.last_error, after.remote_id) == (JobStatus.DONE, None, "AbC")


async def test_a_success_after_a_failure_stands_and_is_answered_again(repo: Repository) -> None:
    row = await new_job(repo)
    upload_id = UploadId(row.public_id)
    await repo.fail_job(upload_id, "host_down", LEASE)
    await repo.mark_answered([upload_id])

    done = await repo.complete_job(upload_id, media(), "f" * 32, LEASE)

    assert (done.status, done.answered_at) == (JobStatus.DONE, None)


async def test_one_job_per_origin(repo: Repository) -> None:
    first, created = await repo.create_job(a_job(origin="1001:55:0"), LEASE)
    again, created_again = await repo.create_job(a_job(origin="1001:55:0"), RUN_OUT)
    other, created_other = await repo.create_job(a_job(origin="1001:55:1"), LEASE)

    assert (created, created_again, created_other) == (True, False, True)
    assert again.public_id == first.public_id and again.lease_owner == LEASE.owner
    assert other.public_id != first.public_id


async def test_inbox_keeps_an_event_until_it_is_done(
    repo: Repository, engine: AsyncEngine, database_url: str
) -> None:
    payload = '{"message": {"text": "/setkey ' + API_KEY + '"}}'
    assert await repo.store_events(Platform.TELEGRAM, [("7", payload)], RUN_OUT) == {"7"}
    # Kept once: a batch that holds it again keeps only the others.
    again = [("7", payload), ("8", "{}")]
    assert await repo.store_events(Platform.TELEGRAM, again, LEASE) == {"8"}
    assert API_KEY.encode() not in await everything_stored(engine, database_url)

    taker = Lease("here/1:1:taker", 60)
    assert await repo.claim_events(Platform.TELEGRAM, taker, []) == [("7", payload)]
    assert await repo.claim_events(Platform.TELEGRAM, taker, []) == []  # held by taker
    await repo.mark_answered([], event=(Platform.TELEGRAM, "7"))
    await repo.release_jobs(taker)
    assert await repo.claim_events(Platform.TELEGRAM, taker, [LEASE.owner]) == [("8", "{}")]


async def test_two_writers_of_a_new_users_preferences_both_land(repo: Repository) -> None:
    # Two settings buttons pressed at once: both read "no row", both insert; one retries.
    await asyncio.gather(
        repo.update_prefs(USER, nsfw=True), repo.update_prefs(USER, default_expiry="P1D")
    )
    prefs = await repo.get_prefs(USER)
    assert (prefs.nsfw, prefs.default_expiry) == (True, "P1D")


async def test_events_handled_long_ago_are_forgotten(repo: Repository) -> None:
    both = [("old", "{}"), ("open", "{}")]
    assert await repo.store_events(Platform.DISCORD, both, LEASE) == {"old", "open"}
    await repo.mark_answered([], event=(Platform.DISCORD, "old"))

    await repo.forget_events(datetime.now(UTC) + timedelta(seconds=1))

    # "old" is gone, so it is kept anew; "open" is still kept.
    assert await repo.store_events(Platform.DISCORD, both, LEASE) == {"old"}


async def test_an_answer_and_its_event_are_closed_in_one_write(repo: Repository) -> None:
    answered, still_open = await new_job(repo), await new_job(repo)
    both = [("answered", "{}"), ("open", "{}")]
    assert await repo.store_events(Platform.TELEGRAM, both, LEASE) == {"answered", "open"}

    await repo.mark_answered([UploadId(answered.public_id)], event=(Platform.TELEGRAM, "answered"))

    # An instance taking over LEASE's work finds only what was not closed.
    taker = Lease("here/1:1:taker", 60)
    claimed = await repo.claim_jobs(Platform.TELEGRAM, taker, [LEASE.owner])
    assert [row.public_id for row in claimed] == [still_open.public_id]
    assert await repo.claim_events(Platform.TELEGRAM, taker, [LEASE.owner]) == [("open", "{}")]


async def test_upload_keys_are_remembered_but_a_change_here_is_seen_at_once(
    repo: Repository, engine: AsyncEngine
) -> None:
    other_instance = Repository(engine, repo.box)
    assert (await repo.upload_context(USER, CHAT)).user_key is None

    await repo.set_user_key(USER, API_KEY)
    await repo.set_chat_key(CHAT, API_KEY, USER)
    context = await repo.upload_context(USER, CHAT)
    assert context.user_key is not None and context.user_key.get_secret_value() == API_KEY
    assert context.chat_key is not None

    # Another instance's change is seen once the remembered context runs out (10 s).
    await other_instance.delete_user_key(USER)
    assert (await repo.upload_context(USER, CHAT)).user_key is not None

    await repo.delete_user_key(USER)
    await repo.set_chat_key(CHAT, None, USER)
    await repo.update_prefs(USER, nsfw=True)
    context = await repo.upload_context(USER, CHAT)
    assert (context.user_key, context.chat_key, context.prefs.nsfw) == (None, None, True)


async def test_a_jobs_source_is_stored_sealed_and_read_back_as_sent(
    repo: Repository, engine: AsyncEngine, database_url: str
) -> None:
    signed = "url:https://cdn.example.org/cat.png?ex=1&hm=c0ffee5ignature"
    row = await new_job(repo, source_ref=signed, source_name="cat.png")
    taker = Lease("here/1:1:taker", 60)
    (claimed,) = await repo.claim_jobs(Platform.TELEGRAM, taker, [LEASE.owner])

    assert repo.source_of(claimed) == signed and claimed.public_id == row.public_id
    assert b"c0ffee5ignature" not in await everything_stored(engine, database_url)


async def test_a_source_recorded_in_clear_by_an_earlier_version_still_reads(
    repo: Repository, engine: AsyncEngine
) -> None:
    row = await new_job(repo)
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE uploads SET source_ref = 'file:/tmp/old.png' WHERE public_id = :id"),
            {"id": row.public_id},
        )
    found = await repo.find_upload(UploadId(row.public_id))

    assert found is not None and repo.source_of(found) == "file:/tmp/old.png"


async def test_instances_started_at_once_on_a_new_database_all_accept_the_key() -> None:
    key = Fernet.generate_key()
    async with postgres_database(postgres_server()) as url:
        engines = [create_engine(url) for _ in range(6)]
        try:
            await upgrade(engines[0])
            repos = [Repository(engine, SecretBox(key)) for engine in engines]
            assert all(await asyncio.gather(*(repo.answers() for repo in repos)))  # connected
            # Each finds the database unsealed and seals it: one of them first.
            await asyncio.gather(*(repo.verify_secret_box() for repo in repos))
            await asyncio.gather(*(repo.verify_secret_box() for repo in repos))
        finally:
            for engine in engines:
                await engine.dispose()
