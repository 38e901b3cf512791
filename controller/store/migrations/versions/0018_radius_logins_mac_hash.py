"""Index portal_radius_logins.mac_hash: a Disconnect-Request looks the client's login up by it

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_portal_radius_logins_mac_hash", "portal_radius_logins", ["mac_hash"])


def downgrade() -> None:
    op.drop_index("ix_portal_radius_logins_mac_hash", "portal_radius_logins")
