"""Allocation schedules in time: which allocation a site has at a moment, in its own zone,
and the windows as RouterOS simple-queue `time=` strings for the config templates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from controller.inventory import (
    DAYS,
    HOLIDAY,
    TZ_ABBREV,
    TZ_OFFSET_MIN,
    Inventory,
    ScheduleWindow,
    Site,
)
from controller.units import Allocation, format_rate

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def local_time(site: Site, when: datetime) -> datetime:
    """The wall-clock time at the site (WIB, WITA or WIT) of an aware datetime."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(ZoneInfo(site.timezone))


def holiday_dates(inventory: Inventory | None) -> set[date]:
    return {h.date for h in inventory.holidays.values()} if inventory else set()


def window_at(
    site: Site, when: datetime, holidays: set[date] | None = None
) -> ScheduleWindow | None:
    """The schedule window in force at `when` (None: the site's own allocation applies)."""
    local = local_time(site, when)
    day = DAYS[local.weekday()]
    return site.window_at(day, local.hour * 60 + local.minute, local.date() in (holidays or ()))


def allocation_at(site: Site, when: datetime, holidays: set[date] | None = None) -> Allocation:
    window = window_at(site, when, holidays)
    return window.allocation.resolve(site.allocation) if window else site.allocation


def window_at_ts(site: Site, ts: float, holidays: set[date] | None = None
                 ) -> ScheduleWindow | None:
    """window_at for a Unix time, by integer arithmetic (Indonesian zones keep no DST)."""
    local = int(ts) + TZ_OFFSET_MIN[site.timezone] * 60
    days = local // 86400
    on_holiday = bool(holidays) and date.fromordinal(_EPOCH_ORDINAL + days) in holidays  # type: ignore[operator]
    return site.window_at(DAYS[(days + 3) % 7], (local % 86400) // 60, on_holiday)


def allocation_at_ts(site: Site, ts: float, holidays: set[date] | None = None) -> Allocation:
    window = window_at_ts(site, ts, holidays)
    return window.allocation.resolve(site.allocation) if window else site.allocation


def is_base_allocation(site: Site, ts: float, holidays: set[date] | None = None) -> bool:
    """True when no window applies, or the window gives the site its own allocation."""
    window = window_at(site, datetime.fromtimestamp(ts, UTC), holidays)
    return window is None or window.allocation.resolve(site.allocation) == site.allocation


def routeros_duration(minute: int) -> str:
    """450 -> '7h30m', 0 -> '0s', 1440 -> '1d' (RouterOS time syntax)."""
    if minute == 0:
        return "0s"
    if minute == 1440:
        return "1d"
    hours, mins = divmod(minute, 60)
    return (f"{hours}h" if hours else "") + (f"{mins}m" if mins else "")


def routeros_rate(bps: int) -> str:
    return format_rate(bps)


@dataclass(frozen=True)
class QueueWindow:
    """One RouterOS simple queue of a schedule window (max-limit is upload/download there)."""

    name: str
    time: str
    down_bps: int
    up_bps: int
    comment: str

    @property
    def max_limit(self) -> str:
        return f"{routeros_rate(self.up_bps)}/{routeros_rate(self.down_bps)}"


def queue_windows(site: Site, inventory: Inventory | None = None,
                  today: date | None = None) -> list[QueueWindow]:
    """The site's schedule as simple queues with `time=`, one per window and time range.

    RouterOS cannot name dates, so `holiday` windows are rendered (for all seven days)
    only when `today` is one of the inventory's holidays: a push on that date (and the
    day after) applies them. The site's own allocation stays the queue without `time=`,
    placed after these.
    """
    holidays = holiday_dates(inventory)
    on_holiday = today is not None and today in holidays and any(
        HOLIDAY in w.days for w in site.schedule)
    zone = TZ_ABBREV[site.timezone]
    out: list[QueueWindow] = []
    for window in site.schedule:
        if on_holiday:
            if HOLIDAY not in window.days:
                continue
            days = list(DAYS)
        else:
            days = [d for d in window.days if d != HOLIDAY]
            if not days:
                continue
        alloc = window.allocation.resolve(site.allocation)
        for index, (start, end) in enumerate(window.times):
            suffix = f"-{index + 1}" if len(window.times) > 1 else ""
            out.append(QueueWindow(
                name=f"simpul-{site.code}-{window.name}{suffix}",
                time=f"{routeros_duration(start)}-{routeros_duration(end)},{','.join(days)}",
                down_bps=alloc.down_bps,
                up_bps=alloc.up_bps,
                comment=f"simpul schedule {window.name} ({zone}, {window.allocation})",
            ))
    return out
