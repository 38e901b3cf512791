"""Office bandwidth for the month: each office's use against its allocation, ranked, the
recommendations, accepting one (operators), and the monthly report's downloads."""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta
from functools import partial
from types import SimpleNamespace
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from controller.accountability.costs import MonthCosts, month_costs
from controller.accountability.money import idr
from controller.accountability.sla import SlaReport, build_sla_report
from controller.auth import role_at_least
from controller.bandwidth import approvals
from controller.bandwidth.accept import AcceptError, NothingToAccept, recommended_change
from controller.bandwidth.approvals import CutRequest
from controller.bandwidth.recommend import Plan, monthly_plan
from controller.bandwidth.reports import number_id
from controller.bandwidth.stats import MONTH_PATTERN, SiteStats, parse_month
from controller.inventory import Inventory
from controller.store.models import AuditLog
from controller.web.api.bandwidth import ApprovalId, cut_step
from controller.web.confirm import unless_confirmed
from controller.web.deps import (
    Operator,
    Principal,
    Viewer,
    check_csrf,
    get_ctx,
    language,
    render,
)

router = APIRouter(include_in_schema=False)
BAD_MONTH = "Month: write it as YYYY-MM, for example 2026-10."


def last_full_month(inventory: Inventory, now: datetime | None = None) -> date:
    """The first day of the month before this one, in the NOC's (the regency's) time zone."""
    today = (now or datetime.now(ZoneInfo(inventory.home_zone()))).date()
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def _number(lang: str):  # type: ignore[no-untyped-def]
    """Numbers as the reader writes them: 1.234,5 in Indonesian, 1,234.5 in English."""

    def fmt(value: float, decimals: int = 1) -> str:
        return number_id(value, decimals) if lang == "id" else f"{value:,.{decimals}f}"

    return fmt


def _page(request: Request, who: Principal, month_text: str, first: date | None,
          status: int = 200, **outcome: object) -> Response:
    """The month's page; `outcome` is error / accepted / refused (with refused_site) /
    nothing_to_accept, shown above the figures."""
    ctx = get_ctx(request)
    stats: list[SiteStats] = []
    proposals: Plan | None = None
    costs: MonthCosts | None = None
    if first is not None:
        with ctx.store.session() as session:
            stats, proposals = monthly_plan(session, ctx.inventory, first)
            if ctx.inventory.contracts:
                costs = month_costs(session, ctx.inventory, f"{first:%Y-%m}", stats)
    months: dict[str, date] = {}
    if first is not None:
        months = {"previous": (first - timedelta(days=1)).replace(day=1),
                  "next": (first + timedelta(days=32)).replace(day=1)}
    return render(
        request, "bandwidth.html", status, month=month_text, first=first, months=months,
        availability=_availability(request, first),
        stats=stats, plan=proposals, has_data=any(s.observed_s > 0 for s in stats),
        changes=[r for r in proposals.recommendations if r.action != "keep"]
        if proposals else [],
        can_accept=role_at_least(who.role, "operator"), num=_number(language(request)),
        costs=costs, idr=idr,
        in_force={code: site.allocation for code, site in ctx.inventory.sites.items()},
        **{"error": None, "accepted": None, "refused": None, "refused_site": None,
           "nothing_to_accept": False, **outcome})


def _availability(request: Request, first: date | None) -> SlaReport | None:
    """The month's availability and SLA per ISP link and site (this month: so far), for the
    page's own block beside the rupiah."""
    if first is None:
        return None
    ctx = get_ctx(request)
    with ctx.store.session() as session:
        return build_sla_report(session, ctx.inventory, f"{first:%Y-%m}",
                                ctx.settings.down_after_samples, until_ts=int(time.time()))


def _valid_month(text: str) -> date | None:
    """The month a YYYY-MM names, or None when it is not one (or ends past the calendar)."""
    if not re.match(MONTH_PATTERN, text):
        return None
    try:
        return parse_month(text)
    except ValueError:
        return None


def _last_accept(request: Request, site: str) -> SimpleNamespace | None:
    """The latest accepted change of `site`, from the audit log: what the page shows after the
    accept's redirect (Post/Redirect/Get, so a refresh never accepts twice)."""
    with get_ctx(request).store.session() as session:
        row = session.scalars(
            select(AuditLog).where(AuditLog.action == "bandwidth.accept",
                                   AuditLog.target == f"site:{site}", AuditLog.result == "ok")
            .order_by(AuditLog.id.desc()).limit(1)).first()
    if row is None or not row.detail:
        return None
    return SimpleNamespace(site=site, before=row.detail.get("from"), after=row.detail.get("to"),
                           path=row.detail.get("file"), diff=row.diff or "")


