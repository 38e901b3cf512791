"""Per-site figures for a period: average, 95th percentile, peak, volume, hours above 80% of
the allocation in force, flags and a ranking. Read from the store alone (no Prometheus)."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controller.allocation_history import SiteHistory, load_histories
from controller.inventory import DAYS, TZ_OFFSET_MIN, Inventory, ScheduleWindow, Site
from controller.schedules import allocation_in_force, holiday_dates
from controller.store.bandwidth import (
    FIVE_MINUTES_S,
    HOUR_S,
    Bandwidth1h,
    Bandwidth5m,
    TrafficRates,
)
from controller.units import Allocation

PeriodKind = Literal["day", "week", "month"]
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
BUSY_RATIO = 0.8          # "hours above 80% of allocation"
UNDER_USED_RATIO = 0.3    # p95 below 30% of the allocation over a month: under-used
SATURATED_RATIO = 0.9     # p95 at or above 90% of the allocation in force: saturated
MONTH_PATTERN = r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$"   # YYYY-MM, as the API and pages take it


@dataclass(frozen=True)
class Sample(TrafficRates):
    """Traffic of one site over one bucket (5 minutes or an hour)."""

    ts: int
    step_s: int
    in_bytes: int
    out_bytes: int
    covered_s: float
    in_peak_bps: float | None = None
    out_peak_bps: float | None = None


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    label: str
    start_ts: int
    end_ts: int

    @property
    def seconds(self) -> int:
        return self.end_ts - self.start_ts


def period_for(kind: PeriodKind, anchor: date, timezone: str) -> Period:
    """The day, ISO week (Monday first) or month holding `anchor`, in local time."""
    zone = ZoneInfo(timezone)
    try:
        if kind == "day":
            first, nxt, label = anchor, anchor + timedelta(days=1), anchor.isoformat()
        elif kind == "week":
            first = anchor - timedelta(days=anchor.weekday())
            nxt = first + timedelta(days=7)
            iso = first.isocalendar()
            label = f"{iso.year}-W{iso.week:02d}"
        else:
            first = anchor.replace(day=1)
            nxt = (first + timedelta(days=32)).replace(day=1)
            label = f"{first.year}-{first.month:02d}"
        start = datetime(first.year, first.month, first.day, tzinfo=zone)
        end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone)
        return Period(kind, label, int(start.timestamp()), int(end.timestamp()))
    except OverflowError:  # the calendar ends at 9999-12-31
        raise ValueError(f"the {kind} holding {anchor} runs past the end of the calendar") \
            from None


def parse_month(text: str) -> date:
    """The first day of a YYYY-MM month that ends within the calendar (before 9999-12)."""
    try:
        year, month = (int(p) for p in text.split("-"))
        first = date(year, month, 1)
        first + timedelta(days=32)  # its end, and the next month, must exist
        return first
    except (ValueError, OverflowError):
        raise ValueError(f"bad month {text!r}: write it like 2026-10") from None


def percentile_95(values: Sequence[float]) -> float:
    """Nearest-rank 95th percentile (the burstable-billing convention): the smallest value
    that at least 95% of the samples do not exceed."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


@dataclass(frozen=True)
class DirectionStats:
    allocation_bps: int          # the site's own allocation (the schedule may vary it)
    avg_bps: float
    p95_bps: float
    peak_bps: float
    volume_bytes: int
    hours_above: float           # hours above 80% of the allocation in force
    p95_utilisation: float       # p95 of (rate / allocation in force)
    p95_base_bps: float          # p95 while the site's own allocation is in force

    @property
    def p95_ratio(self) -> float:
        return self.p95_bps / self.allocation_bps if self.allocation_bps else 0.0


@dataclass(frozen=True)
class SiteStats:
    site: str
    name: str
    kind: str
    period: Period
    resolution_s: int
    observed_s: float
    down: DirectionStats
    up: DirectionStats
    under_used: bool
    saturated: bool
    rank: int = 0
    daily: list[tuple[date, float, float, float]] = field(default_factory=list)
    """Per local day: (date, average down bps, p95 down bps, allocation down bps at noon)."""

    @property
    def coverage(self) -> float:
        return self.observed_s / self.period.seconds if self.period.seconds else 0.0

    @property
    def utilisation(self) -> float:
        return max(self.down.p95_utilisation, self.up.p95_utilisation)


