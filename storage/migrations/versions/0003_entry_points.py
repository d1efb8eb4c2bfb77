"""Entry points by channel, and an opaque turn reference.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

The interview layer serves every channel, so what reaches a survey is an address on a
channel (`entry_points`: a USSD code as dialled, an IVR number, an SMS short code)
rather than a USSD-only binding, and a response remembers the channel's reference of
its last turn (`turn_ref`) rather than "the gateway's input history".

USSD bindings become entry points whose address is the code as dialled: service code
`*384*123#` with extension `2` is `*384*123*2#`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DIALLED = (
    "CASE WHEN extension = '' THEN service_code "
    "ELSE substr(service_code, 1, length(service_code) - 1) || '*' || extension || '#' END"
)


def upgrade() -> None:
    op.create_table(
        "entry_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("roster_only", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["survey_id"],
            ["surveys.id"],
            name=op.f("fk_entry_points_survey_id_surveys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entry_points")),
        sa.UniqueConstraint("channel", "address", name=op.f("uq_entry_points_channel_address")),
    )
    op.execute(
        "INSERT INTO entry_points (channel, address, survey_id, roster_only) "
        f"SELECT 'ussd', {_DIALLED}, survey_id, roster_only FROM ussd_bindings"
    )
    op.drop_table("ussd_bindings")
    with op.batch_alter_table("responses") as batch:
        batch.alter_column("last_input_ref", new_column_name="turn_ref")


def downgrade() -> None:
    with op.batch_alter_table("responses") as batch:
        batch.alter_column("turn_ref", new_column_name="last_input_ref")
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
    # Only USSD entry points have a binding to go back to. A dialled code is not split
    # back into code and extension (how many segments the base has is not recorded):
    # codes with an extension must be bound again after a downgrade.
    op.execute(
        "INSERT INTO ussd_bindings (service_code, extension, survey_id, roster_only) "
        "SELECT address, '', survey_id, roster_only FROM entry_points WHERE channel = 'ussd'"
    )
    op.drop_table("entry_points")
