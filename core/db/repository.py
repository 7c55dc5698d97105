"""All SQL lives here. Callers pass and get plain values; secrets go in and out of the
secret box at this layer, so nothing above it ever builds a query or sees a token."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import SecretStr
from sqlalchemy import func, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.chevereto.models import UploadedMedia
from core.db.database import describe_failure
from core.db.tables import (
    UNFINISHED,
    ChatSettings,
    JobStatus,
    Meta,
    Upload,
    UserKey,
    UserPrefs,
    as_utc,
    utcnow,
)
from core.errors import DatabaseUnavailable, SecretKeyError
from core.refs import ChatRef, Platform, UploadId, UserRef
from core.secrets import SecretBox

SECRET_CHECK = "secret_check"
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

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        try:
            async with self._sessions.begin() as session:
                yield session
        except (OperationalError, DBAPIError) as exc:
            if isinstance(exc, IntegrityError):
                raise
            raise DatabaseUnavailable(describe_failure(self._engine, exc)) from None

    # -- secret check ---------------------------------------------------------

    async def verify_secret_box(self) -> None:
        """Prove this box opens what the database holds; seal an empty database."""
        async with self._session() as session:
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

    # -- user keys ------------------------------------------------------------

    async def set_user_key(self, user: UserRef, key: str) -> None:
        async with self._session() as session:
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

    async def get_user_key(self, user: UserRef) -> SecretStr | None:
        async with self._session() as session:
            row = await self._user_key_row(session, user)
        return self.box.decrypt(row.key_ciphertext) if row else None

    async def delete_user_key(self, user: UserRef) -> bool:
        async with self._session() as session:
            row = await self._user_key_row(session, user)
            if row is not None:
                await session.delete(row)
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
        async with self._session() as session:
            row = await self._chat_row(session, chat) or self._new_chat_row(chat)
            row.mirror_enabled = enabled
            row.mirror_set_by = set_by.user_id
            row.updated_at = utcnow()
            session.add(row)

    async def set_chat_key(self, chat: ChatRef, key: str | None, set_by: UserRef) -> None:
        async with self._session() as session:
            row = await self._chat_row(session, chat) or self._new_chat_row(chat)
            row.key_ciphertext = self.box.encrypt(key) if key else None
            row.key_fingerprint = self.box.fingerprint(key) if key else None
            row.key_set_by = set_by.user_id if key else None
            row.updated_at = utcnow()
            session.add(row)

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
        async with self._session() as session:
            row = await self._prefs_row(session, user) or UserPrefs(
                platform=user.platform, user_id=user.user_id, updated_at=utcnow()
            )
            for name, value in changes.items():
                if name not in UserPrefs.model_fields or name in {"id", "platform", "user_id"}:
                    raise ValueError(f"no preference named {name!r}")
                setattr(row, name, value)
            row.updated_at = utcnow()
            session.add(row)
        return row

    async def _prefs_row(self, session: AsyncSession, user: UserRef) -> UserPrefs | None:
        query = select(UserPrefs).where(
            UserPrefs.platform == user.platform, UserPrefs.user_id == user.user_id
        )
        return (await session.exec(query)).first()

    # -- uploads as jobs ------------------------------------------------------

    async def upload_context(self, user: UserRef, chat: ChatRef | None) -> UploadContext:
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

    async def create_job(self, job: NewJob, *, running: bool = False) -> Upload:
        """Record an accepted upload; ``running`` when its first try starts at once."""
        now = utcnow()
        row = Upload(
            public_id=secrets.token_urlsafe(12),
            platform=job.user.platform,
            user_id=job.user.user_id,
            chat_id=job.chat.chat_id if job.chat else None,
            status=JobStatus.RUNNING if running else JobStatus.ACCEPTED,
            attempts=1 if running else 0,
            source_ref=job.source_ref,
            source_name=job.source_name[:255],
            source_size=job.source_size,
            content_type=job.content_type,
            options_json=json.dumps(job.options, ensure_ascii=False),
            reply_target=job.reply_target,
            key_fingerprint=job.key_fingerprint,
            content_md5=job.content_md5,
            created_at=now,
            updated_at=now,
        )
        async with self._session() as session:
            session.add(row)
        return row

    async def start_attempt(self, upload_id: UploadId) -> int:
        """Mark the job running; return which attempt this is (1 for the first)."""
        row = await self._update_upload(
            upload_id, status=JobStatus.RUNNING, attempts=col(Upload.attempts) + 1
        )
        return row.attempts

    async def complete_job(
        self,
        upload_id: UploadId,
        media: UploadedMedia,
        content_md5: str | None,
        *,
        answered: bool = False,
    ) -> Upload:
        now = utcnow()
        return await self._update_upload(
            upload_id,
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
            **_answered(now, answered),
        )

    async def fail_job(
        self, upload_id: UploadId, error_kind: str, *, answered: bool = False
    ) -> Upload:
        now = utcnow()
        return await self._update_upload(
            upload_id,
            status=JobStatus.FAILED,
            last_error=error_kind,
            finished_at=now,
            **_answered(now, answered),
        )

    async def mark_answered(self, upload_id: UploadId) -> None:
        await self._update_upload(upload_id, answered_at=utcnow())

    async def mark_deleted(self, upload_id: UploadId) -> None:
        await self._update_upload(upload_id, status=JobStatus.DELETED, delete_url_ciphertext=None)

    async def _update_upload(self, upload_id: UploadId, **values: Any) -> Upload:
        """One UPDATE ... RETURNING: the changed row without reading it first."""
        statement = (
            update(Upload)
            .where(col(Upload.public_id) == upload_id)
            .values(updated_at=utcnow(), **values)
            .returning(Upload)
            .execution_options(synchronize_session=False)
        )
        async with self._session() as session:
            row: Upload | None = (await session.exec(statement)).scalars().one_or_none()
        if row is None:
            raise LookupError(f"no upload {upload_id}")
        return row

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
        query = (
            select(Upload)
            .where(
                Upload.platform == user.platform,
                Upload.user_id == user.user_id,
                Upload.status == JobStatus.DONE,
            )
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


def _expired(row: Upload, now: datetime) -> bool:
    return row.expires_at is not None and as_utc(row.expires_at) <= now


def _answered(now: datetime, answered: bool) -> dict[str, datetime]:
    # Handing the outcome to a waiting caller is its answer: record both at once.
    return {"answered_at": now} if answered else {}
