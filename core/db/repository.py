"""All SQL lives here. Callers pass and get plain values; secrets go in and out of the
secret box at this layer, so nothing above it ever builds a query or sees a token."""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from pydantic import SecretStr
from sqlalchemy import (
    ColumnElement,
    Table,
    Update,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    text,
    update,
)
from sqlalchemy import select as sa_select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.chevereto.models import UploadedMedia
from core.db.database import describe_failure
from core.db.tables import (
    UNFINISHED,
    ChatSettings,
    InboxEvent,
    JobStatus,
    Meta,
    SpentGalleryLink,
    Upload,
    UserKey,
    UserPrefs,
    as_utc,
    search_text,
    utcnow,
)
from core.errors import DatabaseUnavailable, LostAnswer, SecretKeyError
from core.refs import ChatRef, Platform, UploadId, UserRef
from core.remembered import Remembered
from core.secrets import SecretBox
from core.service.leases import Lease

T = TypeVar("T")
LOST_ANSWER = LostAnswer.kind

SECRET_CHECK = "secret_check"
SEALED = "sealed:"
"""A job's source ref is stored encrypted after this: a link's query string, a CDN
URL's signature may be secrets. Older rows hold it in clear (``scheme:rest``)."""
UPLOADS: Table = Upload.__table__  # type: ignore[attr-defined]
INBOX: Table = InboxEvent.__table__  # type: ignore[attr-defined]
SPENT_LINKS: Table = SpentGalleryLink.__table__  # type: ignore[attr-defined]
_SECRET_CHECK_PLAINTEXT = "picloud-bots"


@dataclass(frozen=True, slots=True)
class NewJob:
    """What an accepted upload needs to be run again after a restart."""

    user: UserRef
    chat: ChatRef | None
    source_ref: str
    source_name: str
    source_size: int | None
    content_type: str | None
    options: dict[str, Any]
    reply_target: str | None
    key_fingerprint: str | None
    content_md5: str | None
    origin: str | None = None
    reply_secret: str | None = None


async def is_sealed(engine: AsyncEngine) -> bool:
    """Whether the database was ever opened with a secret key (it may hold secrets)."""
    sessions = async_sessionmaker(engine, class_=AsyncSession)
    try:
        async with sessions() as session:
            return await session.get(Meta, SECRET_CHECK) is not None
    except (OperationalError, DBAPIError) as exc:
        raise DatabaseUnavailable(describe_failure(engine, exc)) from None


@dataclass(frozen=True, slots=True)
class UploadContext:
    """What an upload needs from storage, read in one go: keys and preferences."""

    user_key: SecretStr | None
    chat_key: SecretStr | None
    prefs: UserPrefs


