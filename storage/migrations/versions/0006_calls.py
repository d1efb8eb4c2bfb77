"""The call log: one row per outbound survey call placed through AMI.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

`ivr.dialer` writes a row when it places a call, the outcome Asterisk reports
(`OriginateResponse`) and, for an answered call, the hang-up. A new table: nothing
stored before this revision changes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Integer(), nullable=True),
        sa.Column("unique_id", sa.String(length=150), nullable=True),
        sa.Column("channel", sa.String(length=255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('answered', 'busy', 'no_answer', 'failed')",
            name=op.f("ck_calls_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"],
            ["surveys.id"],
            name=op.f("fk_calls_survey_id_surveys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
    )
    op.create_index("ix_calls_phone", "calls", ["phone"])
    op.create_index("ix_calls_survey_id_placed_at", "calls", ["survey_id", "placed_at"])


def downgrade() -> None:
    op.drop_index("ix_calls_survey_id_placed_at", table_name="calls")
    op.drop_index("ix_calls_phone", table_name="calls")
    op.drop_table("calls")
