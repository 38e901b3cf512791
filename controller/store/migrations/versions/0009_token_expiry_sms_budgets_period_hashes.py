"""API token expiry and revocation time; SMS budgets; MAC hashes keyed by period

- api_tokens: expires_at (NULL: never, only for display accounts) and revoked_at;
- portal_sms_counts: SMS sent per hour/day window and scope (device, hotspot, all);
- portal_sessions: client_hash becomes nullable (the day's hash, erased when the day closes)
  and month_hash holds the month's hash (erased once the closed month is counted into
  portal_monthly_devices), indexed so the hashes still to erase are found without a scan.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("portal_sessions") as batch:
        batch.alter_column("client_hash", existing_type=sa.String(64), nullable=True)
        batch.add_column(sa.Column("month_hash", sa.String(64), nullable=True))
    op.create_index("ix_portal_sessions_month", "portal_sessions",
                    ["month_hash", "hotspot", "started_at"])
    op.create_table(
        "portal_sms_counts",
        sa.Column("period", sa.String(24), primary_key=True),
        sa.Column("scope", sa.String(80), primary_key=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    op.create_index("ix_portal_sms_counts_ends_at", "portal_sms_counts", ["ends_at"])
    op.create_table(
        "portal_monthly_devices",
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("hotspot", sa.String(63), primary_key=True),
        sa.Column("devices", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("portal_monthly_devices")
    op.drop_index("ix_portal_sms_counts_ends_at", table_name="portal_sms_counts")
    op.drop_table("portal_sms_counts")
    op.drop_index("ix_portal_sessions_month", table_name="portal_sessions")
    op.execute("UPDATE portal_sessions SET client_hash = '' WHERE client_hash IS NULL")
    with op.batch_alter_table("portal_sessions") as batch:
        batch.drop_column("month_hash")
        batch.alter_column("client_hash", existing_type=sa.String(64), nullable=False)
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("revoked_at")
        batch.drop_column("expires_at")
