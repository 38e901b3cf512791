"""Proposed allocations from each office's p95 plus headroom, the capacity that frees, and
where it can go (saturated offices first, then public WiFi hotspots)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Literal

from sqlalchemy.orm import Session

from controller.bandwidth.stats import SiteStats, allocations_of, regency_stats
from controller.inventory import Inventory
from controller.units import Allocation

HEADROOM = 0.25                 # proposed = p95 (in office hours) * 1.25, rounded up
MIN_CHANGE = 0.10               # changes smaller than 10% of the allocation are not proposed
FLOOR = Allocation(2_000_000, 1_000_000)
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


def recommend_site(stats: SiteStats, current: Allocation) -> Recommendation:
    """One office's proposal. Both directions move together: reduce only if both may shrink
    by at least 10%, increase if either needs 10% more."""
    down = _propose(stats.down.p95_base_bps, current.down_bps, FLOOR.down_bps)
    up = _propose(stats.up.p95_base_bps, current.up_bps, FLOOR.up_bps)
    pct = 100 * stats.down.p95_base_bps / current.down_bps if current.down_bps else 0.0
    if stats.observed_s <= 0:
        return Recommendation(stats.site, stats.name, stats.kind, current, current, "keep",
                              0.0, 0.0, "no data")
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
    return Recommendation(stats.site, stats.name, stats.kind, current, proposed, action,
                          stats.down.p95_base_bps, stats.up.p95_base_bps, reason)


def plan(stats: list[SiteStats], allocations: dict[str, Allocation]) -> Plan:
    """Proposals for every office, and where the freed capacity can go."""
    recs = [recommend_site(s, allocations[s.site]) for s in stats
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
    stats = regency_stats(session, inventory, "month", month)
    return stats, plan(stats, allocations_of(stats))
