"""Answers have a kind: typed text, or a voice recording.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

An open question answered by voice stores the recording's reference (a path relative
to RECORDINGS_DIR that the server made) as the answer's value; `kind` says which of
the two a value is. Every answer stored before this revision was typed: `text`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode: SQLite copies the table (it cannot add a CHECK to one); PostgreSQL
    # alters it in place, filling existing rows from the server default.
    with op.batch_alter_table("answers") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="text")
        )
        batch.create_check_constraint(op.f("ck_answers_kind"), "kind IN ('text', 'recording')")


def downgrade() -> None:
    with op.batch_alter_table("answers") as batch:
        batch.drop_constraint(op.f("ck_answers_kind"), type_="check")
        batch.drop_column("kind")
