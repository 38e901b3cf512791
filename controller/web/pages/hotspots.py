"""Hotspot operations: active sessions, disconnect, vouchers and login statistics."""

from __future__ import annotations

import math

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from captive_portal.service import portal_for
from captive_portal.vouchers import VoucherError
from controller.web.api.types import RowId
from controller.web.confirm import unless_confirmed
from controller.web.deps import Operator, Viewer, check_csrf, get_ctx, render

router = APIRouter(include_in_schema=False)


def _page(request: Request, status: int = 200, error: str | None = None) -> Response:
    ctx = get_ctx(request)
    portal = portal_for(ctx)
    sessions = portal.stats.list_active_sessions()
    by_hotspot = {name: [s for s in sessions if s.hotspot == name]
                  for name in ctx.inventory.hotspots}
    stats: dict[tuple[str, str, str], int] = {}
    for row in portal.stats.login_stats(days=7):
        key = (row["hotspot"], row["method"], row["result"])
        stats[key] = stats.get(key, 0) + row["count"]
    return render(request, "hotspots.html", status, hotspots=ctx.inventory.hotspots,
                  sessions=by_hotspot, stats=sorted(stats.items()), error=error)


@router.get("/hotspots")
def hotspots(request: Request, _who: Viewer) -> Response:
    return _page(request)


@router.post("/hotspots/sessions/{session_id}/disconnect")
async def disconnect(request: Request, session_id: RowId, who: Operator) -> Response:
    await check_csrf(request, who)
    if (ask := await unless_confirmed(request, "Disconnect this session?", "/hotspots")):
        return ask
    from starlette.concurrency import run_in_threadpool

    ended = await run_in_threadpool(portal_for(get_ctx(request)).accounting.disconnect, session_id,
                                    who.username)
    if not ended:
        return _page(request, 404, error=f"session {session_id} is not open")
    return RedirectResponse("/hotspots", status_code=303)


@router.post("/hotspots/vouchers")
async def create_vouchers(request: Request, who: Operator) -> Response:
    await check_csrf(request, who)
    form = await request.form()
    try:  # what is no number (nan, inf, 1e308 minutes) cannot be processed: 422
        count, uses, valid_days = (int(str(form.get(name, default)) or default) for name, default
                                   in (("count", 0), ("uses", 1), ("valid_days", 30)))
        duration_s = float(str(form.get("duration_min", "0")) or 0) * 60
        if not math.isfinite(duration_s):
            raise ValueError("not a number of minutes")
    except ValueError:
        return _page(request, 422, error="numbers only, please")
    try:
        batch = portal_for(get_ctx(request)).vouchers.create_batch(
            count=count, duration_s=int(duration_s), uses=uses, valid_days=valid_days,
            hotspot=str(form.get("hotspot") or "") or None, actor=who.username)
    except VoucherError as exc:
        return _page(request, 400, error=str(exc))
    return RedirectResponse(f"/hotspots/vouchers/{batch.batch}", status_code=303)


# The UI's sheet: a way back and a print button (static script: the CSP runs no inline one).
SHEET_TOOLBAR = ('<nav class="bar"><a href="/hotspots">&larr; Kembali / Back</a>'
                 '<button type="button" id="print-sheet" hidden>Cetak / Print</button></nav>'
                 '<script src="/static/voucher-sheet.js" defer></script>')


@router.get("/hotspots/vouchers/{batch}")
def voucher_sheet(request: Request, batch: str, _who: Operator) -> Response:
    try:
        return HTMLResponse(portal_for(get_ctx(request)).vouchers.sheet_html(
            batch, toolbar=SHEET_TOOLBAR))
    except VoucherError as exc:
        raise HTTPException(404, str(exc)) from None
