"""Files imported beside a form version: the CSV lists of select_one_from_file.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

`survey import FORM --media DIR` stores the files the form names with the version, so
the version compiles the same wherever and whenever it is loaded.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "survey_media",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_version_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["survey_version_id"],
            ["survey_versions.id"],
            name=op.f("fk_survey_media_survey_version_id_survey_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_media")),
        sa.UniqueConstraint(
            "survey_version_id", "name", name=op.f("uq_survey_media_survey_version_id_name")
        ),
    )


def downgrade() -> None:
    op.drop_table("survey_media")
