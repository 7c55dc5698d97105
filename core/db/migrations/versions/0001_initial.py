"""Initial tables: meta, user keys, chat settings, user prefs, uploads.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(), nullable=False),
    )
    op.create_table(
        "user_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("key_ciphertext", sa.String(), nullable=False),
        sa.Column("key_fingerprint", sa.String(64), nullable=False),
        _timestamp("updated_at"),
        sa.UniqueConstraint("platform", "user_id"),
    )
    op.create_table(
        "chat_settings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("mirror_enabled", sa.Boolean(), nullable=False),
        sa.Column("mirror_set_by", sa.String(64), nullable=True),
        sa.Column("key_ciphertext", sa.String(), nullable=True),
        sa.Column("key_fingerprint", sa.String(64), nullable=True),
        sa.Column("key_set_by", sa.String(64), nullable=True),
        _timestamp("updated_at"),
        sa.UniqueConstraint("platform", "chat_id"),
    )
    op.create_table(
        "user_prefs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("default_expiry", sa.String(32), nullable=True),
        sa.Column("nsfw", sa.Boolean(), nullable=False),
        sa.Column("album_id", sa.String(64), nullable=True),
        _timestamp("updated_at"),
        sa.UniqueConstraint("platform", "user_id"),
    )
    op.create_table(
        "uploads",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("public_id", sa.String(32), nullable=False, unique=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(32), nullable=True),
        sa.Column("source_ref", sa.String(), nullable=False),
        sa.Column("source_name", sa.String(255), nullable=False),
        sa.Column("source_size", sa.BigInteger(), nullable=True),
        sa.Column("content_type", sa.String(128), nullable=True),
        sa.Column("options_json", sa.String(), nullable=False),
        sa.Column("reply_target", sa.String(), nullable=True),
        sa.Column("key_fingerprint", sa.String(64), nullable=True),
        sa.Column("content_md5", sa.String(32), nullable=True),
        sa.Column("remote_id", sa.String(64), nullable=True),
        sa.Column("media_type", sa.String(16), nullable=True),
        sa.Column("title", sa.String(255), nullable=True),
        sa.Column("url_viewer", sa.String(), nullable=True),
        sa.Column("url_direct", sa.String(), nullable=True),
        sa.Column("url_thumb", sa.String(), nullable=True),
        sa.Column("url_medium", sa.String(), nullable=True),
        sa.Column("url_display", sa.String(), nullable=True),
        sa.Column("delete_url_ciphertext", sa.String(), nullable=True),
        sa.Column("is_approved", sa.Boolean(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        _timestamp("expires_at", nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _timestamp("finished_at", nullable=True),
        _timestamp("answered_at", nullable=True),
    )
    op.create_index("ix_uploads_repeat", "uploads", ["content_md5", "key_fingerprint"])
    op.create_index("ix_uploads_owner", "uploads", ["platform", "user_id", "id"])
    op.create_index("ix_uploads_status", "uploads", ["platform", "status"])


def downgrade() -> None:
    op.drop_table("uploads")
    op.drop_table("user_prefs")
    op.drop_table("chat_settings")
    op.drop_table("user_keys")
    op.drop_table("meta")
