"""Tracer studies, their waves, and the invitations the worker sends.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01

A study (`service-tracker study import STUDY.toml`) names a survey, cohorts, waves at
offsets from each graduate's completion date, and how to reach people. An invitation
is one attempt for a graduate and a wave, recorded before it is sent under its own key
(respondent, wave, attempt). Respondents gain `opted_out_at` and `time_zone`, and
indexes by completion date and zone: who is due for a wave is a range of completion
dates, on the day it is where they live. Respondents stored before this revision have
no zone until the roster is imported again (a study's programme zones, else UTC).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_WAVE_UNCHECKED = sa.text("NOT wave_checked AND status IN ('complete', 'refused')")


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "studies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "organisation_id", sa.Integer(),
            sa.ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False,
        ),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column(
            "survey_id", sa.Integer(), sa.ForeignKey("surveys.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("cohorts", sa.JSON(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("fallback_after_s", sa.Integer(), nullable=False),
        sa.Column("contact_start_min", sa.Integer(), nullable=False),
        sa.Column("contact_end_min", sa.Integer(), nullable=False),
        sa.Column("retries_s", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("wave_window_s", sa.Integer(), nullable=False),
        sa.Column("time_zones", sa.JSON(), nullable=False),
        sa.Column("airtime_currency", sa.String(length=3), nullable=True),
        sa.Column("airtime_amount", sa.String(length=16), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.UniqueConstraint("organisation_id", "name"),
    )  # fmt: skip
    op.create_table(
        "study_waves",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "study_id", sa.Integer(), sa.ForeignKey("studies.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("offset_months", sa.Integer(), nullable=False),
        sa.Column("offset_days", sa.Integer(), nullable=False),
        sa.UniqueConstraint("study_id", "name"),
    )  # fmt: skip
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "study_id", sa.Integer(), sa.ForeignKey("studies.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "wave_id", sa.Integer(), sa.ForeignKey("study_waves.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "respondent_id", sa.Integer(),
            sa.ForeignKey("respondents.id", ondelete="CASCADE"), nullable=False,
        ),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _when("created_at"),
        _when("send_after"),
        _when("sent_at", nullable=True),
        sa.Column("provider_ref", sa.String(length=255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("delivery_status", sa.String(length=16), nullable=True),
        _when("delivery_at", nullable=True),
        sa.UniqueConstraint("respondent_id", "wave_id", "attempt"),
    )  # fmt: skip
    op.create_index("ix_invitations_wave_id_status", "invitations", ["wave_id", "status"])
    op.create_table(
        "airtime",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "study_id", sa.Integer(), sa.ForeignKey("studies.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "wave_id", sa.Integer(), sa.ForeignKey("study_waves.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "respondent_id", sa.Integer(),
            sa.ForeignKey("respondents.id", ondelete="CASCADE"), nullable=False,
        ),
        sa.Column("amount", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.String(length=255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _when("created_at"),
        _when("sent_at", nullable=True),
        sa.UniqueConstraint("respondent_id", "wave_id"),
    )  # fmt: skip
    op.create_index("ix_invitations_provider_ref", "invitations", ["provider_ref"])
    with op.batch_alter_table("respondents") as batch:
        batch.add_column(_when("opted_out_at", nullable=True))
        batch.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_respondents_organisation_id_completion_date",
        "respondents",
        ["organisation_id", "completion_date"],
    )
    op.create_index(
        "ix_respondents_organisation_id_time_zone", "respondents", ["organisation_id", "time_zone"]
    )
    with op.batch_alter_table("responses") as batch:
        batch.add_column(
            sa.Column(
                "wave_id", sa.Integer(),
                sa.ForeignKey("study_waves.id", ondelete="SET NULL",
                              name="fk_responses_wave_id_study_waves"),
                nullable=True,
            )
        )  # fmt: skip
        batch.add_column(
            sa.Column("wave_checked", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index("ix_responses_wave_id", "responses", ["wave_id"])
    op.create_index(
        "ix_responses_wave_unchecked",
        "responses",
        ["survey_id"],
        postgresql_where=_WAVE_UNCHECKED,
        sqlite_where=_WAVE_UNCHECKED,
    )


def downgrade() -> None:
    op.drop_index("ix_responses_wave_unchecked", table_name="responses")
    op.drop_index("ix_responses_wave_id", table_name="responses")
    with op.batch_alter_table("responses") as batch:
        batch.drop_column("wave_checked")
        batch.drop_column("wave_id")
    op.drop_index("ix_respondents_organisation_id_time_zone", table_name="respondents")
    op.drop_index("ix_respondents_organisation_id_completion_date", table_name="respondents")
    with op.batch_alter_table("respondents") as batch:
        batch.drop_column("time_zone")
        batch.drop_column("opted_out_at")
    op.drop_table("airtime")
    op.drop_index("ix_invitations_provider_ref", table_name="invitations")
    op.drop_index("ix_invitations_wave_id_status", table_name="invitations")
    op.drop_table("invitations")
    op.drop_table("study_waves")
    op.drop_table("studies")
