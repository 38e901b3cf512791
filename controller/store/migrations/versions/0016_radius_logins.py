"""One-time RADIUS credentials and the NAS's accounting of them (portal_radius_logins)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_radius_logins",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("hotspot", sa.String(63), nullable=False),
        sa.Column("username", sa.String(32), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(64), nullable=False),
        sa.Column("mac_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acct_session_id", sa.String(64), nullable=True),
        sa.Column("acct_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acct_stopped", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_portal_radius_logins_session_id", "portal_radius_logins",
                    ["session_id"])


def downgrade() -> None:
    op.drop_index("ix_portal_radius_logins_session_id", "portal_radius_logins")
    op.drop_table("portal_radius_logins")
