"""The audit log: one row per login and per change, with who, when, what and the result."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from controller.store.models import AuditLog


def record(
    session: Session,
    actor: str,
    action: str,
    *,
    target: str | None = None,
    result: str = "ok",
    detail: dict[str, Any] | None = None,
    diff: str | None = None,
    user_id: int | None = None,
) -> AuditLog:
    row = AuditLog(actor=actor, action=action, target=target, result=result, detail=detail,
                   diff=diff, user_id=user_id)
    session.add(row)
    return row
