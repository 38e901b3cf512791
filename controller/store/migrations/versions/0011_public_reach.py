"""Public-WiFi reach per hotspot and closed day or month (portal_reach); wall sessions

- portal_reach: the reach of each hotspot's closed local days and months;
- web_sessions.api_token_id: a wall screen's session ends with the display token it came from.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("web_sessions") as batch:
        batch.add_column(sa.Column("api_token_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_web_sessions_api_token_id", "api_tokens",
                                 ["api_token_id"], ["id"], ondelete="CASCADE")
        batch.create_index("ix_web_sessions_api_token_id", ["api_token_id"])
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
    with op.batch_alter_table("web_sessions") as batch:
        batch.drop_index("ix_web_sessions_api_token_id")
        batch.drop_constraint("fk_web_sessions_api_token_id", type_="foreignkey")
        batch.drop_column("api_token_id")