@router.get("/bandwidth")
def bandwidth(request: Request, who: Viewer, month: str | None = None,
              accepted: str | None = None) -> Response:
    done = _last_accept(request, accepted) if accepted else None
    if not month:
        last = last_full_month(get_ctx(request).inventory)
        return _page(request, who, f"{last:%Y-%m}", last, accepted=done)
    first = _valid_month(month)
    if first is None:
        return _page(request, who, month, None, 422, error=BAD_MONTH)
    return _page(request, who, month, first, accepted=done)


@router.get("/bandwidth/accept/{site}")
def accept_link(site: str, _who: Viewer) -> Response:
    """After an accept the address bar (and the language switch) holds this path: go back."""
    return RedirectResponse("/bandwidth", status_code=303)


@router.post("/bandwidth/accept/{site}")
async def accept(request: Request, site: str, who: Operator) -> Response:
    """Accept the month's recommendation for one site: its inventory line changes, audited;
    the change goes out by the normal config diff/push."""
    await check_csrf(request, who)
    month = str((await request.form()).get("month", ""))
    first = _valid_month(month)
    if first is None:
        return _page(request, who, month, None, 422, error=BAD_MONTH)
    back = f"/bandwidth?month={quote(month)}#rec-{quote(site)}"
    if (ask := await unless_confirmed(request, "Accept this recommendation?", back)):
        return ask
    ctx = get_ctx(request)
    try:
        new, reason = await run_in_threadpool(
            recommended_change, ctx.inventory, site, first, store=ctx.store)
        done = await run_in_threadpool(
            partial(approvals.accept_or_request, ctx.settings.inventory_dir, ctx.inventory,
                    site, new, store=ctx.store, actor=who.username, secrets=ctx.secrets,
                    reason=reason, alertmanager_url=ctx.settings.alertmanager_url))
    except NothingToAccept:
        return await run_in_threadpool(_page, request, who, month, first, 409,
                                       nothing_to_accept=True, refused_site=site)
    except AcceptError as exc:
        return await run_in_threadpool(_page, request, who, month, first, 409,
                                       refused=str(exc), refused_site=site)
    if isinstance(done, CutRequest):  # a protected site's cut: a second operator decides
        return RedirectResponse(f"/bandwidth/approvals#cut-{done.id}", status_code=303)
    await run_in_threadpool(ctx.reload_inventory)  # the app now uses the accepted file
    return RedirectResponse(f"/bandwidth?month={first:%Y-%m}&accepted={quote(done.site)}",
                            status_code=303)


def _approvals_page(request: Request, status: int = 200, error: str | None = None) -> Response:
    store = get_ctx(request).store
    return render(request, "bandwidth_approvals.html", status,
                  waiting=approvals.recent(store, state=approvals.AWAITING_APPROVAL),
                  decided=[r for r in approvals.recent(store, limit=30)
                           if r.state != approvals.AWAITING_APPROVAL], error=error)


@router.get("/bandwidth/approvals")
def approvals_page(request: Request, _who: Viewer) -> Response:
    """Cuts of protected sites waiting for a second operator, and the latest decided."""
    return _approvals_page(request)


@router.get("/bandwidth/approvals/{approval_id}/{step}")
def approval_step_link(approval_id: ApprovalId, step: str, _who: Viewer) -> Response:
    """The language switch after a refused step holds this path: go back to the list."""
    return RedirectResponse("/bandwidth/approvals", status_code=303)


@router.post("/bandwidth/approvals/{approval_id}/{step}")
async def approval_step(request: Request, approval_id: ApprovalId, step: str,
                        who: Operator) -> Response:
    """approve | reject a waiting cut, after a confirmation (Post/Redirect/Get); a refused
    step (the requester approving, decided already) is shown on the list."""
    if step not in ("approve", "reject"):
        raise HTTPException(404, f"no step {step!r}")
    await check_csrf(request, who)
    question = "Approve this cut?" if step == "approve" else "Reject this cut?"
    back = f"/bandwidth/approvals#cut-{approval_id}"
    if (ask := await unless_confirmed(request, question, back)):
        return ask
    try:
        done = await cut_step(request, approval_id, who, step)
    except HTTPException as exc:
        return await run_in_threadpool(_approvals_page, request, exc.status_code,
                                       str(exc.detail))
    if step == "approve":
        return RedirectResponse(f"/bandwidth?accepted={quote(done.site)}", status_code=303)
    return RedirectResponse(f"/bandwidth/approvals#cut-{done.id}", status_code=303)
