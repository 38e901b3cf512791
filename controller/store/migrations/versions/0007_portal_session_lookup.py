"""portal sessions: indexes that match the portal's questions column for column

Every portal page, RFC 8908 answer and login asks "the open session of this address at this
hotspot", and every login "this client's use today at this hotspot". With one-column indexes
SQLite (no statistics) chose the hotspot index for both and walked every session the hotspot
ever had: logins slowed as the day's sessions grew (3 ms -> seconds under a 300/s load).
- (hotspot, client_ip): a client's open session (ended sessions have client_ip erased);
- (client_hash, hotspot, started_at): a client's use today (replaces client_hash alone);
- (ended_at, hotspot): open sessions of a hotspot for the reaper and reconciler, and the
  retention purge by its prefix (replaces ended_at alone);
the hotspot-only index is dropped: the composite indexes' prefixes serve it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


NEW = {"ix_portal_sessions_hotspot_client_ip": ["hotspot", "client_ip"],
       "ix_portal_sessions_client_day": ["client_hash", "hotspot", "started_at"],
       "ix_portal_sessions_open": ["ended_at", "hotspot"]}
OLD = {"ix_portal_sessions_hotspot": ["hotspot"],
       "ix_portal_sessions_client_hash": ["client_hash"],
       "ix_portal_sessions_ended_at": ["ended_at"]}


def upgrade() -> None:
    for name, columns in NEW.items():
        op.create_index(name, "portal_sessions", columns)
    for name in OLD:
        op.drop_index(name, table_name="portal_sessions")


def downgrade() -> None:
    for name, columns in OLD.items():
        op.create_index(name, "portal_sessions", columns)
    for name in NEW:
        op.drop_index(name, table_name="portal_sessions")
