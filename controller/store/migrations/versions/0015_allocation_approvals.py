"""four eyes for accepted cuts: a protected site's cut waits for a second operator
(allocation_approvals)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "allocation_approvals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site", sa.String(63), nullable=False),
        sa.Column("before", sa.String(32), nullable=False),
        sa.Column("after", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_index("ix_allocation_approvals_state", "allocation_approvals", ["state"])


def downgrade() -> None:
    op.drop_index("ix_allocation_approvals_state", table_name="allocation_approvals")
    op.drop_table("allocation_approvals")