def _direction(samples: Sequence[Sample], site: Site, allocs: Sequence[Allocation],
               base: Sequence[bool], down: bool) -> DirectionStats:
    rates = [s.in_bps if down else s.out_bps for s in samples]
    limits = [a.down_bps if down else a.up_bps for a in allocs]
    volume = sum(s.in_bytes if down else s.out_bytes for s in samples)
    observed = sum(s.covered_s for s in samples)
    peaks = [(s.in_peak_bps if down else s.out_peak_bps) for s in samples]
    peak = max((p if p is not None else r for p, r in zip(peaks, rates, strict=True)),
               default=0.0)
    above = sum(s.covered_s for s, r, lim in zip(samples, rates, limits, strict=True)
                if r > BUSY_RATIO * lim) / 3600.0
    base_rates = [r for r, b in zip(rates, base, strict=True) if b] or rates
    own = site.allocation.down_bps if down else site.allocation.up_bps
    return DirectionStats(
        allocation_bps=own,
        avg_bps=volume * 8 / observed if observed else 0.0,
        p95_bps=percentile_95(rates),
        peak_bps=peak,
        volume_bytes=volume,
        hours_above=above,
        p95_utilisation=percentile_95([r / lim for r, lim in zip(rates, limits, strict=True)]),
        p95_base_bps=percentile_95(base_rates),
    )


def _in_force(samples: Sequence[Sample], history: SiteHistory, holidays: set[date]
              ) -> tuple[list[Site], list[Allocation]]:
    """Each sample's site version and allocation in force at its middle
    (`schedules.allocation_in_force`, from the window `windows_in_force` finds)."""
    versions, windows = windows_in_force(samples, history, holidays)
    memo: dict[tuple[int, int], Allocation] = {}
    allocs = []
    for version, window in zip(versions, windows, strict=True):
        key = (id(version), id(window))
        alloc = memo.get(key)
        if alloc is None:
            alloc = memo[key] = version.allocation_during(window)
        allocs.append(alloc)
    return versions, allocs


