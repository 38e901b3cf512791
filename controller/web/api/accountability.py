"""Accountability in the API: each office's costs in rupiah for a month, and the totals;
each ISP link's and site's availability and SLA for a month, and the SLA report."""

from __future__ import annotations

import time
from typing import Literal

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from controller.accountability.costs import MonthCosts, month_costs
from controller.accountability.sla import (
    SlaReport,
    Subject,
    build_sla_report,
    render_csv,
    render_html,
    render_pdf,
)
from controller.web.api.bandwidth import ERRORS, MEDIA, MonthQuery
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


class OutageOut(BaseModel):
    start: str = Field(description="Local time with its zone named: 2026-10-10 10:00 WIB")
    end: str
    start_ts: int = Field(description="Unix seconds")
    end_ts: int
    seconds: int


class AvailabilitySubjectOut(BaseModel):
    kind: Literal["link", "site"]
    code: str = Field(description="The isp link's name or the site's code")
    name: str = Field(description="The provider (links) or the site's name")
    zone: str = Field(description="The zone the month is counted in: WIB, WITA or WIT")
    availability_percent: float | None = Field(description="up / (up + down); None: no data")
    up_s: int
    down_s: int
    unknown_s: int = Field(description="No data (Simpul itself down): not in the SLA base")
    maintenance_s: int = Field(description="Planned maintenance: not in the SLA base")
    outages: list[OutageOut]
    sla_target_percent: float | None = Field(None, description="Links with a contract")
    sla_met: bool | None = None
    credit_percent: float | None = None
    credit_idr: int | None = None


class AvailabilityOut(BaseModel):
    month: str
    down_after_samples: int = Field(description="Consecutive bad samples before a subject "
                                    "is down")
    until_ts: int = Field(description="The month is measured up to here (now, this month)")
    links_percent: float | None = Field(description="The ISP links together")
    sites_percent: float | None
    credit_idr: int = Field(description="The SLA credits to claim, whole rupiah")
    links: list[AvailabilitySubjectOut]
    sites: list[AvailabilitySubjectOut]


def _subject(s: Subject) -> AvailabilitySubjectOut:
    a, c = s.availability, s.contract
    return AvailabilitySubjectOut(
        kind="link" if s.kind == "link" else "site", code=s.code, name=s.name, zone=s.zone,
        availability_percent=None if a.percent is None else round(a.percent, 4),
        up_s=a.up_s, down_s=a.down_s, unknown_s=a.unknown_s, maintenance_s=a.maintenance_s,
        outages=[OutageOut(start=f"{s.local(o.start_ts)} {s.zone}",
                           end=f"{s.local(o.end_ts)} {s.zone}", start_ts=o.start_ts,
                           end_ts=o.end_ts, seconds=o.seconds) for o in a.outages],
        sla_target_percent=c.sla if c else None, sla_met=s.met,
        credit_percent=s.credit_percent if c else None, credit_idr=s.credit_idr if c else None)


def month_availability(request: Request, month: str) -> tuple[SlaReport, int]:
    """The month's SLA report up to now (blocking: store reads); 422 on a bad month."""
    ctx = get_ctx(request)
    now = int(time.time())
    try:
        with ctx.store.session() as session:
            return build_sla_report(session, ctx.inventory, month,
                                    ctx.settings.down_after_samples, until_ts=now), now
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/availability", responses=ERRORS)
async def availability(request: Request, _who: Viewer, month: MonthQuery) -> AvailabilityOut:
    """Each ISP link's and site's availability for the month (this month: so far), the
    outages as evidence, and per link the SLA met or missed and the credit to claim in
    rupiah. Down: every probe lost or the uplink interface down for N samples in a row."""
    report, now = await run_in_threadpool(month_availability, request, month)
    return AvailabilityOut(
        month=f"{report.month:%Y-%m}", down_after_samples=report.down_after, until_ts=now,
        links_percent=None if report.links_percent is None else round(report.links_percent, 4),
        sites_percent=None if report.sites_percent is None else round(report.sites_percent, 4),
        credit_idr=report.credit_idr, links=[_subject(s) for s in report.links],
        sites=[_subject(s) for s in report.sites])


@router.get("/reports/sla", responses={**ERRORS, 200: {
    "content": {m: {} for m in MEDIA.values()}, "description": "The SLA report"}})
def sla_report(request: Request, _who: Viewer, month: MonthQuery,
               format: Literal["html", "csv", "pdf"] = "html") -> Response:
    """The month's availability and ISP SLA report (Bahasa Indonesia), as `simpul report
    sla` writes it: HTML, CSV (with `sla_credit_idr` and the outages) or PDF."""
    report, _now = month_availability(request, month)
    body = (render_pdf(report) if format == "pdf" else
            render_csv(report) if format == "csv" else render_html(report))
    headers = {} if format == "html" else {
        "content-disposition": f'attachment; filename="{report.slug}.{format}"'}
    return Response(body, media_type=MEDIA[format], headers=headers)
