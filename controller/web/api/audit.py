"""The audit log, filtered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from controller.store.audit import find_entries
from controller.web.api.types import UtcDatetime
from controller.web.deps import Viewer, get_ctx

router = APIRouter(tags=["audit"])


class AuditOut(BaseModel):
    id: int
    at: UtcDatetime
    actor: str
    action: str
    target: str | None
    result: str
    detail: dict[str, Any] | None
    diff: str | None


@router.get("/audit", response_model=list[AuditOut],
            responses={401: {"description": "Not authenticated"}})
def list_audit(
    request: Request, _who: Viewer, actor: str | None = None, action: str | None = None,
    target: str | None = None, result: str | None = None, since: datetime | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> list[AuditOut]:
    with get_ctx(request).store.session() as session:
        rows = find_entries(session, actor=actor, action=action, target=target, result=result,
                            since=since, limit=limit)
        return [AuditOut(id=r.id, at=r.at, actor=r.actor, action=r.action, target=r.target,
                         result=r.result, detail=r.detail, diff=r.diff) for r in rows]
