"""Writing a device's drift state (the config_drift table): from a drift round, and from a
push's own verify step, so a push is reflected at once rather than at the next round."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from controller.store.models import ConfigDrift

STATES = ("in_sync", "drifted", "error")


def save_drift(session: Session, device: str, state: str, diff: str | None = None,
               error: str | None = None, when: datetime | None = None) -> None:
    """Record `device`'s latest drift state (one row per device, replaced)."""
    if state not in STATES:
        raise ValueError(f"unknown drift state {state!r}")
    row = session.get(ConfigDrift, device) or ConfigDrift(device=device)
    row.checked_at = when or datetime.now(UTC)
    row.status = state
    row.diff = diff or None
    row.error = error
    session.add(row)