class Repository:
    def __init__(self, engine: AsyncEngine, box: SecretBox) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
        self.box = box
        self._contexts = Remembered[tuple[UserRef, ChatRef | None], UploadContext]()

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        with self._failures():
            async with self._sessions.begin() as session:
                yield session

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        """A plain connection in a transaction: the statements every upload makes skip
        the ORM session, which costs each of them more CPU than the statement itself."""
        with self._failures():
            async with self._engine.begin() as connection:
                yield connection

    @contextmanager
    def _failures(self) -> Iterator[None]:
        try:
            yield
        except (OperationalError, DBAPIError, PoolTimeout, OSError) as exc:
            # PoolTimeout: every connection stayed busy (SQLite has one, which waits
            # for another process's lock), as unavailable as a refused connection.
            # OSError: asyncpg's own, raised unwrapped when a new connection is refused.
            if isinstance(exc, IntegrityError):
                raise
            raise DatabaseUnavailable(describe_failure(self._engine, exc)) from None

    async def answers(self) -> bool:
        """Whether the database answers a query now (readiness)."""
        try:
            async with self._transaction() as connection:
                await connection.execute(text("SELECT 1"))
        except DatabaseUnavailable:
            return False
        return True

    # -- secret check ---------------------------------------------------------

    async def verify_secret_box(self) -> None:
        """Prove this box opens what the database holds; seal an empty database. Of
        instances started at once on a new database, one seals it and the others check
        against its seal."""

        async def seal_or_check(session: AsyncSession) -> None:
            row = await session.get(Meta, SECRET_CHECK)
            if row is None:
                session.add(
                    Meta(name=SECRET_CHECK, value=self.box.encrypt(_SECRET_CHECK_PLAINTEXT))
                )
                return
            try:
                self.box.decrypt(row.value)
            except SecretKeyError:
                raise SecretKeyError(
                    "the secret key (PICLOUD_SECRET_KEY or the data dir's secret.key) is not "
                    "the one this database was written with: restore the original key"
                ) from None

        await self._upsert(seal_or_check)

    # -- user keys ------------------------------------------------------------

    async def _upsert(self, write: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run a read-then-insert-or-update; when another writer inserted the same row
        in between (two button presses at once), run it again: it updates that row."""
        for last in (False, True):
            try:
                async with self._session() as session:
                    return await write(session)
            except IntegrityError:
                if last:
                    raise
        raise AssertionError("unreachable")

    async def set_user_key(self, user: UserRef, key: str) -> None:
        async def write(session: AsyncSession) -> None:
            row = await self._user_key_row(session, user)
            if row is None:
                row = UserKey(
                    platform=user.platform,
                    user_id=user.user_id,
                    key_ciphertext="",
                    key_fingerprint="",
                    updated_at=utcnow(),
                )
            row.key_ciphertext = self.box.encrypt(key)
            row.key_fingerprint = self.box.fingerprint(key)
            row.updated_at = utcnow()
            session.add(row)

        await self._upsert(write)
        self._forget_contexts_of(user)

    async def get_user_key(self, user: UserRef) -> SecretStr | None:
        async with self._session() as session:
            row = await self._user_key_row(session, user)
        return self.box.decrypt(row.key_ciphertext) if row else None

    async def delete_user_key(self, user: UserRef) -> bool:
        async with self._session() as session:
            row = await self._user_key_row(session, user)
            if row is not None:
                await session.delete(row)
        self._forget_contexts_of(user)
        return row is not None

    async def _user_key_row(self, session: AsyncSession, user: UserRef) -> UserKey | None:
        query = select(UserKey).where(
            UserKey.platform == user.platform, UserKey.user_id == user.user_id
        )
        return (await session.exec(query)).first()

    # -- chats ------------------------------------------------------------------

    async def get_chat_settings(self, chat: ChatRef) -> ChatSettings | None:
        async with self._session() as session:
            return await self._chat_row(session, chat)

    async def set_mirroring(self, chat: ChatRef, enabled: bool, set_by: UserRef) -> None:
        async def write(session: AsyncSession) -> None:
            row = await self._chat_row(session, chat) or self._new_chat_row(chat)
            row.mirror_enabled = enabled
            row.mirror_set_by = set_by.user_id
            row.updated_at = utcnow()
            session.add(row)

        await self._upsert(write)

    async def set_chat_key(self, chat: ChatRef, key: str | None, set_by: UserRef) -> None:
        async def write(session: AsyncSession) -> None:
            row = await self._chat_row(session, chat) or self._new_chat_row(chat)
            row.key_ciphertext = self.box.encrypt(key) if key else None
            row.key_fingerprint = self.box.fingerprint(key) if key else None
            row.key_set_by = set_by.user_id if key else None
            row.updated_at = utcnow()
            session.add(row)

        await self._upsert(write)
        self._contexts.forget_where(lambda context: context[1] == chat)

    async def get_chat_key(self, chat: ChatRef) -> SecretStr | None:
        row = await self.get_chat_settings(chat)
        if row is None or row.key_ciphertext is None:
            return None
        return self.box.decrypt(row.key_ciphertext)

    async def _chat_row(self, session: AsyncSession, chat: ChatRef) -> ChatSettings | None:
        query = select(ChatSettings).where(
            ChatSettings.platform == chat.platform, ChatSettings.chat_id == chat.chat_id
        )
        return (await session.exec(query)).first()

    @staticmethod
    def _new_chat_row(chat: ChatRef) -> ChatSettings:
        return ChatSettings(platform=chat.platform, chat_id=chat.chat_id, updated_at=utcnow())

    # -- preferences ------------------------------------------------------------

    async def get_prefs(self, user: UserRef) -> UserPrefs:
        async with self._session() as session:
            row = await self._prefs_row(session, user)
        return row or self._default_prefs(user)

    @staticmethod
    def _default_prefs(user: UserRef) -> UserPrefs:
        return UserPrefs(platform=user.platform, user_id=user.user_id, updated_at=utcnow())

    async def update_prefs(self, user: UserRef, **changes: Any) -> UserPrefs:
        async def write(session: AsyncSession) -> UserPrefs:
            row = await self._prefs_row(session, user) or self._default_prefs(user)
            for name, value in changes.items():
                if name not in UserPrefs.model_fields or name in {"id", "platform", "user_id"}:
                    raise ValueError(f"no preference named {name!r}")
                setattr(row, name, value)
            row.updated_at = utcnow()
            session.add(row)
            return row

        updated = await self._upsert(write)
        self._forget_contexts_of(user)
        return updated

    async def _prefs_row(self, session: AsyncSession, user: UserRef) -> UserPrefs | None:
        query = select(UserPrefs).where(
            UserPrefs.platform == user.platform, UserPrefs.user_id == user.user_id
        )
        return (await session.exec(query)).first()

    # -- uploads as jobs ------------------------------------------------------

    async def upload_context(self, user: UserRef, chat: ChatRef | None) -> UploadContext:
        """The keys and preferences an upload by ``user`` in ``chat`` uses, remembered
        for a few seconds (``core.remembered``): a burst reads them once."""
        return await self._contexts.get((user, chat), lambda: self._read_context(user, chat))

    def _forget_contexts_of(self, user: UserRef) -> None:
        self._contexts.forget_where(lambda context: context[0] == user)

    async def _read_context(self, user: UserRef, chat: ChatRef | None) -> UploadContext:
        async with self._session() as session:
            user_key = await self._user_key_row(session, user)
            chat_row = await self._chat_row(session, chat) if chat else None
            prefs = await self._prefs_row(session, user)
        return UploadContext(
            user_key=self.box.decrypt(user_key.key_ciphertext) if user_key else None,
            chat_key=(
                self.box.decrypt(chat_row.key_ciphertext)
                if chat_row and chat_row.key_ciphertext
                else None
            ),
            prefs=prefs or self._default_prefs(user),
        )

    async def create_job(
        self, job: NewJob, lease: Lease, *, running: bool = False
    ) -> tuple[Upload, bool]:
        """Record an accepted upload, leased to ``lease``; ``running`` when its first try
        starts at once. A job of the same origin is not made twice: that one is returned
        and ``False`` says so."""
        now = utcnow()
        values: dict[str, Any] = dict(
            public_id=secrets.token_urlsafe(12),
            platform=job.user.platform,
            user_id=job.user.user_id,
            chat_id=job.chat.chat_id if job.chat else None,
            status=JobStatus.RUNNING if running else JobStatus.ACCEPTED,
            attempts=1 if running else 0,
            source_ref=SEALED + self.box.encrypt(job.source_ref),
            source_name=job.source_name[:255],
            source_size=job.source_size,
            content_type=job.content_type,
            options_json=json.dumps(job.options, ensure_ascii=False),
            search_text=search_text(job.options, job.source_name),
            reply_target=job.reply_target,
            reply_secret_ciphertext=self.box.encrypt(job.reply_secret)
            if job.reply_secret
            else None,
            origin=job.origin,
            lease_owner=lease.owner,
            lease_until=lease.until(now),
            key_fingerprint=job.key_fingerprint,
            content_md5=job.content_md5,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self._transaction() as connection:
                inserted = await connection.execute(_NEW_UPLOAD, values)
                row = Upload(id=inserted.scalar_one(), **values)
        except IntegrityError:
            if job.origin is None:
                raise
            existing = await self.find_origin(job.user.platform, job.origin)
            if existing is None:
                raise
            return existing, False
        return row, True

    def source_of(self, row: Upload) -> str:
        """A job's source ref (``scheme:rest``), as it was recorded."""
        if row.source_ref.startswith(SEALED):
            return self.box.decrypt(row.source_ref.removeprefix(SEALED)).get_secret_value()
        return row.source_ref

    async def find_origin(self, platform: str, origin: str) -> Upload | None:
        query = select(Upload).where(Upload.platform == platform, Upload.origin == origin)
        async with self._session() as session:
            return (await session.exec(query)).first()

    async def start_attempt(self, upload_id: UploadId) -> int:
        """Mark the job running; return which attempt this is (1 for the first)."""
        parameters = {"upload_id": upload_id, "now": utcnow()}
        async with self._transaction() as connection:
            attempts = (await connection.execute(_NEXT_ATTEMPT, parameters)).scalar_one_or_none()
        if attempts is None:
            raise LookupError(f"no upload {upload_id}")
        return int(attempts)

    async def complete_job(
        self, upload_id: UploadId, media: UploadedMedia, content_md5: str | None, lease: Lease
    ) -> Upload:
        """Record the host's answer; the job stays leased for its answer. A job that is
        already done (another instance finished it) keeps its first result."""
        now = utcnow()
        row = await self._update_upload_if(
            upload_id,
            _NOT_DONE,
            status=JobStatus.DONE,
            last_error=None,
            content_md5=content_md5,
            remote_id=media.id_encoded,
            media_type=media.media_type,
            title=media.title[:255] if media.title else None,
            url_viewer=media.url_viewer,
            url_direct=media.url,
            url_thumb=media.thumb_url,
            url_medium=media.medium_url,
            url_display=media.display_url,
            delete_url_ciphertext=self.box.encrypt(media.delete_url.get_secret_value()),
            is_approved=media.is_approved,
            size=media.size,
            expires_at=media.expires_at,
            finished_at=now,
            # A failure answered before (an instance that gave up) is corrected by this one.
            answered_at=None,
            lease_until=lease.until(now),
        )
        return row or await self._existing(upload_id)

    async def fail_job(
        self, upload_id: UploadId, error_kind: str, lease: Lease | None = None
    ) -> Upload:
        """Record a failure, unless the job already succeeded: a late error never
        overwrites a success. The row as it now stands is returned."""
        now = utcnow()
        row = await self._update_upload_if(
            upload_id,
            _UNFINISHED,
            status=JobStatus.FAILED,
            last_error=error_kind,
            finished_at=now,
            **({"lease_until": lease.until(now)} if lease else {}),
        )
        return row or await self._existing(upload_id)

    async def fail_unfinished(self, lease: Lease, platform: Platform, kind: str) -> int:
        """Fail ``lease``'s unfinished jobs of ``platform`` with ``kind``; how many."""
        statement = (
            update(UPLOADS)
            .where(
                UPLOADS.c.lease_owner == lease.owner,
                UPLOADS.c.platform == platform,
                UPLOADS.c.status.in_(UNFINISHED),
            )
            .values(status=JobStatus.FAILED, last_error=kind, finished_at=utcnow())
        )
        async with self._transaction() as connection:
            return (await connection.execute(statement)).rowcount

    async def mark_answered(
        self, upload_ids: Sequence[UploadId], event: tuple[Platform, str] | None = None
    ) -> None:
        """The platform accepted the answers of these jobs: they are closed for good,
        and so is ``event``, the inbox event that asked for them, in the same
        transaction."""
        if not upload_ids and event is None:
            return
        now = utcnow()
        async with self._transaction() as connection:
            if upload_ids:
                await connection.execute(_ANSWERED, {"upload_ids": upload_ids, "now": now})
            if event is not None:
                platform, key = event
                done = {"event_platform": platform, "the_event_key": key, "now": now}
                await connection.execute(_EVENT_DONE, done)

    async def record_md5(self, upload_id: UploadId, content_md5: str) -> None:
        await self._update_upload(upload_id, content_md5=content_md5)

    async def mark_deleted(self, upload_id: UploadId) -> None:
        await self._update_upload(upload_id, status=JobStatus.DELETED, delete_url_ciphertext=None)

    async def _existing(self, upload_id: UploadId) -> Upload:
        row = await self.find_upload(upload_id)
        if row is None:
            raise LookupError(f"no upload {upload_id}")
        return row

    async def _update_upload(self, upload_id: UploadId, **values: Any) -> Upload:
        row = await self._update_upload_if(upload_id, None, **values)
        if row is None:
            raise LookupError(f"no upload {upload_id}")
        return row

    async def _update_upload_if(
        self, upload_id: UploadId, only_if: ColumnElement[bool] | None, **values: Any
    ) -> Upload | None:
        """One UPDATE ... RETURNING: the changed row without reading it first (None when
        ``only_if``, one of this module's conditions, kept it unchanged)."""
        values = {"updated_at": utcnow(), **values}
        statement = _upload_update(only_if, tuple(values))
        parameters = {f"new_{name}": value for name, value in values.items()}
        async with self._transaction() as connection:
            found = await connection.execute(statement, {"upload_id": upload_id, **parameters})
            row = found.one_or_none()
        return None if row is None else Upload(**row._mapping)

    # -- gallery links ----------------------------------------------------------

    async def spend_gallery_link(self, nonce: str, expires_at: datetime) -> bool:
        """Mark a one-time link opened; False if it was before (by any instance)."""
        expired = SPENT_LINKS.c.expires_at < utcnow()
        try:
            async with self._transaction() as connection:
                # Forgetting expired links here keeps the table as small as the traffic.
                await connection.execute(SPENT_LINKS.delete().where(expired))
                await connection.execute(
                    SPENT_LINKS.insert().values(nonce=nonce, expires_at=expires_at)
                )
        except IntegrityError:
            return False
        return True

    # -- leases -----------------------------------------------------------------

    async def claim_jobs(
        self, platform: Platform, lease: Lease, gone: Sequence[str], limit: int = 50
    ) -> list[Upload]:
        """Take the lease of open jobs (not yet answered) that nobody holds: run out, or
        held by an instance that is gone. Two instances never get the same job."""
        open_job = and_(col(Upload.answered_at).is_(None), col(Upload.status) != JobStatus.DELETED)
        return await self._claim(Upload, platform, open_job, lease, gone, limit)

    async def renew_jobs(self, upload_ids: Sequence[UploadId], lease: Lease) -> None:
        if not upload_ids:
            return
        statement = (
            update(Upload)
            .where(col(Upload.public_id).in_(upload_ids), col(Upload.lease_owner) == lease.owner)
            .values(lease_until=lease.until(utcnow()))
            .execution_options(synchronize_session=False)
        )
        async with self._session() as session:
            await session.exec(statement)

    async def release_jobs(self, lease: Lease) -> None:
        """Stopping: hand every open job this instance holds to whoever starts next."""
        for table in (Upload, InboxEvent):
            statement = (
                update(table)
                .where(table.lease_owner == lease.owner)  # type: ignore[arg-type]
                .values(lease_owner=None, lease_until=None)
                .execution_options(synchronize_session=False)
            )
            async with self._session() as session:
                await session.exec(statement)

    async def lease_owners(self, platform: Platform) -> set[str]:
        """Who holds open jobs and events of ``platform`` now (to tell which are gone)."""
        owners: set[str] = set()
        for table in (Upload, InboxEvent):
            query = (
                select(table.lease_owner)
                .where(table.platform == platform, col(table.lease_owner).is_not(None))
                .distinct()
            )
            async with self._session() as session:
                owners.update(o for o in (await session.exec(query)).all() if o)
        return owners

    async def _claim(
        self,
        table: type[Upload] | type[InboxEvent],
        platform: Platform,
        is_open: ColumnElement[bool],
        lease: Lease,
        gone: Sequence[str],
        limit: int,
    ) -> list[Any]:
        now = utcnow()
        leasable = or_(
            col(table.lease_until).is_(None),
            col(table.lease_until) < now,
            col(table.lease_owner).in_(list(gone)),
        )
        # SKIP LOCKED on PostgreSQL: a row another instance is claiming is left to it.
        # SQLite has no FOR UPDATE (SQLAlchemy leaves it out) and one writer at a time.
        pick = (
            select(table.id)
            .where(table.platform == platform, is_open, leasable)
            .order_by(col(table.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        statement = (
            update(table)
            .where(col(table.id).in_(pick.scalar_subquery()), leasable)
            .values(lease_owner=lease.owner, lease_until=lease.until(now))
            .returning(table)
            .execution_options(synchronize_session=False)
        )
        async with self._session() as session:
            return list((await session.exec(statement)).scalars().all())

    # -- inbox ------------------------------------------------------------------

    async def store_events(
        self, platform: Platform, events: Sequence[tuple[str, str]], lease: Lease
    ) -> set[str]:
        """Keep events ``(key, payload)`` until they are handled, in one transaction
        when none was stored before; the keys stored now (not those stored before)."""
        now = utcnow()

        def row(event_key: str, payload: str) -> dict[str, Any]:
            return dict(
                platform=platform,
                event_key=event_key,
                payload_ciphertext=self.box.encrypt(payload),
                received_at=now,
                lease_owner=lease.owner,
                lease_until=lease.until(now),
            )

        try:
            async with self._transaction() as connection:
                rows = [row(key, payload) for key, payload in events]
                await connection.execute(_NEW_EVENTS, rows)
            return {key for key, _payload in events}
        except IntegrityError:
            if len(events) == 1:
                return set()
        # One of them was stored before (an update delivered again): each on its own.
        stored: set[str] = set()
        for event in events:
            stored |= await self.store_events(platform, [event], lease)
        return stored

    async def note_event(self, platform: Platform, event_key: str, note: str) -> None:
        await self._update_event(platform, event_key, None, note=note)

    async def _update_event(
        self,
        platform: Platform,
        event_key: str,
        only_if: ColumnElement[bool] | None,
        **values: Any,
    ) -> None:
        where = and_(col(InboxEvent.platform) == platform, col(InboxEvent.event_key) == event_key)
        statement = (
            update(InboxEvent)
            .where(where if only_if is None else and_(where, only_if))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        async with self._session() as session:
            await session.exec(statement)

    async def forget_events(self, done_before: datetime) -> None:
        """Events handled long ago: nothing will ask for them again."""
        statement = delete(InboxEvent).where(col(InboxEvent.done_at) < done_before)
        async with self._session() as session:
            await session.exec(statement)

    async def event_note(self, platform: Platform, event_key: str) -> str | None:
        query = select(InboxEvent.note).where(
            InboxEvent.platform == platform, InboxEvent.event_key == event_key
        )
        async with self._session() as session:
            return (await session.exec(query)).first()

    async def accepted_origins(self, platform: Platform, origins: Sequence[str]) -> set[str]:
        """Which of these origins already made a job."""
        query = select(Upload.origin).where(
            Upload.platform == platform, col(Upload.origin).in_(list(origins))
        )
        async with self._session() as session:
            return {origin for origin in (await session.exec(query)).all() if origin}

    async def claim_events(
        self, platform: Platform, lease: Lease, gone: Sequence[str], limit: int = 100
    ) -> list[tuple[str, str]]:
        """Events not yet handled that nobody holds: (key, payload), oldest first."""
        is_open = col(InboxEvent.done_at).is_(None)
        rows = await self._claim(InboxEvent, platform, is_open, lease, gone, limit)
        rows.sort(key=lambda row: row.id)
        return [
            (row.event_key, self.box.decrypt(row.payload_ciphertext).get_secret_value())
            for row in rows
        ]

    async def find_upload(self, upload_id: UploadId) -> Upload | None:
        async with self._session() as session:
            query = select(Upload).where(Upload.public_id == upload_id)
            return (await session.exec(query)).first()

    async def get_delete_url(self, upload_id: UploadId) -> SecretStr | None:
        row = await self.find_upload(upload_id)
        if row is None or row.delete_url_ciphertext is None:
            return None
        return self.box.decrypt(row.delete_url_ciphertext)

    async def find_repeat(
        self, content_md5: str, key_fingerprint: str, now: datetime
    ) -> Upload | None:
        """The newest live upload of this content with this key, if we made one."""
        query = (
            select(Upload)
            .where(
                Upload.content_md5 == content_md5,
                Upload.key_fingerprint == key_fingerprint,
                Upload.status == JobStatus.DONE,
            )
            .order_by(col(Upload.id).desc())
        )
        async with self._session() as session:
            rows: Sequence[Upload] = (await session.exec(query)).all()
        return next((row for row in rows if not _expired(row, now)), None)

    async def unfinished_jobs(self, platform: Platform) -> list[Upload]:
        query = (
            select(Upload)
            .where(Upload.platform == platform, col(Upload.status).in_(UNFINISHED))
            .order_by(col(Upload.id))
        )
        async with self._session() as session:
            return list((await session.exec(query)).all())

    async def unanswered_jobs(self, platform: Platform) -> list[Upload]:
        query = (
            select(Upload)
            .where(
                Upload.platform == platform,
                col(Upload.status).in_((JobStatus.DONE, JobStatus.FAILED)),
                col(Upload.answered_at).is_(None),
            )
            .order_by(col(Upload.id))
        )
        async with self._session() as session:
            return list((await session.exec(query)).all())

    async def recent_uploads(self, user: UserRef, limit: int = 10) -> list[Upload]:
        return await self._newest(user, limit, col(Upload.status) == JobStatus.DONE)

    async def search_uploads(
        self, user: UserRef, words: list[str], *, offset: int, limit: int
    ) -> list[Upload]:
        """The user's uploads with a public link, not expired, whose title, description,
        tags or file name hold every word; newest first, ``limit`` from ``offset``."""
        found = [
            col(Upload.search_text).like(f"%{_escape_like(word.lower())}%", escape="\\")
            for word in words
        ]
        now = utcnow()
        query = (
            select(Upload)
            .where(
                Upload.platform == user.platform,
                Upload.user_id == user.user_id,
                col(Upload.status) == JobStatus.DONE,
                col(Upload.url_viewer).is_not(None),
                or_(col(Upload.expires_at).is_(None), col(Upload.expires_at) > now),
                *found,
            )
            .order_by(col(Upload.id).desc())
            .offset(offset)
            .limit(limit)
        )
        async with self._session() as session:
            return list((await session.exec(query)).all())

    async def jobs_since(self, since: datetime, chat: ChatRef | None) -> list[JobSummary]:
        """Every job made since then, in ``chat`` or anywhere: what statistics count."""
        uploads = UPLOADS.c
        query = sa_select(
            uploads.platform,
            uploads.user_id,
            uploads.status,
            uploads.last_error,
            func.coalesce(uploads.size, uploads.source_size),
            uploads.created_at,
        ).where(uploads.created_at >= since)
        if chat is not None:
            query = query.where(uploads.platform == chat.platform, uploads.chat_id == chat.chat_id)
        async with self._transaction() as connection:
            return [JobSummary(*row) for row in (await connection.execute(query)).all()]

    async def lost_answers(self, user: UserRef, limit: int = 10) -> list[Upload]:
        """The user's jobs whose copy the host holds without our knowing its link."""
        lost = and_(col(Upload.status) == JobStatus.FAILED, col(Upload.last_error) == LOST_ANSWER)
        return await self._newest(user, limit, lost)

    async def _newest(
        self, user: UserRef, limit: int, condition: ColumnElement[bool]
    ) -> list[Upload]:
        query = (
            select(Upload)
            .where(Upload.platform == user.platform, Upload.user_id == user.user_id, condition)
            .order_by(col(Upload.id).desc())
            .limit(limit)
        )
        async with self._session() as session:
            return list((await session.exec(query)).all())

    async def count_uploads(self, user: UserRef) -> int:
        query = select(func.count()).where(
            Upload.platform == user.platform,
            Upload.user_id == user.user_id,
            Upload.status == JobStatus.DONE,
        )
        async with self._session() as session:
            return int((await session.exec(query)).one())


# The statements every upload makes are built once, their values bound at each call:
# building one costs more CPU than running it (SQLAlchemy computes its cache key anew).
_NOT_DONE = UPLOADS.c.status.in_((*UNFINISHED, JobStatus.FAILED))
_UNFINISHED = UPLOADS.c.status.in_(UNFINISHED)
_NEW_UPLOAD = insert(UPLOADS).returning(UPLOADS.c.id)
_NEW_EVENTS = insert(INBOX)
_NEXT_ATTEMPT = (
    update(UPLOADS)
    .where(UPLOADS.c.public_id == bindparam("upload_id"))
    .values(status=JobStatus.RUNNING, attempts=UPLOADS.c.attempts + 1, updated_at=bindparam("now"))
    .returning(UPLOADS.c.attempts)
)
_ANSWERED = (
    update(UPLOADS)
    .where(
        UPLOADS.c.public_id.in_(bindparam("upload_ids", expanding=True)),
        UPLOADS.c.answered_at.is_(None),
    )
    .values(answered_at=bindparam("now"), lease_owner=None, lease_until=None)
)
_EVENT_DONE = (
    update(INBOX)
    .where(
        INBOX.c.platform == bindparam("event_platform"),
        INBOX.c.event_key == bindparam("the_event_key"),
        INBOX.c.done_at.is_(None),
    )
    .values(done_at=bindparam("now"), lease_owner=None, lease_until=None)
)


@functools.cache
def _upload_update(only_if: ColumnElement[bool] | None, columns: tuple[str, ...]) -> Update:
    """UPDATE ... RETURNING of ``columns`` (bound as ``new_<column>``) of the upload
    ``upload_id``, where ``only_if`` holds."""
    where = UPLOADS.c.public_id == bindparam("upload_id")
    return (
        update(UPLOADS)
        .where(where if only_if is None else and_(where, only_if))
        .values({name: bindparam(f"new_{name}") for name in columns})
        .returning(*UPLOADS.c)
    )


def _expired(row: Upload, now: datetime) -> bool:
    return row.expires_at is not None and as_utc(row.expires_at) <= now


def _encrypted(box: SecretBox, secret: str | None) -> str | None:
    return box.encrypt(secret) if secret else None


class JobSummary(NamedTuple):
    platform: str
    user_id: str
    status: str
    last_error: str | None
    size: int | None
    created_at: datetime


def _escape_like(text: str) -> str:
    """``text`` matched as itself in a LIKE pattern (``\\`` the escape)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
