"""Time helpers: the store may hand back naive datetimes (SQLite); the portal works in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def local_day_start(now: datetime, timezone: str) -> datetime:
    """Midnight of `now`'s day in the site's zone (WIB/WITA/WIT), as UTC."""
    local = aware(now).astimezone(ZoneInfo(timezone))
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start.astimezone(UTC)


def seconds_between(start: datetime, end: datetime) -> int:
    return max(0, int((aware(end) - aware(start)) / timedelta(seconds=1)))
