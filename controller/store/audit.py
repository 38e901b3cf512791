"""The audit log: one row per login and per change, with who, when, what and the result."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
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


def find_entries(session: Session, *, actor: str | None = None, action: str | None = None,
                 target: str | None = None, result: str | None = None,
                 since: datetime | None = None, limit: int = 200) -> Sequence[AuditLog]:
    """Newest first; `action` matches as a prefix (`config.` finds every config action)."""
    query = select(AuditLog).order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(limit)
    if actor:
        query = query.where(AuditLog.actor == actor)
    if action:
        query = query.where(AuditLog.action.startswith(action))
    if target:
        query = query.where(AuditLog.target == target)
    if result:
        query = query.where(AuditLog.result == result)
    if since:
        query = query.where(AuditLog.at >= since)
    return session.scalars(query).all()


def known_actions(session: Session) -> list[str]:
    return sorted(set(session.scalars(select(AuditLog.action).distinct())))
