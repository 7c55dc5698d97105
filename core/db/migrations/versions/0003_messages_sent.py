"""The messages every instance sent, counted against Telegram's shared rate limits.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "messages_sent",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("budget", sa.String(80), nullable=False),
        sa.Column("sent_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_messages_sent_budget", "messages_sent", ["budget", "sent_at"])
    op.create_index("ix_messages_sent_at", "messages_sent", ["sent_at"])


def downgrade() -> None:
    op.drop_table("messages_sent")
