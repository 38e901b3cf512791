"""Public-WiFi reach per hotspot and closed day or month (portal_reach)

Revision ID: 0010_reach
Revises: 0009
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_reach"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_reach",
        sa.Column("period", sa.String(10), primary_key=True),
        sa.Column("hotspot", sa.String(63), primary_key=True),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("devices", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("peak_concurrency", sa.Integer(), nullable=False),
        sa.Column("median_session_s", sa.Integer(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("portal_reach")
