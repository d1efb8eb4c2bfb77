"""The dashboard counts graduates, not answers.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01

`outcome_facts` keeps, per survey and graduate, what the dashboard's figures need:
their complete responses and refusal, and the indicator answers of their latest (and
first) complete response. The dashboard keeps it up to date itself
(storage.outcome_facts): `responses.counted` says which ended responses it holds, and
`surveys.outcomes_mapping` which questions it extracted, `surveys.outcomes_version`
counts its changes and `respondents.grouped_at` says when a respondent's place in the
dashboard's groups last changed (both for the dashboard's cache). Nothing is filled here: every
response stored before this revision is uncounted, so the first dashboard view of a
survey counts them once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNCOUNTED = sa.text("NOT counted AND status IN ('complete', 'refused')")


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("responses") as batch:
        batch.add_column(
            sa.Column("counted", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index(
        "ix_responses_uncounted",
        "responses",
        ["survey_id"],
        postgresql_where=_UNCOUNTED,
        sqlite_where=_UNCOUNTED,
    )
    with op.batch_alter_table("surveys") as batch:
        batch.add_column(sa.Column("outcomes_mapping", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("outcomes_version", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("respondents") as batch:
        batch.add_column(sa.Column("grouped_at", sa.DateTime(timezone=True), nullable=True))
    # Every respondent stored so far may be in a group: as of its last change.
    op.execute("UPDATE respondents SET grouped_at = updated_at")
    op.create_index(
        "ix_respondents_organisation_id_grouped_at",
        "respondents",
        ["organisation_id", "grouped_at"],
    )
    op.create_table(
        "outcome_facts",
        sa.Column(
            "survey_id", sa.Integer(), sa.ForeignKey("surveys.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "respondent_id", sa.Integer(),
            sa.ForeignKey("respondents.id", ondelete="CASCADE"), primary_key=True,
        ),
        sa.Column("completes", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Boolean(), nullable=False),
        sa.Column("first_response_id", sa.Integer(), nullable=True),
        sa.Column("latest_response_id", sa.Integer(), nullable=True),
        sa.Column("employment", sa.Text(), nullable=True),
        sa.Column("months_to_job", sa.Text(), nullable=True),
        sa.Column("related", sa.Text(), nullable=True),
        sa.Column("further_education", sa.Text(), nullable=True),
        sa.Column("latest_values", _json(), nullable=True),
        sa.Column("first_values", _json(), nullable=True),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("outcome_facts")
    op.drop_index("ix_respondents_organisation_id_grouped_at", table_name="respondents")
    with op.batch_alter_table("respondents") as batch:
        batch.drop_column("grouped_at")
    with op.batch_alter_table("surveys") as batch:
        batch.drop_column("outcomes_version")
        batch.drop_column("outcomes_mapping")
    op.drop_index("ix_responses_uncounted", table_name="responses")
    with op.batch_alter_table("responses") as batch:
        batch.drop_column("counted")
