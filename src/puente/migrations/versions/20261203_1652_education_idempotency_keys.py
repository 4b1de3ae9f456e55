"""idempotency keys on training sessions, teaching cases and board threads and posts

Revision ID: 6a76a548781d
Revises: baf585a63866
Create Date: 2026-12-03 16:52:43.826593
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6a76a548781d"
down_revision: str | None = "baf585a63866"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TABLES = ("board_post", "board_thread", "teaching_case", "training_session")


# Unique indexes, not constraints: SQLite can add those in place, whereas a
# unique constraint makes Alembic rebuild the table, and dropping the old
# table with foreign keys on deletes its rows first (cascading to the posts
# and the attendance that point at it) or fails where a thread names a
# teaching case. Both allow any number of NULLs (rows made without a key).


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("idempotency_key", sa.String(length=160), nullable=True))
        op.create_index(f"ix_{table}_idempotency_key", table, ["idempotency_key"], unique=True)


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_idempotency_key", table_name=table)
        op.drop_column(table, "idempotency_key")  # in place on SQLite 3.35 and later
