"""Costs in Rupiah per office and month: its allocation's share of the ISP contracts, the part
paid but unused (allocation above its p95), savings against what it paid before centralising,
and what the schedules' after-hours reallocation gave public WiFi. From the store's rollups
and allocation history, so a closed month's figures never change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from controller.accountability.money import largest_remainder, round_half_up
from controller.allocation_history import SiteHistory, load_histories
from controller.bandwidth.stats import SiteStats, parse_month, regency_stats
from controller.inventory import Inventory
from controller.schedules import allocated_bit_seconds, holiday_dates
from controller.store.db import Store
from controller.units import Allocation

MBPS_HOUR = 1_000_000 * 3600   # bit-seconds in one Mbit/s held for an hour


@dataclass(frozen=True)
class MonthTotals:
    """The regency's month in whole rupiah: paid (the contracts), used (allocation cost less
    its unused part), unused, and saved against the offices' costs before centralising."""

    month: str
    paid_idr: int
    used_idr: int
    unused_idr: int
    savings_idr: int


@dataclass(frozen=True)
class SiteCost:
    site: str
    name: str
    kind: str
    allocation: Allocation            # its own, as the month closed
    allocated_bit_s: int              # download allocation in force, summed over the month
    allocation_cost_idr: int          # its share of every contract
    p95_utilisation: float | None     # None: no data, nothing counted as unused
    unused_cost_idr: int
    cost_before_idr: int | None
    savings_idr: int | None
    extra_bit_s: int                  # beyond its own allocation, from its schedule
    extra_idr: int

    @property
    def used_cost_idr(self) -> int:
        return self.allocation_cost_idr - self.unused_cost_idr

    @property
    def allocated_mbps_hours(self) -> float:
        return self.allocated_bit_s / MBPS_HOUR

    @property
    def extra_mbps_hours(self) -> float:
        return self.extra_bit_s / MBPS_HOUR


@dataclass(frozen=True)
class ContractCost:
    name: str
    provider: str
    link: str
    price_idr: int
    shares: dict[str, int]           # site -> whole rupiah, adding up to price_idr


@dataclass(frozen=True)
class MonthCosts:
    month: str
    sites: list[SiteCost]
    contracts: list[ContractCost]

    @property
    def paid_idr(self) -> int:
        return sum(c.price_idr for c in self.contracts)

    @property
    def unused_idr(self) -> int:
        return sum(s.unused_cost_idr for s in self.sites)

    @property
    def used_idr(self) -> int:
        return sum(s.used_cost_idr for s in self.sites)

    @property
    def savings_idr(self) -> int:
        return sum(s.savings_idr for s in self.sites if s.savings_idr is not None)

    @property
    def cost_before_idr(self) -> int:
        return sum(s.cost_before_idr for s in self.sites if s.cost_before_idr is not None)

    @property
    def public_wifi_extra_mbps_hours(self) -> float:
        return sum(s.extra_mbps_hours for s in self.sites if s.kind == "hotspot")

    @property
    def public_wifi_extra_idr(self) -> int:
        return sum(s.extra_idr for s in self.sites if s.kind == "hotspot")

    def site(self, code: str) -> SiteCost | None:
        return next((s for s in self.sites if s.site == code), None)

    def totals(self) -> MonthTotals:
        return MonthTotals(self.month, self.paid_idr, self.used_idr, self.unused_idr,
                           self.savings_idr)


def _allocated(history: SiteHistory, start_ts: int, end_ts: int,
               holidays: set[date]) -> tuple[int, int]:
    """(allocated, extra) bit-seconds over the period, each stretch by the version in force."""
    cuts = sorted({start_ts, end_ts, *(int(s) for s in history.starts
                                        if start_ts < s < end_ts)})
    total = extra = 0
    for a, b in zip(cuts, cuts[1:], strict=False):
        t, e = allocated_bit_seconds(history.at(a), a, b, holidays)
        total, extra = total + t, extra + e
    return total, extra


