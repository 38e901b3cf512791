"""Office bandwidth in the API: figures, recommendations, accepting one, the monthly report."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from controller.accountability.costs import with_costs
from controller.bandwidth import approvals
from controller.bandwidth.accept import AcceptError, recommended_change
from controller.bandwidth.approvals import ApprovalRefused, CutRequest, OwnApproval
from controller.bandwidth.recommend import Plan, monthly_plan
from controller.bandwidth.reports import (
    build_monthly_report,
    render_csv,
    render_html,
    render_pdf,
)
from controller.bandwidth.stats import MONTH_PATTERN, SiteStats, parse_month, regency_stats
from controller.units import Allocation
from controller.web.deps import Operator, Principal, Viewer, check_csrf, get_ctx

router = APIRouter(tags=["bandwidth"])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"}, 403: {"description": "Role too low"},
    409: {"description": "Nothing to accept, or the inventory refused it"},
    422: {"description": "Bad month, date or allocation"}}
MONTH_RE = MONTH_PATTERN
ALLOCATION_RE = r"^[1-9][0-9]{0,5}[kMG](/[1-9][0-9]{0,5}[kMG])?$"
MonthQuery = Annotated[str, Query(pattern=MONTH_RE, description="YYYY-MM",
                                  examples=["2026-10"])]


class DirectionOut(BaseModel):
    allocation_bps: int
    avg_bps: float
    p95_bps: float
    peak_bps: float
    volume_bytes: int
    hours_above_80: float


class SiteStatsOut(BaseModel):
    rank: int
    site: str
    name: str
    kind: str
    period: str
    down: DirectionOut
    up: DirectionOut
    p95_utilisation: float
    coverage: float
    under_used: bool
    saturated: bool


class RecommendationOut(BaseModel):
    site: str
    action: str
    current: str
    proposed: str
    reason: str
    peak_down_bps: float = 0.0
    peak_up_bps: float = 0.0
    floor: str | None = None
    saturated_hours: float | None = None      # under the proposal, over the month
    saturated_hours_now: float | None = None  # under the allocation in force then


class DestinationOut(BaseModel):
    site: str
    kind: str
    extra: str
    reason: str


class PlanOut(BaseModel):
    month: str
    recommendations: list[RecommendationOut]
    freed: str
    needed: str
    spare: str
    destinations: list[DestinationOut]


class AcceptIn(BaseModel):
    month: str = Field(pattern=MONTH_RE, description="YYYY-MM", examples=["2026-10"])
    allocation: str | None = Field(None, pattern=ALLOCATION_RE,
                                   description="Instead of the recommendation, e.g. 20M/10M")


class AcceptOut(BaseModel):
    site: str
    before: str
    after: str
    path: str = Field(description="The inventory file written; empty while awaiting approval")
    diff: str = ""
    state: Literal["accepted", "awaiting_approval"] = Field(
        "accepted", description="awaiting_approval: a cut of a protected site, written only "
        "once a second operator approves it (status 202)")
    approval: int | None = Field(None, description="The cut's id, to approve or reject")


class CutRequestOut(BaseModel):
    id: int
    site: str
    before: str
    after: str
    reason: str | None
    requested_by: str
    requested_at: datetime
    state: Literal["awaiting_approval", "approved", "rejected", "failed"]
    decided_by: str | None
    decided_at: datetime | None
    error: str | None


def _cut_out(request: CutRequest) -> CutRequestOut:
    return CutRequestOut.model_validate(request, from_attributes=True)


def _month(text: str) -> date:
    try:
        return parse_month(text)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


def _direction(d) -> DirectionOut:  # type: ignore[no-untyped-def]
    return DirectionOut(allocation_bps=d.allocation_bps, avg_bps=d.avg_bps, p95_bps=d.p95_bps,
                        peak_bps=d.peak_bps, volume_bytes=d.volume_bytes,
                        hours_above_80=d.hours_above)


def _stats_out(s: SiteStats) -> SiteStatsOut:
    return SiteStatsOut(rank=s.rank, site=s.site, name=s.name, kind=s.kind,
                        period=s.period.label, down=_direction(s.down), up=_direction(s.up),
                        p95_utilisation=s.utilisation, coverage=s.coverage,
                        under_used=s.under_used, saturated=s.saturated)


def _plan(request: Request, first: date) -> Plan:
    ctx = get_ctx(request)
    with ctx.store.session() as session:
        return monthly_plan(session, ctx.inventory, first)[1]


@router.get("/bandwidth/stats", response_model=list[SiteStatsOut], responses=ERRORS)
def bandwidth_stats(request: Request, _who: Viewer,
                    period: Literal["day", "week", "month"] = "month",
                    on: date | None = None, kind: str | None = None) -> list[SiteStatsOut]:
    """Per-site figures for the day, ISO week or month holding `on`, ranked."""
    ctx = get_ctx(request)
    try:
        with ctx.store.session() as session:
            stats = regency_stats(session, ctx.inventory, period,
                                  on or datetime.now(UTC).date(), {kind} if kind else None)
    except ValueError as exc:  # a period running past the end of the calendar
        raise HTTPException(422, str(exc)) from None
    return [_stats_out(s) for s in stats]


@router.get("/bandwidth/recommendations", response_model=PlanOut, responses=ERRORS)
def recommendations(request: Request, _who: Viewer, month: MonthQuery) -> PlanOut:
    """Proposed allocations (p95 in office hours + 25%) and where freed capacity can go."""
    first = _month(month)
    p = _plan(request, first)
    return PlanOut(
        month=f"{first:%Y-%m}", freed=str(p.freed), needed=str(p.needed), spare=str(p.spare),
        recommendations=[RecommendationOut(site=r.site, action=r.action, current=str(r.current),
                                           proposed=str(r.proposed), reason=r.reason,
                                           peak_down_bps=r.peak_down_bps,
                                           peak_up_bps=r.peak_up_bps,
                                           floor=str(r.floor) if r.floor else None,
                                           saturated_hours=r.saturated_hours,
                                           saturated_hours_now=r.saturated_hours_now)
                         for r in p.recommendations if r.action != "keep"],
        destinations=[DestinationOut(site=d.site, kind=d.kind, extra=str(d.extra),
                                     reason=d.reason) for d in p.destinations])


@router.post("/bandwidth/accept/{site}", response_model=AcceptOut,
             responses={**ERRORS, 202: {"description": "A cut of a protected site: it waits "
                                              "for a second operator", "model": AcceptOut}})
async def accept(request: Request, site: str, body: AcceptIn, who: Operator,
                 response: Response) -> AcceptOut:
    """Write the recommended (or given) allocation into the inventory, audited; it then shows
    as a queue change in the config diff. A cut of a protected site is only recorded (202):
    a second operator approves it at /bandwidth/approvals/{id}/approve."""
    await check_csrf(request, who)
    ctx = get_ctx(request)
    first = _month(body.month)
    reason = None
    try:
        if body.allocation is None:
            new, reason = await run_in_threadpool(partial(
                recommended_change, ctx.inventory, site, first, store=ctx.store))
        else:
            try:
                new = Allocation.parse(body.allocation)
            except ValueError as exc:
                raise HTTPException(422, str(exc)) from None
        done = await run_in_threadpool(partial(
            approvals.accept_or_request, ctx.settings.inventory_dir, ctx.inventory, site, new,
            store=ctx.store, actor=who.username, secrets=ctx.secrets, reason=reason,
            alertmanager_url=ctx.settings.alertmanager_url))
    except AcceptError as exc:
        raise HTTPException(409, str(exc)) from None
    if isinstance(done, CutRequest):
        response.status_code = 202
        return AcceptOut(site=site, before=done.before, after=done.after, path="",
                         state="awaiting_approval", approval=done.id)
    await run_in_threadpool(ctx.reload_inventory)  # the app now uses the accepted file
    return AcceptOut(site=site, before=str(done.before), after=str(done.after),
                     path=str(done.path), diff=done.diff)


APPROVAL_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS, 403: {"description": "Role too low, or the requester approving their own cut"},
    404: {"description": "No such cut"},
    409: {"description": "Decided already, or the inventory refused the edit"}}


@router.get("/bandwidth/approvals", response_model=list[CutRequestOut], responses=ERRORS)
def list_approvals(request: Request, _who: Viewer,
                   state: Literal["awaiting_approval", "approved", "rejected", "failed"]
                   | None = None) -> list[CutRequestOut]:
    """Cuts of protected sites, newest first: those waiting for a second operator, and the
    decided ones."""
    return [_cut_out(r) for r in approvals.recent(get_ctx(request).store, state=state)]


async def cut_step(request: Request, approval_id: int, who: Principal,
                   step: str) -> CutRequest:
    """approve | reject, for the API and the pages alike: the requester approving -> 403,
    no such cut -> 404, decided already or refused by the inventory -> 409."""
    ctx = get_ctx(request)
    try:
        approvals.get(ctx.store, approval_id)
    except ApprovalRefused as exc:
        raise HTTPException(404, str(exc)) from None
    try:
        if step == "approve":
            done, _ = await run_in_threadpool(partial(
                approvals.approve, approval_id, who.username,
                inventory_dir=ctx.settings.inventory_dir, inventory=ctx.inventory,
                store=ctx.store, secrets=ctx.secrets,
                alertmanager_url=ctx.settings.alertmanager_url))
            await run_in_threadpool(ctx.reload_inventory)
            return done
        return await run_in_threadpool(partial(
            approvals.reject, approval_id, who.username, store=ctx.store,
            alertmanager_url=ctx.settings.alertmanager_url))
    except OwnApproval as exc:
        raise HTTPException(403, str(exc)) from None
    except AcceptError as exc:
        raise HTTPException(409, str(exc)) from None


# An id SQLite can hold: a larger one is a 422, not the driver's overflow (a 500).
ApprovalId = Annotated[int, Path(ge=1, le=2**31)]


@router.post("/bandwidth/approvals/{approval_id}/approve", response_model=CutRequestOut,
             responses=APPROVAL_ERRORS)
async def approve_cut(request: Request, approval_id: ApprovalId, who: Operator) -> CutRequestOut:
    """A second operator (not the requester) approves a cut: the inventory is edited."""
    await check_csrf(request, who)
    return _cut_out(await cut_step(request, approval_id, who, "approve"))


@router.post("/bandwidth/approvals/{approval_id}/reject", response_model=CutRequestOut,
             responses=APPROVAL_ERRORS)
async def reject_cut(request: Request, approval_id: ApprovalId, who: Operator) -> CutRequestOut:
    """Reject (or, by the requester, withdraw) a waiting cut: nothing changes."""
    await check_csrf(request, who)
    return _cut_out(await cut_step(request, approval_id, who, "reject"))


MEDIA = {"html": "text/html; charset=utf-8", "csv": "text/csv; charset=utf-8",
         "pdf": "application/pdf"}


@router.get("/reports/monthly", responses={**ERRORS, 404: {"description": "Unknown site"}, 200: {
    "content": {m: {} for m in MEDIA.values()}, "description": "The report"}})
def monthly_report(request: Request, _who: Viewer, month: MonthQuery,
                   format: Literal["html", "csv", "pdf"] = "html",
                   site: str | None = None) -> Response:
    """The monthly per-SOPD report (Bahasa Indonesia) as HTML with charts, CSV or PDF;
    with `site`, that office's own report."""
    first = _month(month)
    ctx = get_ctx(request)
    try:
        with ctx.store.session() as session:
            report = with_costs(session, build_monthly_report(session, ctx.inventory, first,
                                                              only=site))
    except ValueError as exc:
        raise HTTPException(404, str(exc)) from None
    body = (render_pdf(report) if format == "pdf" else
            render_csv(report) if format == "csv" else render_html(report))
    headers = {} if format == "html" else {
        "content-disposition": f'attachment; filename="{report.slug}.{format}"'}
    return Response(body, media_type=MEDIA[format], headers=headers)