def windows_in_force(samples: Sequence[Sample], history: SiteHistory, holidays: set[date]
                     ) -> tuple[list[Site], list[ScheduleWindow | None]]:
    """Each sample's site version and schedule window at its middle (`schedules.window_at`'s
    integer arithmetic, repeated here): Site.window_at is constant between the minutes where
    some window starts or ends, so each version and local day needs a few lookups, then a
    bisection per sample."""
    tables: dict[tuple[int, int, bool], tuple[list[int], list[ScheduleWindow | None]]] = {}
    holiday_of: dict[int, bool] = {}
    versions: list[Site] = []
    windows: list[ScheduleWindow | None] = []
    only = history.versions[0] if len(history.versions) == 1 else None
    for s in samples:
        middle = s.ts + s.step_s // 2
        version = only or history.at(middle)
        seconds = int(middle) + TZ_OFFSET_MIN[version.timezone] * 60
        days = seconds // 86400
        holiday = holiday_of.get(days)
        if holiday is None:
            holiday = holiday_of[days] = bool(holidays) and \
                date.fromordinal(_EPOCH_ORDINAL + days) in holidays
        key = (id(version), (days + 3) % 7, holiday)
        table = tables.get(key)
        if table is None:
            edges = sorted({0} | {m for w in version.schedule for a, b in w.times
                                  for m in (a, b) if m < 1440})
            table = tables[key] = (edges, [version.window_at(DAYS[key[1]], m, holiday)
                                           for m in edges])
        versions.append(version)
        windows.append(table[1][bisect_right(table[0], seconds % 86400 // 60) - 1])
    return versions, windows


def compute_site_stats(site: Site, period: Period, samples: Sequence[Sample],
                       inventory: Inventory | None = None,
                       history: SiteHistory | None = None) -> SiteStats:
    """The figures of one site over one period, from its samples (gaps are not zeros), against
    the allocations in force then (`history`; without it, the site's as given)."""
    samples = [s for s in samples if period.start_ts <= s.ts < period.end_ts and s.covered_s > 0]
    holidays = holiday_dates(inventory)
    history = history or SiteHistory([float("-inf")], [site])
    versions, allocs = _in_force(samples, history, holidays)
    base = [a == v.allocation for a, v in zip(allocs, versions, strict=True)]
    site = history.at(period.end_ts - 1)  # the site's own allocation as the period closed
    down = _direction(samples, site, allocs, base, True)
    up = _direction(samples, site, allocs, base, False)
    return assemble(site, period, samples[0].step_s if samples else FIVE_MINUTES_S,
                    sum(s.covered_s for s in samples), down, up,
                    daily_figures(samples, history, holidays, ZoneInfo(site.timezone)),
                    bool(samples))


def daily_figures(samples: Sequence[Sample], history: SiteHistory, holidays: set[date],
                  zone: ZoneInfo) -> list[tuple[date, float, float, float]]:
    """Per local day with samples: (date, average down bps, p95 down bps, allocation down bps
    in force at noon)."""
    by_day: dict[date, list[Sample]] = {}
    for s in samples:
        by_day.setdefault(datetime.fromtimestamp(s.ts, zone).date(), []).append(s)
    daily = []
    for day, day_samples in sorted(by_day.items()):
        observed = sum(s.covered_s for s in day_samples)
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=zone).timestamp()
        daily.append((day, sum(s.in_bytes for s in day_samples) * 8 / observed,
                      percentile_95([s.in_bps for s in day_samples]),
                      float(allocation_in_force(history.at(noon), noon, holidays).down_bps)))
    return daily


def assemble(site: Site, period: Period, resolution_s: int, observed_s: float,
             down: DirectionStats, up: DirectionStats,
             daily: list[tuple[date, float, float, float]], has_data: bool) -> SiteStats:
    """A site's figures with its flags (`site`: as the period closed)."""
    return SiteStats(
        site=site.code, name=site.name, kind=site.kind, period=period,
        resolution_s=resolution_s, observed_s=observed_s, down=down, up=up,
        under_used=(has_data and period.kind == "month" and site.kind != "noc"
                    and down.p95_utilisation < UNDER_USED_RATIO
                    and up.p95_utilisation < UNDER_USED_RATIO),
        saturated=has_data and site.kind != "noc" and max(
            down.p95_utilisation, up.p95_utilisation) >= SATURATED_RATIO,
        daily=daily,
    )


def load_samples(session: Session, site: str, start_ts: int, end_ts: int) -> list[Sample]:
    """5-minute samples where the store still has them (35 days), else hourly ones."""
    fine = session.execute(select(
        Bandwidth5m.ts, Bandwidth5m.in_bytes, Bandwidth5m.out_bytes, Bandwidth5m.covered_s)
        .where(Bandwidth5m.site == site, Bandwidth5m.ts >= start_ts, Bandwidth5m.ts < end_ts)
        .order_by(Bandwidth5m.ts)).all()
    coarse_s = session.scalar(select(func.sum(Bandwidth1h.covered_s)).where(
        Bandwidth1h.site == site, Bandwidth1h.ts >= start_ts, Bandwidth1h.ts < end_ts)) or 0.0
    if fine and sum(r[3] for r in fine) >= 0.9 * coarse_s:
        return [Sample(ts, FIVE_MINUTES_S, i, o, c) for ts, i, o, c in fine]
    coarse = session.execute(select(
        Bandwidth1h.ts, Bandwidth1h.in_bytes, Bandwidth1h.out_bytes, Bandwidth1h.covered_s,
        Bandwidth1h.in_peak_bps, Bandwidth1h.out_peak_bps)
        .where(Bandwidth1h.site == site, Bandwidth1h.ts >= start_ts, Bandwidth1h.ts < end_ts)
        .order_by(Bandwidth1h.ts)).all()
    return [Sample(ts, HOUR_S, i, o, c, pi, po) for ts, i, o, c, pi, po in coarse]


def rank(stats: list[SiteStats]) -> list[SiteStats]:
    """Busiest first: by p95 utilisation of the allocation, then by volume."""
    ordered = sorted(stats, key=lambda s: (-s.utilisation, -s.down.volume_bytes, s.site))
    return [_with_rank(s, i + 1) for i, s in enumerate(ordered)]


def _with_rank(stats: SiteStats, position: int) -> SiteStats:
    from dataclasses import replace

    return replace(stats, rank=position)


def regency_stats(session: Session, inventory: Inventory, kind: PeriodKind, anchor: date,
                  kinds: set[str] | None = None, now: float | None = None) -> list[SiteStats]:
    """Ranked figures of every site (but the NOC) for the period holding `anchor`, against
    the allocations in force during it. A closed month's come from the store's cache while
    nothing they depend on changed (controller/bandwidth/month_cache.py); `now` (Unix time)
    decides which months are closed."""
    histories = load_histories(session, inventory)
    if kind == "month":
        from controller.bandwidth.month_cache import month_stats

        out = month_stats(session, inventory, anchor, histories, now=now)
    else:
        out = compute_regency(session, inventory, kind, anchor, histories, kinds)
    return rank([s for s in out if not kinds or s.kind in kinds])


def compute_regency(session: Session, inventory: Inventory, kind: PeriodKind, anchor: date,
                    histories: dict[str, SiteHistory], kinds: set[str] | None = None
                    ) -> list[SiteStats]:
    """Every site's figures (but the NOC's; of `kinds` only when given), unranked, computed
    from the rollups (no cache)."""
    out = []
    for site in inventory.sites.values():
        if site.kind == "noc" or (kinds and site.kind not in kinds):
            continue
        period = period_for(kind, anchor, site.timezone)
        samples = load_samples(session, site.code, period.start_ts, period.end_ts)
        out.append(compute_site_stats(site, period, samples, inventory, histories[site.code]))
    return out


def allocations_of(stats: Sequence[SiteStats]) -> dict[str, Allocation]:
    """Each site's own allocation as its period closed (what a plan starts from)."""
    return {s.site: Allocation(s.down.allocation_bps, s.up.allocation_bps) for s in stats}
