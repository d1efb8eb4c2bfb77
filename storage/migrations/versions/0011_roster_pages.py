"""The admin site's respondents pages: uploads held between preview and import, and the
indexes that keep a roster of 100,000 fast to search, filter and page.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

`admin_uploads` keeps a roster file between its preview and its confirmation, for the
officer who sent it, for an hour (`storage.uploads`). The list of respondents is read
by organisation in name order, filtered by programme or cohort, with the status of each
one's latest response (`storage.roster`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = (
    ("ix_respondents_organisation_id_name", "respondents", ["organisation_id", "name", "id"]),
    ("ix_respondents_organisation_id_programme", "respondents", ["organisation_id", "programme"]),
    ("ix_respondents_organisation_id_cohort", "respondents", ["organisation_id", "cohort"]),
    ("ix_responses_respondent_id_id", "responses", ["respondent_id", "id"]),
)


def upgrade() -> None:
    op.create_table(
        "admin_uploads",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_admin_uploads_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_admin_uploads_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_admin_uploads")),
    )
    op.create_index(op.f("ix_admin_uploads_held_at"), "admin_uploads", ["held_at"])
    for name, table, columns in _INDEXES:
        op.create_index(op.f(name), table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(_INDEXES):
        op.drop_index(op.f(name), table_name=table)
    op.drop_index(op.f("ix_admin_uploads_held_at"), table_name="admin_uploads")
    op.drop_table("admin_uploads")
