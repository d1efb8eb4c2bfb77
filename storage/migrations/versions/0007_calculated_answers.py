"""Answers may be calculated: values the survey computed, not what a respondent said.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

A `calculate` row, a `hidden` value and the metadata the system fills (`start`, `end`,
`today`, `phonenumber`, `deviceid`) are stored beside the answers with the kind
`calculated`, so an export tells them from what a respondent typed or said. Rows
stored before this revision keep their kind.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode: SQLite copies the table to change a CHECK; PostgreSQL alters it.
    with op.batch_alter_table("answers") as batch:
        batch.drop_constraint(op.f("ck_answers_kind"), type_="check")
        batch.create_check_constraint(
            op.f("ck_answers_kind"), "kind IN ('text', 'recording', 'calculated')"
        )


def downgrade() -> None:
    # Calculated values cannot be kept under the old constraint: they are dropped.
    op.execute("DELETE FROM answers WHERE kind = 'calculated'")
    with op.batch_alter_table("answers") as batch:
        batch.drop_constraint(op.f("ck_answers_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_answers_kind"), "kind IN ('text', 'recording')")
