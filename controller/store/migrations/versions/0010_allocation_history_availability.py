"""Allocation history and availability runs (accountability)

- allocation_changes: each site's allocation and schedule from a moment on, with who set it;
- availability_runs: up/down runs of ISP links and sites (gaps are time without data).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "allocation_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site", sa.String(63), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("allocation", sa.String(32), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
    )
    op.create_index("ix_allocation_changes_site_at", "allocation_changes", ["site", "at"])
    op.create_table(
        "availability_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("start_ts", sa.BigInteger(), nullable=False),
        sa.Column("end_ts", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_availability_runs_subject", "availability_runs",
                    ["kind", "subject", "start_ts"])


def downgrade() -> None:
    op.drop_index("ix_availability_runs_subject", table_name="availability_runs")
    op.drop_table("availability_runs")
    op.drop_index("ix_allocation_changes_site_at", table_name="allocation_changes")
    op.drop_table("allocation_changes")
