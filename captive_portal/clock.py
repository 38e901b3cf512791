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


def local_day_label(now: datetime, timezone: str) -> str:
    """`now`'s date in the site's zone, e.g. '2026-11-27'."""
    return aware(now).astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d")


def local_month_start(now: datetime, timezone: str) -> datetime:
    """The first midnight of `now`'s month in the site's zone, as UTC."""
    local = aware(now).astimezone(ZoneInfo(timezone))
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start.astimezone(UTC)


def next_local_day_start(now: datetime, timezone: str) -> datetime:
    """The next midnight in the site's zone, as UTC (a day may be 23-25 hours long)."""
    local = aware(now).astimezone(ZoneInfo(timezone))
    tomorrow = (local.replace(hour=12) + timedelta(days=1)).date()
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day,
                    tzinfo=ZoneInfo(timezone)).astimezone(UTC)
