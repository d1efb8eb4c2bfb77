"""A survey is published or closed.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01

Staff close a survey on the admin site when its fieldwork is over: its USSD codes and
IVR numbers stay bound, but no new session starts (the caller hears, in their
language, that the survey is closed). Publishing it again reopens it. Every survey
stored before this revision was reachable, so it is published.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("surveys") as batch:
        batch.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="published")
        )


def downgrade() -> None:
    with op.batch_alter_table("surveys") as batch:
        batch.drop_column("status")
