"""captive portal (sessions, vouchers, otp codes, login counts, hotspot traffic)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("hotspot", sa.String(63), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("client_ip", sa.String(45), nullable=True),
        sa.Column("client_mac", sa.String(17), nullable=True),
        sa.Column("client_hash", sa.String(64), nullable=False),
        sa.Column("phone_hash", sa.String(64), nullable=True),
        sa.Column("voucher_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(16), nullable=True),
        sa.Column("bytes_up", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("bytes_down", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("counter_up", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("counter_down", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("quota_bytes", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_portal_sessions_hotspot", "portal_sessions", ["hotspot"])
    op.create_index("ix_portal_sessions_client_hash", "portal_sessions", ["client_hash"])
    op.create_index("ix_portal_sessions_ended_at", "portal_sessions", ["ended_at"])
    op.create_table(
        "portal_vouchers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(16), nullable=False, unique=True),
        sa.Column("batch", sa.String(32), nullable=False),
        sa.Column("hotspot", sa.String(63), nullable=True),
        sa.Column("duration_s", sa.Integer(), nullable=False),
        sa.Column("uses_total", sa.Integer(), nullable=False),
        sa.Column("uses_left", sa.Integer(), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
    )
    op.create_index("ix_portal_vouchers_batch", "portal_vouchers", ["batch"])
    op.create_table(
        "portal_otp_codes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("hotspot", sa.String(63), nullable=False),
        sa.Column("phone_hash", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("used", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_portal_otp_codes_phone_hash", "portal_otp_codes", ["phone_hash"])
    op.create_table(
        "portal_login_counts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("hotspot", sa.String(63), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False, server_default="0"),
        sa.UniqueConstraint("day", "hotspot", "method", "result"),
    )
    op.create_table(
        "portal_hotspot_traffic",
        sa.Column("hotspot", sa.String(63), primary_key=True),
        sa.Column("bytes_up", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("bytes_down", sa.BigInteger(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("portal_hotspot_traffic")
    op.drop_table("portal_login_counts")
    op.drop_table("portal_otp_codes")
    op.drop_table("portal_vouchers")
    op.drop_table("portal_sessions")
