"""Per-interface 5-minute and hourly rollups (interface_5m, interface_1h)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("interface_5m", "interface_1h"):
        op.create_table(
            table,
            sa.Column("device", sa.String(63), primary_key=True),
            sa.Column("interface", sa.String(128), primary_key=True),
            sa.Column("ts", sa.BigInteger(), primary_key=True),
            sa.Column("in_bytes", sa.BigInteger(), nullable=False, server_default="0"),
            sa.Column("out_bytes", sa.BigInteger(), nullable=False, server_default="0"),
            sa.Column("covered_s", sa.Float(), nullable=False, server_default="0"),
            sa.Column("speed_bps", sa.BigInteger(), nullable=True),
        )
        op.create_index(f"ix_{table}_ts", table, ["ts"])


def downgrade() -> None:
    op.drop_table("interface_1h")
    op.drop_table("interface_5m")
