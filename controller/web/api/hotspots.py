"""Hotspot sessions, disconnects, vouchers and login statistics."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from captive_portal.service import portal_for
from captive_portal.vouchers import VoucherError
from controller.web.api.types import AUTH_ERRORS, Responses, RowId, UtcDatetime
from controller.web.deps import KnownHotspot, Operator, Viewer, check_csrf, get_ctx

router = APIRouter(tags=["hotspots"])
ERRORS: Responses = AUTH_ERRORS


class SessionOut(BaseModel):
    id: int
    hotspot: str
    method: str
    started_at: UtcDatetime
    expires_at: UtcDatetime
    seconds_remaining: int
    bytes_up: int
    bytes_down: int
    bytes_remaining: int | None


class VoucherBatchIn(BaseModel):
    count: int = Field(ge=1, le=500)
    duration_s: int = Field(ge=30, le=30 * 86400)
    uses: int = Field(1, ge=1, le=1000)
    valid_days: int = Field(30, ge=1, le=365)
    hotspot: str | None = None


class VoucherBatchOut(BaseModel):
    batch: str
    hotspot: str | None
    codes: list[str]
    duration_s: int
    uses: int
    valid_until: UtcDatetime
    sheet_url: str


class LoginStatOut(BaseModel):
    day: str
    hotspot: str
    method: str
    result: str
    count: int


@router.get("/hotspots/{name}/sessions", response_model=list[SessionOut],
            responses={**ERRORS, 404: {"description": "No such hotspot"}})
def list_sessions(request: Request, name: str, _hotspot: KnownHotspot,
                  _who: Viewer) -> list[SessionOut]:
    ctx = get_ctx(request)
    return [SessionOut(**{k: getattr(s, k) for k in SessionOut.model_fields})
            for s in portal_for(ctx).stats.list_active_sessions(name)]


@router.post("/hotspots/sessions/{session_id}/disconnect", status_code=204,
             responses={**ERRORS, 404: {"description": "Session not open"}})
async def disconnect(request: Request, session_id: RowId, who: Operator) -> None:
    await check_csrf(request, who)
    ended = await run_in_threadpool(portal_for(get_ctx(request)).accounting.disconnect, session_id,
                                    who.username)
    if not ended:
        raise HTTPException(404, f"session {session_id} is not open")


@router.post("/vouchers", response_model=VoucherBatchOut, status_code=201,
             responses={**ERRORS, 400: {"description": "Bad batch"},
                        404: {"description": "Unknown hotspot"},
                        409: {"description": "Batch exists"}})
async def create_vouchers(request: Request, body: VoucherBatchIn,
                          who: Operator) -> VoucherBatchOut:
    await check_csrf(request, who)
    try:
        batch = portal_for(get_ctx(request)).vouchers.create_batch(
            count=body.count, duration_s=body.duration_s, uses=body.uses,
            valid_days=body.valid_days, hotspot=body.hotspot, actor=who.username)
    except VoucherError as exc:
        # Messages start with the field: an unknown hotspot is a missing resource.
        status = 404 if str(exc).startswith("hotspot:") else 409 if "exists" in str(exc) else 400
        raise HTTPException(status, str(exc)) from None
    return VoucherBatchOut(batch=batch.batch, hotspot=batch.hotspot, codes=batch.codes,
                           duration_s=batch.duration_s, uses=batch.uses,
                           valid_until=batch.valid_until,
                           sheet_url=f"/hotspots/vouchers/{batch.batch}")


@router.get("/hotspots/stats/logins", response_model=list[LoginStatOut], responses=ERRORS)
def login_stats(request: Request, _who: Viewer, days: int = 7) -> list[LoginStatOut]:
    days = max(1, min(days, 400))
    return [LoginStatOut(**row) for row in portal_for(get_ctx(request)).stats.login_stats(days)]
