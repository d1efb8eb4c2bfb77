"""Initial schema: surveys and their versions, USSD bindings, respondents, responses, answers.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Written from `alembic revision --autogenerate` against storage/schema.py and reviewed;
tests/storage compare the migrated database with the models on SQLite and PostgreSQL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# storage.schema.UtcDateTime stores into this type; migrations stay free of app imports.
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "respondents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("programme", sa.String(length=255), nullable=False),
        sa.Column("cohort", sa.String(length=255), nullable=False),
        sa.Column("completion_date", sa.Date(), nullable=True),
        sa.Column("gender", sa.String(length=32), nullable=False),
        sa.Column("on_roster", sa.Boolean(), nullable=False),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_respondents")),
        sa.UniqueConstraint("phone", name=op.f("uq_respondents_phone")),
    )
    op.create_table(
        "surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
        sa.UniqueConstraint("form_id", name=op.f("uq_surveys_form_id")),
    )
    op.create_table(
        "survey_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.Column("source", sa.LargeBinary(), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column("languages", sa.String(length=255), nullable=False),
        sa.Column("imported_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["survey_id"],
            ["surveys.id"],
            name=op.f("fk_survey_versions_survey_id_surveys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_versions")),
        sa.UniqueConstraint(
            "survey_id", "version", name=op.f("uq_survey_versions_survey_id_version")
        ),
    )
    op.create_table(
        "ussd_bindings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_code", sa.String(length=64), nullable=False),
        sa.Column("extension", sa.String(length=64), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("roster_only", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["survey_id"],
            ["surveys.id"],
            name=op.f("fk_ussd_bindings_survey_id_surveys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ussd_bindings")),
        sa.UniqueConstraint(
            "service_code", "extension", name=op.f("uq_ussd_bindings_service_code_extension")
        ),
    )
    op.create_table(
        "responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("respondent_id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("survey_version_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("session_ref", sa.String(length=255), nullable=True),
        sa.Column("last_input_ref", sa.Text(), nullable=True),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("ended_at", UTC_DATETIME, nullable=True),
        sa.CheckConstraint(
            "status IN ('in_progress', 'complete', 'refused', 'interrupted', 'failed')",
            name=op.f("ck_responses_status"),
        ),
        sa.ForeignKeyConstraint(
            ["respondent_id"],
            ["respondents.id"],
            name=op.f("fk_responses_respondent_id_respondents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["surveys.id"], name=op.f("fk_responses_survey_id_surveys")
        ),
        sa.ForeignKeyConstraint(
            ["survey_version_id"],
            ["survey_versions.id"],
            name=op.f("fk_responses_survey_version_id_survey_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responses")),
    )
    op.create_index(
        "ix_responses_channel_session_ref", "responses", ["channel", "session_ref"]
    )
    op.create_index(
        "ix_responses_respondent_id_survey_id", "responses", ["respondent_id", "survey_id"]
    )
    op.create_table(
        "answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("answered_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name=op.f("fk_answers_response_id_responses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answers")),
        sa.UniqueConstraint(
            "response_id", "question", name=op.f("uq_answers_response_id_question")
        ),
    )


def downgrade() -> None:
    op.drop_table("answers")
    op.drop_index("ix_responses_respondent_id_survey_id", table_name="responses")
    op.drop_index("ix_responses_channel_session_ref", table_name="responses")
    op.drop_table("responses")
    op.drop_table("ussd_bindings")
    op.drop_table("survey_versions")
    op.drop_table("surveys")
    op.drop_table("respondents")
