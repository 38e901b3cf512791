"""safe pushes: a push's state (staged, paused, aborted, awaiting a second operator's approval)

- config_pushes.state: awaiting_approval | running | paused | done | aborted;
- config_pushes.stage: run only the first N devices, then pause for a confirmation;
- config_pushes.protected_sites, approved_by, continued_by, aborted_by: the four-eyes rule and
  who confirmed or stopped what (each step is in the audit log too).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("config_pushes") as batch:
        batch.add_column(sa.Column("state", sa.String(24), nullable=False,
                                   server_default="running"))
        batch.add_column(sa.Column("stage", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("protected_sites", sa.Text(), nullable=True))
        batch.add_column(sa.Column("approved_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("continued_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("aborted_by", sa.String(64), nullable=True))
        batch.create_index("ix_config_pushes_state", ["state"])


def downgrade() -> None:
    with op.batch_alter_table("config_pushes") as batch:
        batch.drop_index("ix_config_pushes_state")
        for column in ("aborted_by", "continued_by", "approved_by", "protected_sites", "stage",
                       "state"):
            batch.drop_column(column)
