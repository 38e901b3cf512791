"""bandwidth rollups: 5-minute and hourly per-site samples, last counter readings

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bandwidth_5m",
        sa.Column("site", sa.String(63), primary_key=True),
        sa.Column("ts", sa.BigInteger(), primary_key=True),
        sa.Column("in_bytes", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("out_bytes", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("covered_s", sa.Float(), nullable=False, server_default="0"),
    )
    op.create_index("ix_bandwidth_5m_ts", "bandwidth_5m", ["ts"])
    op.create_table(
        "bandwidth_1h",
        sa.Column("site", sa.String(63), primary_key=True),
        sa.Column("ts", sa.BigInteger(), primary_key=True),
        sa.Column("in_bytes", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("out_bytes", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("covered_s", sa.Float(), nullable=False, server_default="0"),
        sa.Column("in_peak_bps", sa.Float(), nullable=False, server_default="0"),
        sa.Column("out_peak_bps", sa.Float(), nullable=False, server_default="0"),
        sa.Column("samples", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_bandwidth_1h_ts", "bandwidth_1h", ["ts"])
    op.create_table(
        "bandwidth_counters",
        sa.Column("device", sa.String(63), primary_key=True),
        sa.Column("interface", sa.String(128), primary_key=True),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("uptime_s", sa.Float(), nullable=True),
        sa.Column("in_octets", sa.String(20), nullable=False),
        sa.Column("out_octets", sa.String(20), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("bandwidth_counters")
    op.drop_table("bandwidth_1h")
    op.drop_table("bandwidth_5m")
