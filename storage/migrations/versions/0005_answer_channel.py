"""Answers know the channel they were given on.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

A response resumed on another channel (a redial by voice after USSD) moves
`responses.channel` to the new one; the export names, for each answer, the channel it
was given on. Every answer stored before this revision takes its response's channel:
until now a response never changed channel in practice (USSD only).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable first, filled from the responses, then required: both databases can add
    # a nullable column in place; SQLite copies the table for the NOT NULL (batch mode).
    op.add_column("answers", sa.Column("channel", sa.String(length=16), nullable=True))
    op.execute(
        "UPDATE answers SET channel ="
        " (SELECT responses.channel FROM responses WHERE responses.id = answers.response_id)"
    )
    with op.batch_alter_table("answers") as batch:
        batch.alter_column("channel", existing_type=sa.String(length=16), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("answers") as batch:
        batch.drop_column("channel")
