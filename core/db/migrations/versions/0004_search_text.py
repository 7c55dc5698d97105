"""What a search of one's own uploads looks in (Telegram inline mode): title,
description, tags and file name, lower-cased; filled in for the uploads already there.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("uploads") as uploads:
        uploads.add_column(sa.Column("search_text", sa.String(), nullable=True))
    table = sa.table(
        "uploads",
        sa.column("id", sa.Integer()),
        sa.column("options_json", sa.String()),
        sa.column("source_name", sa.String()),
        sa.column("search_text", sa.String()),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(table.c.id, table.c.options_json, table.c.source_name))
    # The rule of core.db.tables.search_text, as it was: a migration never changes.
    for row_id, options_json, source_name in rows.all():
        options = json.loads(options_json or "{}")
        words = [options.get("title"), options.get("description"), *options.get("tags", [])]
        text = " ".join(str(word) for word in [*words, source_name] if word).lower()
        connection.execute(table.update().where(table.c.id == row_id).values(search_text=text))


def downgrade() -> None:
    with op.batch_alter_table("uploads") as uploads:
        uploads.drop_column("search_text")
