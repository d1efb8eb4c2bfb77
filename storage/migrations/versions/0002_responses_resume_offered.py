"""Responses remember that a resume offer is on screen.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

A redial within the resume window attaches the unfinished response to the new session
and offers to continue or start again. If the live session record is lost while that
offer is on screen, the next key ("1" or "2") is the answer to the offer, not to the
next question: SQL must say so for the session to continue correctly from SQL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("responses") as batch:
        batch.add_column(
            sa.Column("resume_offered", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("responses") as batch:
        batch.drop_column("resume_offered")
