"""holiday schedule pushes: the last local date handled per device

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedule_push_state",
        sa.Column("device", sa.String(63), primary_key=True),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("holiday", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("schedule_push_state")
