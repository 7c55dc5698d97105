"""The tables. Secrets are stored only as Fernet tokens (``*_ciphertext``) and keyed
fingerprints; changes to these classes need a migration in ``migrations/versions``.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, DateTime, Float, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored one is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class JobStatus(enum.StrEnum):
    ACCEPTED = "accepted"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    DELETED = "deleted"


UNFINISHED = (JobStatus.ACCEPTED, JobStatus.RUNNING)


class Meta(SQLModel, table=True):
    __tablename__ = "meta"

    name: str = Field(primary_key=True, max_length=64)
    value: str


class UserKey(SQLModel, table=True):
    """A user's own API key on one platform."""

    __tablename__ = "user_keys"
    __table_args__ = (UniqueConstraint("platform", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    user_id: str = Field(max_length=64)
    key_ciphertext: str
    key_fingerprint: str = Field(max_length=64)
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ChatSettings(SQLModel, table=True):
    """Per-chat switches: auto-mirroring and an optional chat key."""

    __tablename__ = "chat_settings"
    __table_args__ = (UniqueConstraint("platform", "chat_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    mirror_enabled: bool = False
    mirror_set_by: str | None = Field(default=None, max_length=64)
    key_ciphertext: str | None = None
    key_fingerprint: str | None = Field(default=None, max_length=64)
    key_set_by: str | None = Field(default=None, max_length=64)
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class UserPrefs(SQLModel, table=True):
    """A user's defaults: language override, expiry, nsfw, album."""

    __tablename__ = "user_prefs"
    __table_args__ = (UniqueConstraint("platform", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    user_id: str = Field(max_length=64)
    language: str | None = Field(default=None, max_length=16)
    default_expiry: str | None = Field(default=None, max_length=32)
    nsfw: bool = False
    album_id: str | None = Field(default=None, max_length=64)
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class Upload(SQLModel, table=True):
    """An upload, and the durable job that makes it: recorded before any network work."""

    __tablename__ = "uploads"
    __table_args__ = (
        Index("ix_uploads_repeat", "content_md5", "key_fingerprint"),
        Index("ix_uploads_owner", "platform", "user_id", "id"),
        Index("ix_uploads_status", "platform", "status"),
        Index("ix_uploads_open", "platform", "answered_at", "lease_until"),
        UniqueConstraint("platform", "origin", name="uq_uploads_origin"),
    )

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(max_length=32, unique=True)
    platform: str = Field(max_length=16)
    user_id: str = Field(max_length=64)
    chat_id: str | None = Field(default=None, max_length=64)
    status: str = Field(default=JobStatus.ACCEPTED, max_length=16)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=32)

    source_ref: str
    source_name: str = Field(max_length=255)
    source_size: int | None = Field(default=None, sa_type=BigInteger)
    content_type: str | None = Field(default=None, max_length=128)
    options_json: str = "{}"
    reply_target: str | None = None
    reply_secret_ciphertext: str | None = None
    """A secret the answer needs (a Discord interaction token), encrypted."""
    origin: str | None = Field(default=None, max_length=128)
    """What the platform handed us (``chat:message:item``): the same event never makes
    two jobs, however often it is handled again after a restart."""
    lease_owner: str | None = Field(default=None, max_length=96)
    """The instance working on the job until it is answered (see ``core.service.leases``)."""
    lease_until: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    key_fingerprint: str | None = Field(default=None, max_length=64)
    content_md5: str | None = Field(default=None, max_length=32)
    search_text: str | None = None
    """Title, description, tags and file name, lower-cased: what a search of one's own
    uploads looks in (see ``search_text``)."""

    remote_id: str | None = Field(default=None, max_length=64)
    media_type: str | None = Field(default=None, max_length=16)
    title: str | None = Field(default=None, max_length=255)
    url_viewer: str | None = None
    url_direct: str | None = None
    url_thumb: str | None = None
    url_medium: str | None = None
    url_display: str | None = None
    delete_url_ciphertext: str | None = None
    is_approved: bool = True
    size: int | None = Field(default=None, sa_type=BigInteger)

    expires_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    finished_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    answered_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


def search_text(options: dict[str, object], source_name: str) -> str:
    """``Upload.search_text`` of an upload with these options (``options_json``)."""
    tags = options.get("tags") or []
    words = [
        options.get("title"),
        options.get("description"),
        *(tags if isinstance(tags, list) else []),
    ]
    return " ".join(str(word) for word in [*words, source_name] if word).lower()


class InboxEvent(SQLModel, table=True):
    """An event the platform handed us, kept until it is handled: the platform will not
    send it again once told we have it (Telegram's next getUpdates offset, a webhook's
    200, a Discord gateway event), so it is stored first. The payload may hold secrets
    (a key typed in a message), so it is encrypted."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("platform", "event_key"),
        Index("ix_inbox_open", "platform", "done_at", "lease_until"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    event_key: str = Field(max_length=64)
    payload_ciphertext: str
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    done_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    note: str | None = None
    """What handling it already did that must not be done twice (a message it sent)."""
    lease_owner: str | None = Field(default=None, max_length=96)
    lease_until: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class MessageSent(SQLModel, table=True):
    """A message the bot sent, counted against one of the platform's rate limits
    (``budget``: ``telegram`` for the whole bot, ``telegram:<chat>`` for one chat) by
    every instance on the database: see ``core/shared_budget.py``. ``sent_at`` is the
    database's clock (epoch seconds), the one clock all instances share. Rows older
    than the longest limit's period are deleted as new ones come."""

    __tablename__ = "messages_sent"
    __table_args__ = (
        Index("ix_messages_sent_budget", "budget", "sent_at"),
        Index("ix_messages_sent_at", "sent_at"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    )
    budget: str = Field(max_length=80)
    sent_at: float = Field(sa_type=Float)


class SpentGalleryLink(SQLModel, table=True):
    """A one-time gallery link that was opened: opening it again is refused. The link
    itself is signed and carries its user and expiry; only its nonce is kept here, and
    only until the link would have expired anyway."""

    __tablename__ = "gallery_links_spent"

    nonce: str = Field(primary_key=True, max_length=64)
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
