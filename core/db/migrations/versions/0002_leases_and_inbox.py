"""Jobs with an owner and a lease, an origin that makes them idempotent, a secret for
the answer; the inbox of platform events not yet handled.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("uploads") as uploads:
        uploads.add_column(sa.Column("reply_secret_ciphertext", sa.String(), nullable=True))
        uploads.add_column(sa.Column("origin", sa.String(128), nullable=True))
        uploads.add_column(sa.Column("lease_owner", sa.String(96), nullable=True))
        uploads.add_column(_timestamp("lease_until", nullable=True))
        uploads.create_unique_constraint("uq_uploads_origin", ["platform", "origin"])
    op.create_index("ix_uploads_open", "uploads", ["platform", "answered_at", "lease_until"])
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("event_key", sa.String(64), nullable=False),
        sa.Column("payload_ciphertext", sa.String(), nullable=False),
        _timestamp("received_at"),
        _timestamp("done_at", nullable=True),
        sa.Column("note", sa.String(), nullable=True),
        sa.Column("lease_owner", sa.String(96), nullable=True),
        _timestamp("lease_until", nullable=True),
        sa.UniqueConstraint("platform", "event_key"),
    )
    op.create_index("ix_inbox_open", "inbox", ["platform", "done_at", "lease_until"])


def downgrade() -> None:
    op.drop_table("inbox")
    op.drop_index("ix_uploads_open", "uploads")
    with op.batch_alter_table("uploads") as uploads:
        uploads.drop_constraint("uq_uploads_origin", type_="unique")
        for name in ("lease_until", "lease_owner", "origin", "reply_secret_ciphertext"):
            uploads.drop_column(name)
