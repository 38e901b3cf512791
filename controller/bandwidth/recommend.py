"""Proposed allocations from each office's p95 plus headroom, never below the site's floor in
any schedule window, the capacity that frees, and where it can go (saturated offices first,
then public WiFi hotspots); with the month's peak and the hours the proposal would have been
saturated."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal

from sqlalchemy.orm import Session

from controller.allocation_history import load_histories
from controller.bandwidth.open_month import SiteUse, saturated_seconds, window_keys
from controller.bandwidth.stats import (
    Sample,
    SiteStats,
    allocations_of,
    load_samples,
    rank,
)
from controller.inventory import Inventory, Site
from controller.schedules import holiday_dates
from controller.units import Allocation

HEADROOM = 0.25                 # proposed = p95 (in office hours) * 1.25, rounded up
MIN_CHANGE = 0.10               # changes smaller than 10% of the allocation are not proposed
FLOOR = Allocation(2_000_000, 1_000_000)   # the least ever proposed, whatever the site's floor
OFFICE_KINDS = ("sopd", "kecamatan", "kelurahan", "desa")
Action = Literal["reduce", "increase", "keep"]


def round_up_rate(bps: float) -> int:
    """Up to a tidy step: 1M below 20M, 5M below 100M, 10M from there."""
    step = 1_000_000 if bps < 20e6 else 5_000_000 if bps < 100e6 else 10_000_000
    return max(step, math.ceil(bps / step - 1e-9) * step)


@dataclass(frozen=True)
class Recommendation:
    site: str
    name: str
    kind: str
    current: Allocation
    proposed: Allocation
    action: Action
    p95_down_bps: float
    p95_up_bps: float
    reason: str
    peak_down_bps: float = 0.0      # the period's highest rate (5-minute average, or hourly peak)
    peak_up_bps: float = 0.0
    floor: Allocation | None = None
    saturated_hours: float | None = None       # hours above the proposal's allocation in force
    saturated_hours_now: float | None = None   # the same under the allocation in force then

    @property
    def freed(self) -> Allocation:
        """Capacity given back (negative when more is needed)."""
        return Allocation(self.current.down_bps - self.proposed.down_bps,
                          self.current.up_bps - self.proposed.up_bps)


@dataclass(frozen=True)
class Destination:
    site: str
    name: str
    kind: str
    extra: Allocation
    reason: str


@dataclass(frozen=True)
class Plan:
    recommendations: list[Recommendation]
    destinations: list[Destination]
    freed: Allocation          # from reductions
    needed: Allocation         # by increases
    spare: Allocation          # freed - needed, offered to hotspots


def _propose(p95: float, current: int, floor: int) -> int:
    return max(floor, round_up_rate(p95 * (1 + HEADROOM)))


def floor_base(site: Site) -> Allocation:
    """The least own allocation (in tidy steps) that gives the site at least its floor in every
    schedule window: a window at 30% needs an own allocation of floor / 0.3."""
    if site.floor is None:
        return FLOOR
    shares = [w.allocation.percent / 100 for w in site.schedule
              if w.allocation.fixed is None and w.allocation.percent is not None]
    least = min([1.0, *shares])

    def base(floor: int) -> int:
        return round_up_rate(math.ceil(floor / least))

    return Allocation(max(FLOOR.down_bps, base(site.floor.down_bps)),
                      max(FLOOR.up_bps, base(site.floor.up_bps)))


def recommend_site(stats: SiteStats, current: Allocation, site: Site | None = None
                   ) -> Recommendation:
    """One office's proposal, never below `site`'s floor in any window. Both directions move
    together: reduce only if both may shrink by at least 10%, increase if either needs 10%
    more."""
    least = floor_base(site) if site is not None else FLOOR
    down = _propose(stats.down.p95_base_bps, current.down_bps, least.down_bps)
    up = _propose(stats.up.p95_base_bps, current.up_bps, least.up_bps)
    floored = site is not None and site.floor is not None and (
        down == least.down_bps or up == least.up_bps)
    extra = dict(peak_down_bps=stats.down.peak_bps, peak_up_bps=stats.up.peak_bps,
                 floor=site.floor if site is not None else None)
    pct = 100 * stats.down.p95_base_bps / current.down_bps if current.down_bps else 0.0
    if stats.observed_s <= 0:
        return Recommendation(stats.site, stats.name, stats.kind, current, current, "keep",
                              0.0, 0.0, "no data", **extra)  # type: ignore[arg-type]
    grow = (down > current.down_bps * (1 + MIN_CHANGE) or up > current.up_bps * (1 + MIN_CHANGE))
    shrink = (down <= current.down_bps * (1 - MIN_CHANGE)
              and up <= current.up_bps * (1 - MIN_CHANGE))
    if grow:
        proposed = Allocation(max(down, current.down_bps), max(up, current.up_bps))
        action: Action = "increase"
        reason = f"p95 {pct:.0f}% of allocation; +{HEADROOM:.0%} headroom needs more"
    elif shrink:
        proposed = Allocation(down, up)
        action = "reduce"
        reason = f"p95 {pct:.0f}% of allocation; p95 +{HEADROOM:.0%} headroom fits in less"
    else:
        proposed, action = current, "keep"
        reason = f"p95 {pct:.0f}% of allocation; within {MIN_CHANGE:.0%}"
    if floored and action == "reduce" and site is not None:
        reason += f"; held at the floor {site.floor} in every window"
    return Recommendation(stats.site, stats.name, stats.kind, current, proposed, action,
                          stats.down.p95_base_bps, stats.up.p95_base_bps, reason,
                          **extra)  # type: ignore[arg-type]


def plan(stats: list[SiteStats], allocations: dict[str, Allocation],
         sites: Mapping[str, Site] | None = None) -> Plan:
    """Proposals for every office (never below the floors of `sites`), and where the freed
    capacity can go."""
    sites = sites or {}
    recs = [recommend_site(s, allocations[s.site], sites.get(s.site)) for s in stats
            if s.kind in OFFICE_KINDS and s.site in allocations]
    reductions = [r for r in recs if r.action == "reduce"]
    increases = [r for r in recs if r.action == "increase"]
    freed = Allocation(sum(r.freed.down_bps for r in reductions),
                       sum(r.freed.up_bps for r in reductions))
    needed = Allocation(sum(-r.freed.down_bps for r in increases),
                        sum(-r.freed.up_bps for r in increases))
    destinations = [Destination(r.site, r.name, r.kind, Allocation(-r.freed.down_bps,
                                                                   -r.freed.up_bps),
                                "office saturated: raise its allocation") for r in increases]
    spare = Allocation(max(0, freed.down_bps - needed.down_bps),
                       max(0, freed.up_bps - needed.up_bps))
    hotspots = sorted((s for s in stats if s.kind == "hotspot"),
                      key=lambda s: (-s.down.hours_above, -s.utilisation, s.site))
    if hotspots and spare.down_bps > 0:
        weights = [s.down.hours_above + 1.0 for s in hotspots]
        total = sum(weights)
        for s, w in zip(hotspots, weights, strict=True):
            down = spare.down_bps * w / total // 1_000_000 * 1_000_000
            up = spare.up_bps * w / total // 1_000_000 * 1_000_000
            if down <= 0:
                continue
            destinations.append(Destination(
                s.site, s.name, s.kind, Allocation(int(down), int(max(up, 0))),
                f"public WiFi: {s.down.hours_above:.0f} h above 80% of its allocation"))
    return Plan(recs, destinations, freed, needed, spare)


def monthly_plan(session: Session, inventory: Inventory, month: date
                 ) -> tuple[list[SiteStats], Plan]:
    """The ranked figures of the month holding `month`, and the plan made from them (from the
    allocations in force as the month closed, so a closed month's plan never changes)."""
    from controller.bandwidth.month_cache import closed_month_version, month_figures

    figures, uses = month_figures(session, inventory, month,
                                  load_histories(session, inventory))
    stats = rank(figures)
    proposals = plan(stats, allocations_of(stats), inventory.sites)
    version = None if uses else closed_month_version(session, month)
    return stats, with_saturation(session, inventory, stats, proposals, uses, version)


def saturated_hours(samples: Sequence[Sample], site: Site, allocation: Allocation,
                    holidays: set[date] | None = None) -> float:
    """Hours of the samples whose rate exceeded, in either direction, the allocation in force
    had the site's own allocation been `allocation` (its schedule windows applied)."""
    return saturated_seconds([[s.in_bps for s in samples]], [[s.out_bps for s in samples]],
                             [[s.covered_s for s in samples]],
                             [window_keys(samples, site, holidays or set())],
                             site, allocation) / 3600.0


# A closed month's saturated hours by (its cached figures' version, site, its schedule and the
# holidays, the two allocations): its samples change only with that version, and reading them
# again was most of the closed month's page (1.1 s of 1.3 s warm in bench/bandwidth).
_SATURATION: dict[tuple[object, ...], tuple[float, float]] = {}
_SATURATION_MAX = 4096


def with_saturation(session: Session, inventory: Inventory, stats: Sequence[SiteStats],
                    proposals: Plan, uses: Mapping[str, SiteUse] | None = None,
                    closed_version: str | None = None) -> Plan:
    """The plan with, for each proposed change, the hours the site would have been saturated
    under the proposal and under its allocation then, from the stored 5-minute rollups
    (hourly ones where the 5-minute ones are gone; `uses`: an open month's, already read;
    `closed_version`: a closed month's cached figures' version, to reuse earlier answers)."""
    periods = {s.site: s.period for s in stats}
    holidays = holiday_dates(inventory)
    recs = []
    for rec in proposals.recommendations:
        site, period = inventory.sites.get(rec.site), periods.get(rec.site)
        if rec.action != "keep" and site is not None and period is not None:
            use = (uses or {}).get(rec.site)
            if use is not None:
                rec = replace(rec, saturated_hours=use.saturated_hours(site, rec.proposed),
                              saturated_hours_now=use.saturated_hours(site, rec.current))
            else:
                key = None if closed_version is None else (
                    closed_version, rec.site, site.model_dump_json(), tuple(sorted(holidays)),
                    rec.proposed, rec.current)
                hours = _SATURATION.get(key) if key is not None else None
                if hours is None:
                    samples = load_samples(session, rec.site, period.start_ts, period.end_ts)
                    hours = (saturated_hours(samples, site, rec.proposed, holidays),
                             saturated_hours(samples, site, rec.current, holidays))
                    if key is not None:
                        if len(_SATURATION) >= _SATURATION_MAX:
                            _SATURATION.clear()
                        _SATURATION[key] = hours
                rec = replace(rec, saturated_hours=hours[0], saturated_hours_now=hours[1])
        recs.append(rec)
    return replace(proposals, recommendations=recs)
