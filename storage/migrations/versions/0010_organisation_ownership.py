"""Every survey and respondent belongs to an organisation.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

Staff see only their own organisation's surveys and graduates, so `surveys` and
`respondents` gain a required `organisation_id`. Rows stored before this revision go to
an organisation named `Default` (made when there are such rows and it does not exist).

A number is unique within an organisation, not across the service: two agencies may
trace the same graduate, each with its own record. So `UNIQUE(phone)` becomes
`UNIQUE(organisation_id, phone)`, which also serves the dial-in lookup. A downgrade puts
the global `UNIQUE(phone)` back: it fails while a number is on two organisations'
rosters (delete one of the records first).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT = "Default"


def upgrade() -> None:
    for table in ("surveys", "respondents"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("organisation_id", sa.Integer(), nullable=True))
    conn = op.get_bind()
    has_rows = any(
        conn.execute(sa.text(f"SELECT 1 FROM {table} LIMIT 1")).first() is not None
        for table in ("surveys", "respondents")
    )
    if has_rows:
        op.execute(
            f"INSERT INTO organisations (name, created_at) SELECT '{DEFAULT}', CURRENT_TIMESTAMP "
            f"WHERE NOT EXISTS (SELECT 1 FROM organisations WHERE name = '{DEFAULT}')"
        )
        for table in ("surveys", "respondents"):
            op.execute(
                f"UPDATE {table} SET organisation_id = "
                f"(SELECT id FROM organisations WHERE name = '{DEFAULT}')"
            )
    with op.batch_alter_table("surveys") as batch:
        batch.alter_column("organisation_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(
            op.f("fk_surveys_organisation_id_organisations"),
            "organisations",
            ["organisation_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_index(op.f("ix_surveys_organisation_id"), ["organisation_id"])
    with op.batch_alter_table("respondents") as batch:
        batch.alter_column("organisation_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(
            op.f("fk_respondents_organisation_id_organisations"),
            "organisations",
            ["organisation_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.drop_constraint(op.f("uq_respondents_phone"), type_="unique")
        batch.create_unique_constraint(
            op.f("uq_respondents_organisation_id_phone"), ["organisation_id", "phone"]
        )


def downgrade() -> None:
    with op.batch_alter_table("respondents") as batch:
        batch.drop_constraint(op.f("uq_respondents_organisation_id_phone"), type_="unique")
        batch.create_unique_constraint(op.f("uq_respondents_phone"), ["phone"])
        batch.drop_constraint(
            op.f("fk_respondents_organisation_id_organisations"), type_="foreignkey"
        )
        batch.drop_column("organisation_id")
    with op.batch_alter_table("surveys") as batch:
        batch.drop_index(op.f("ix_surveys_organisation_id"))
        batch.drop_constraint(op.f("fk_surveys_organisation_id_organisations"), type_="foreignkey")
        batch.drop_column("organisation_id")
