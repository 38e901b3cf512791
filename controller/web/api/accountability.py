"""Accountability in the API: each office's costs in rupiah for a month, and the totals."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from controller.accountability.costs import MonthCosts, month_costs
from controller.web.api.bandwidth import ERRORS, MonthQuery
from controller.web.deps import Viewer, get_ctx

router = APIRouter(tags=["accountability"])


class SiteCostOut(BaseModel):
    site: str
    name: str
    kind: str
    allocation: str
    allocated_mbps_hours: float
    allocation_cost_idr: int
    unused_cost_idr: int | None  # None: no traffic data that month
    used_cost_idr: int
    cost_before_idr: int | None
    savings_idr: int | None
    schedule_extra_mbps_hours: float
    schedule_extra_idr: int


class ContractCostOut(BaseModel):
    name: str
    provider: str
    link: str
    price_idr: int


class CostsOut(BaseModel):
    month: str
    paid_idr: int
    used_idr: int
    unused_idr: int
    cost_before_idr: int
    savings_idr: int
    public_wifi_extra_mbps_hours: float
    public_wifi_extra_idr: int
    contracts: list[ContractCostOut]
    sites: list[SiteCostOut]


def _out(costs: MonthCosts) -> CostsOut:
    return CostsOut(
        month=costs.month, paid_idr=costs.paid_idr, used_idr=costs.used_idr,
        unused_idr=costs.unused_idr, cost_before_idr=costs.cost_before_idr,
        savings_idr=costs.savings_idr,
        public_wifi_extra_mbps_hours=round(costs.public_wifi_extra_mbps_hours, 3),
        public_wifi_extra_idr=costs.public_wifi_extra_idr,
        contracts=[ContractCostOut(name=c.name, provider=c.provider, link=c.link,
                                   price_idr=c.price_idr) for c in costs.contracts],
        sites=[SiteCostOut(
            site=s.site, name=s.name, kind=s.kind, allocation=str(s.allocation),
            allocated_mbps_hours=round(s.allocated_mbps_hours, 3),
            allocation_cost_idr=s.allocation_cost_idr,
            unused_cost_idr=s.unused_cost_idr if s.p95_utilisation is not None else None,
            used_cost_idr=s.used_cost_idr, cost_before_idr=s.cost_before_idr,
            savings_idr=s.savings_idr, schedule_extra_mbps_hours=round(s.extra_mbps_hours, 3),
            schedule_extra_idr=s.extra_idr) for s in costs.sites])


@router.get("/costs", responses=ERRORS)
async def costs(request: Request, _who: Viewer, month: MonthQuery) -> CostsOut:
    """Each office's allocation cost (its share of the ISP contracts, whole rupiah adding up
    to each price), the part paid but unused, savings against before centralising, and what
    the schedules gave public WiFi; from the allocations in force that month."""
    ctx = get_ctx(request)

    def work() -> MonthCosts:
        with ctx.store.session() as session:
            return month_costs(session, ctx.inventory, month)

    try:
        return _out(await run_in_threadpool(work))
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
