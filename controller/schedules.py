"""Allocation schedules in time: the window and allocation in force for a site at a moment,
in its own zone and on holidays; and the week as the RouterOS queues and scheduler entries and
the nftables spans that the config templates render."""

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
    minute_label,
)
from controller.units import Allocation, format_rate

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

Moment = datetime | float  # an aware datetime, or a Unix time in seconds


def local_time(site: Site, when: datetime) -> datetime:
    """The wall-clock time at the site (WIB, WITA or WIT) of an aware datetime."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(ZoneInfo(site.timezone))


def holiday_dates(inventory: Inventory | None) -> set[date]:
    return {h.date for h in inventory.holidays.values()} if inventory else set()


def window_at(
    site: Site, when: Moment, holidays: set[date] | None = None
) -> ScheduleWindow | None:
    """The schedule window in force at `when` (None: the site's own allocation applies).

    A Unix time is read by integer arithmetic (Indonesian zones keep no DST), fast enough
    for every sample of a month's statistics.
    """
    if isinstance(when, datetime):
        local = local_time(site, when)
        day = DAYS[local.weekday()]
        return site.window_at(day, local.hour * 60 + local.minute,
                              local.date() in (holidays or ()))
    seconds = int(when) + TZ_OFFSET_MIN[site.timezone] * 60
    days = seconds // 86400
    on_holiday = bool(holidays) and date.fromordinal(_EPOCH_ORDINAL + days) in holidays  # type: ignore[operator]
    return site.window_at(DAYS[(days + 3) % 7], (seconds % 86400) // 60, on_holiday)


def allocation_in_force(site: Site, when: Moment, holidays: set[date] | None = None
                        ) -> Allocation:
    """The allocation a site has at `when`: its schedule window's, or its own."""
    return site.allocation_during(window_at(site, when, holidays))


def routeros_duration(minute: int) -> str:
    """450 -> '7h30m', 0 -> '0s', 1440 -> '1d' (RouterOS time syntax)."""
    if minute == 0:
        return "0s"
    if minute == 1440:
        return "1d"
    hours, mins = divmod(minute, 60)
    return (f"{hours}h" if hours else "") + (f"{mins}m" if mins else "")


def routeros_max_limit(down_bps: int, up_bps: int) -> str:
    """A RouterOS simple queue's max-limit, which is upload/download (the target's view)."""
    return f"{format_rate(up_bps)}/{format_rate(down_bps)}"


@dataclass(frozen=True)
class QueueWindow:
    """One RouterOS simple queue of a schedule window."""

    name: str
    time: str
    down_bps: int
    up_bps: int
    comment: str

    @property
    def max_limit(self) -> str:
        return routeros_max_limit(self.down_bps, self.up_bps)


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
        alloc = site.allocation_during(window)
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


# --------------------------------------------------------------------------- hotspot gateways
# A hotspot gateway enforces its site's schedule on the whole client subnet. The week is cut
# into spans of constant allocation (local time); RouterOS switches one parent queue at each
# change with weekly /system scheduler entries, nftables matches each span with meta day/hour.

_NFT_DAYS = {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday",
             "fri": "Friday", "sat": "Saturday", "sun": "Sunday"}
# A Monday: weekly scheduler entries start in this week (RouterOS repeats them every 1w).
_REFERENCE_MONDAY = date(2024, 1, 1)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Span:
    """Local minutes [start, end) of one day with one allocation (window None: the site's)."""

    day: str
    start: int
    end: int
    allocation: Allocation
    window: str | None


def day_spans(site: Site, day: str, holiday: bool = False) -> list[Span]:
    """One local day cut where the allocation changes (adjacent equal spans merged)."""
    points = {0, 1440}
    for window in site.schedule:
        for start, end in window.times:
            points.update((start, end))
    cuts = sorted(points)
    spans: list[Span] = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        found = site.window_at(day, start, holiday)
        alloc = site.allocation_during(found)
        name = found.name if found else None
        if spans and spans[-1].allocation == alloc:
            spans[-1] = Span(day, spans[-1].start, end, alloc, spans[-1].window)
        else:
            spans.append(Span(day, start, end, alloc, name))
    return spans


def _clock(minute: int, second: int = 0) -> str:
    seconds = minute * 60 + second
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@dataclass(frozen=True)
class SchedulerEntry:
    """A weekly RouterOS /system scheduler entry that sets the hotspot queue's max-limit."""

    name: str
    day: str
    start_date: str
    start_time: str
    down_bps: int
    up_bps: int
    comment: str

    @property
    def max_limit(self) -> str:
        return routeros_max_limit(self.down_bps, self.up_bps)


@dataclass(frozen=True)
class NftSpan:
    """An nftables match for days and hours of the gateway's kernel clock (UTC) with one
    site-wide allocation.

    The kernel matches `meta hour` against UTC seconds since midnight and `meta day` against
    the weekday in its own zone (sys_tz, UTC unless the RTC keeps local time): see
    net/netfilter/nft_meta.c, nft_meta_weekday() and nft_meta_hour(). nft turns an "HH:MM"
    hour into UTC with the zone of the nft process that loads the file (src/meta.c,
    hour_type_parse), but takes a plain number as UTC seconds as it is; so hours are rendered
    as numbers and the rules mean the same whatever zone the gateway or its nft runs in.
    """

    days: tuple[str, ...]
    start: int
    end: int
    down_bps: int
    up_bps: int
    label: str

    @property
    def down_text(self) -> str:
        return format_rate(self.down_bps)

    @property
    def up_text(self) -> str:
        return format_rate(self.up_bps)

    @property
    def match(self) -> str:
        """`meta day {...} meta hour A-B` (UTC seconds), parts left out that match always."""
        parts = []
        if len(self.days) < 7:
            parts.append("meta day { " + ", ".join(f'"{_NFT_DAYS[d]}"' for d in self.days)
                         + " }")
        if (self.start, self.end) != (0, 1440):
            parts.append(f"meta hour {self.start * 60}-{self.end * 60 - 1}")
        return " ".join(parts)


_WEEK_MIN = 7 * 1440


def utc_spans(week: list[list[Span]], offset_min: int) -> list[NftSpan]:
    """The site's local week (Monday first) moved to UTC days and minutes, cut at UTC
    midnights, adjacent equal allocations of one UTC day merged, equal spans grouped by day.

    `offset_min` is the site's offset east of UTC (WIB: 420). A local span that crosses a UTC
    midnight becomes two, on two UTC days.
    """
    pieces: list[tuple[int, int, int, Allocation, str | None]] = []  # UTC day, minutes
    for index, spans in enumerate(week):
        for span in spans:
            begin = (index * 1440 + span.start - offset_min) % _WEEK_MIN
            length = span.end - span.start
            while length > 0:
                day, minute = divmod(begin, 1440)
                take = min(length, 1440 - minute)
                pieces.append((day, minute, minute + take, span.allocation, span.window))
                begin = (begin + take) % _WEEK_MIN
                length -= take
    pieces.sort(key=lambda p: (p[0], p[1]))
    merged: list[tuple[int, int, int, Allocation, str | None]] = []
    for piece in pieces:
        last = merged[-1] if merged else None
        if last and last[0] == piece[0] and last[2] == piece[1] and last[3] == piece[3]:
            merged[-1] = (last[0], last[1], piece[2], last[3], last[4])
        else:
            merged.append(piece)
    grouped: dict[tuple[int, int, Allocation, str | None], list[str]] = {}
    for day, start, end, alloc, window in merged:
        grouped.setdefault((start, end, alloc, window), []).append(DAYS[day])
    return [NftSpan(days=tuple(days), start=start, end=end, down_bps=alloc.down_bps,
                    up_bps=alloc.up_bps, label=window or "alokasi")
            for (start, end, alloc, window), days in grouped.items()]


@dataclass(frozen=True)
class HotspotSchedule:
    """What a hotspot gateway's template needs to enforce its site's schedule."""

    site: str
    zone: str
    timezone: str
    now_allocation: Allocation
    now_window: str | None
    on_holiday: bool
    schedulers: list[SchedulerEntry]
    nft_spans: list[NftSpan]

    @property
    def now_max_limit(self) -> str:
        return routeros_max_limit(self.now_allocation.down_bps, self.now_allocation.up_bps)


def hotspot_schedule(site: Site, queue: str, inventory: Inventory | None = None,
                     now: datetime | None = None) -> HotspotSchedule:
    """The site's week as RouterOS scheduler entries and nftables spans, rendered at `now`.

    Like `queue_windows`, holiday windows take every day's place only when the site's local
    date at `now` is a holiday (a push on that date applies them). `queue` is the RouterOS
    queue the scheduler entries switch.
    """
    now = now or utc_now()
    holidays = holiday_dates(inventory)
    local = local_time(site, now)
    on_holiday = local.date() in holidays and any(HOLIDAY in w.days for w in site.schedule)
    zone = TZ_ABBREV.get(site.timezone, site.timezone)
    week = [day_spans(site, day, on_holiday) for day in DAYS]
    schedulers: list[SchedulerEntry] = []
    flat = [span for spans in week for span in spans]
    for index, span in enumerate(flat):
        if flat[index - 1].allocation == span.allocation:  # cyclic: Sunday night -> Monday
            continue
        offset = DAYS.index(span.day)
        hhmm = f"{span.start // 60:02d}{span.start % 60:02d}"
        alloc = span.allocation
        schedulers.append(SchedulerEntry(
            name=f"{queue}-{span.day}-{hhmm}", day=span.day,
            start_date=date.fromordinal(_REFERENCE_MONDAY.toordinal() + offset).isoformat(),
            start_time=_clock(span.start), down_bps=alloc.down_bps, up_bps=alloc.up_bps,
            comment=(f"simpul schedule {span.window or 'alokasi'} {span.day} "
                     f"{minute_label(span.start)} {zone}: {format_rate(alloc.down_bps)}/"
                     f"{format_rate(alloc.up_bps)}")))
    utc_offset = local.utcoffset()
    offset_min = int(utc_offset.total_seconds() // 60) if utc_offset is not None else 0
    nft_spans = utc_spans(week, offset_min)
    current = window_at(site, now, holidays)
    return HotspotSchedule(
        site=site.code, zone=zone, timezone=site.timezone,
        now_allocation=site.allocation_during(current),
        now_window=current.name if current else None, on_holiday=on_holiday,
        schedulers=schedulers, nft_spans=nft_spans)


# --------------------------------------------------------------------------- over a period


def allocated_bit_seconds(site: Site, start_ts: int, end_ts: int,
                          holidays: set[date] | None = None) -> tuple[int, int]:
    """(allocated, beyond its own) download bit-seconds of [start_ts, end_ts): the allocation
    in force summed over time, and the part of it above the site's own allocation (what its
    schedule gave it extra, e.g. a hotspot's evenings). Exact: spans, not samples."""
    offset = TZ_OFFSET_MIN[site.timezone] * 60
    cache: dict[tuple[str, bool], list[Span]] = {}
    total = extra = 0
    t = start_ts
    while t < end_ts:
        local = t + offset
        days, second = divmod(local, 86400)
        holiday = bool(holidays) and date.fromordinal(_EPOCH_ORDINAL + days) in holidays  # type: ignore[operator]
        day = DAYS[(days + 3) % 7]
        spans = cache.setdefault((day, holiday), day_spans(site, day, holiday))
        minute = second // 60
        span = next(s for s in spans if s.start <= minute < s.end)
        stop = min(end_ts, t - second + span.end * 60)
        down = span.allocation.down_bps
        total += down * (stop - t)
        extra += max(0, down - site.allocation.down_bps) * (stop - t)
        t = stop
    return total, extra