def compute_month_costs(inventory: Inventory, stats: list[SiteStats],
                        histories: dict[str, SiteHistory], month: str) -> MonthCosts:
    """The month's costs from its statistics (every site but the NOC) and their histories."""
    holidays = holiday_dates(inventory)
    weights: dict[str, int] = {}
    extras: dict[str, int] = {}
    for s in stats:
        weights[s.site], extras[s.site] = _allocated(
            histories[s.site], s.period.start_ts, s.period.end_ts, holidays)
    contracts = []
    for contract in sorted(inventory.contracts.values(), key=lambda c: c.name):
        contracts.append(ContractCost(
            contract.name, contract.provider, contract.link, contract.price_for(month),
            largest_remainder(contract.price_for(month), weights)))
    paid = sum(c.price_idr for c in contracts)
    whole = sum(weights.values())
    sites = []
    for s in stats:
        cost = sum(c.shares.get(s.site, 0) for c in contracts)
        has_data = s.observed_s > 0
        util = s.down.p95_utilisation if has_data else None
        unused = round_half_up(cost * max(0.0, 1.0 - util)) if util is not None else 0
        before = inventory.sites[s.site].cost_before_idr
        extra_idr = (2 * paid * extras[s.site] + whole) // (2 * whole) if whole else 0
        sites.append(SiteCost(
            site=s.site, name=s.name, kind=s.kind,
            allocation=Allocation(s.down.allocation_bps, s.up.allocation_bps),
            allocated_bit_s=weights[s.site], allocation_cost_idr=cost, p95_utilisation=util,
            unused_cost_idr=unused, cost_before_idr=before,
            savings_idr=before - cost if before is not None else None,
            extra_bit_s=extras[s.site], extra_idr=extra_idr))
    return MonthCosts(month, sites, contracts)


def month_costs(session: Session, inventory: Inventory, month: str,
                stats: list[SiteStats] | None = None) -> MonthCosts:
    """The costs of a YYYY-MM month (statistics computed here unless given)."""
    first = parse_month(month)
    if stats is None:
        stats = regency_stats(session, inventory, "month", first)
    histories = load_histories(session, inventory, [s.site for s in stats])
    return compute_month_costs(inventory, stats, histories, f"{first:%Y-%m}")


def month_totals(ctx: Any, store: Store, month: str) -> MonthTotals:
    """The regency's paid, used, unused and saved rupiah of a YYYY-MM month (the wall and the
    public page show these). `ctx` gives the inventory in force."""
    with store.session() as session:
        return month_costs(session, ctx.inventory, month).totals()


COST_COLUMNS = ("allocation_cost_idr", "unused_cost_idr", "used_cost_idr", "cost_before_idr",
                "savings_idr", "schedule_extra_mbps_hours", "schedule_extra_idr")


def cost_row(cost: SiteCost) -> dict[str, str | int]:
    """A site's CSV cells (IDR columns end in _idr; empty where nothing is known)."""
    return {
        "allocation_cost_idr": cost.allocation_cost_idr,
        "unused_cost_idr": cost.unused_cost_idr if cost.p95_utilisation is not None else "",
        "used_cost_idr": cost.used_cost_idr,
        "cost_before_idr": cost.cost_before_idr if cost.cost_before_idr is not None else "",
        "savings_idr": cost.savings_idr if cost.savings_idr is not None else "",
        "schedule_extra_mbps_hours": f"{cost.extra_mbps_hours:.1f}",
        "schedule_extra_idr": cost.extra_idr,
    }


def cost_summary(costs: MonthCosts) -> list[tuple[str, str]]:
    """The regency's totals as report lines (Bahasa Indonesia)."""
    from controller.accountability.money import idr

    lines = [(f"Kontrak {c.provider} ({c.link})", idr(c.price_idr)) for c in costs.contracts]
    hours = f"{costs.public_wifi_extra_mbps_hours:,.0f}".replace(",", ".")
    return lines + [
        ("Dibayar (semua kontrak ISP)", idr(costs.paid_idr)),
        ("Terpakai (biaya alokasi sampai P95)", idr(costs.used_idr)),
        ("Dibayar tapi tak terpakai (alokasi di atas P95)", idr(costs.unused_idr)),
        ("Biaya internet kantor sebelum terpusat", idr(costs.cost_before_idr)),
        ("Penghematan dibanding sebelum terpusat", idr(costs.savings_idr)),
        ("Tambahan untuk WiFi publik dari jadwal (di luar jam kerja)",
         f"{hours} Mbit/s-jam, senilai {idr(costs.public_wifi_extra_idr)}"),
    ]


def with_costs(session: Session, report: Any) -> Any:
    """A MonthlyReport (controller.bandwidth.reports) with its rupiah columns and totals,
    when the inventory has contracts."""
    from dataclasses import replace

    if not report.inventory.contracts:
        return report
    costs = month_costs(session, report.inventory, f"{report.month:%Y-%m}", report.stats)
    return replace(report, money={c.site: cost_row(c) for c in costs.sites},
                   money_columns=COST_COLUMNS, money_summary=cost_summary(costs))
