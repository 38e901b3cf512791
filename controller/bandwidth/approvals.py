"""Four eyes for cuts (issue #18): accepting a lower allocation for a `protected` site (the
hospital, the disaster agency) records a request instead of editing the inventory; a second
operator, not the requester, approves it (the edit is then made as any accept) or rejects it.

Every step is audited (`bandwidth.accept.request`, `.approve`, `.reject`; the edit itself is
`bandwidth.accept`), a waiting cut goes out on the alert channel like a waiting push, and the
requests live in the store (`allocation_approvals`), so any admin process shows and decides
them and a restart loses none. A raise for a protected site needs no second operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select, update

from controller.bandwidth.accept import Accepted, AcceptError, accept_allocation
from controller.inventory import Inventory
from controller.pushes import post_alert
from controller.secrets import SecretStore
from controller.store import audit
from controller.store.bandwidth import AllocationApproval
from controller.store.db import Store
from controller.units import Allocation

AWAITING_APPROVAL, APPROVED, REJECTED, FAILED = (
    "awaiting_approval", "approved", "rejected", "failed")
CUT_ALERT = "SimpulCutAwaitingApproval"


class ApprovalRefused(AcceptError):
    """A step that does not apply to the request now (decided already, unknown); says why."""


class OwnApproval(ApprovalRefused):
    """The requester tried to approve their own cut: four eyes means two operators."""


@dataclass(frozen=True)
class CutRequest:
    id: int
    site: str
    before: str
    after: str
    reason: str | None
    requested_by: str
    requested_at: datetime
    state: str
    decided_by: str | None = None
    decided_at: datetime | None = None
    error: str | None = None


def is_cut(current: Allocation, new: Allocation) -> bool:
    """Lower in either direction: what can hurt the office."""
    return new.down_bps < current.down_bps or new.up_bps < current.up_bps


def needs_second_operator(inventory: Inventory, site_code: str, new: Allocation) -> bool:
    site = inventory.sites.get(site_code)
    return site is not None and site.protected and is_cut(site.allocation, new)


def accept_or_request(inventory_dir: Path, inventory: Inventory, site_code: str,
                      new: Allocation, *, store: Store, actor: str,
                      secrets: SecretStore | None = None, reason: str | None = None,
                      alertmanager_url: str = "") -> Accepted | CutRequest:
    """Accept the allocation now, or (a cut of a protected site) record it for a second
    operator and tell the alert channel."""
    if not needs_second_operator(inventory, site_code, new):
        return accept_allocation(inventory_dir, site_code, new, store=store, actor=actor,
                                 secrets=secrets, reason=reason)
    before = str(inventory.sites[site_code].allocation)
    with store.session() as session:
        waiting = session.scalars(select(AllocationApproval).where(
            AllocationApproval.site == site_code,
            AllocationApproval.state == AWAITING_APPROVAL)).first()
        if waiting is not None:
            raise ApprovalRefused(
                f"site {site_code!r}: cut #{waiting.id} ({waiting.before} -> {waiting.after}, "
                f"asked by {waiting.requested_by}) already waits for a second operator; "
                "approve or reject it first")
        row = AllocationApproval(site=site_code, before=before, after=str(new), reason=reason,
                                 requested_by=actor, requested_at=datetime.now(UTC),
                                 state=AWAITING_APPROVAL)
        session.add(row)
        session.flush()
        audit.record(session, actor, "bandwidth.accept.request", target=f"site:{site_code}",
                     result=AWAITING_APPROVAL,
                     detail={"approval": row.id, "from": before, "to": str(new),
                             "reason": reason})
        request = _request(row)
    _alert(alertmanager_url, request, firing=True)
    return request


def approve(approval_id: int, approver: str, *, inventory_dir: Path, inventory: Inventory,
            store: Store, secrets: SecretStore | None = None,
            alertmanager_url: str = "") -> tuple[CutRequest, Accepted]:
    """A second operator's approval: the cut is written (as any accept). The requester's own
    approval is refused and audited; a site whose allocation changed meanwhile, or an edit
    the inventory refuses, ends the request `failed` and changes nothing."""
    with store.session() as session:
        row = _row(session, approval_id)
        if row.state != AWAITING_APPROVAL:
            raise ApprovalRefused(f"cut #{approval_id} is {row.state}: it awaits no approval")
        if approver == row.requested_by:
            audit.record(session, approver, "bandwidth.accept.approve",
                         target=f"site:{row.site}", result="refused",
                         detail={"approval": approval_id, "reason": "requester"})
            session.commit()
            raise OwnApproval(f"cut #{approval_id}: the operator who asked for it ({approver}) "
                              "cannot approve it; a second operator must")
        # Claim it (one approver wins when two click at once).
        claimed = session.execute(update(AllocationApproval).where(
            AllocationApproval.id == approval_id,
            AllocationApproval.state == AWAITING_APPROVAL).values(
            state=APPROVED, decided_by=approver, decided_at=datetime.now(UTC)))
        if not getattr(claimed, "rowcount", 0):
            raise ApprovalRefused(f"cut #{approval_id} was decided meanwhile")
        audit.record(session, approver, "bandwidth.accept.approve", target=f"site:{row.site}",
                     detail={"approval": approval_id, "requester": row.requested_by,
                             "from": row.before, "to": row.after})
        site, before, after, requester = row.site, row.before, row.after, row.requested_by
        reason = row.reason
    try:
        site_now = inventory.sites.get(site)
        if site_now is None or str(site_now.allocation) != before:
            raise AcceptError(f"site {site!r}'s allocation changed since the request "
                              f"(now {site_now.allocation if site_now else 'gone'}, asked "
                              f"from {before}); ask again")
        done = accept_allocation(
            inventory_dir, site, Allocation.parse(after), store=store, actor=approver,
            secrets=secrets,
            reason=f"{reason or 'cut'}; asked by {requester}, approved by {approver}")
    except AcceptError as exc:
        with store.session() as session:
            session.execute(update(AllocationApproval).where(
                AllocationApproval.id == approval_id).values(state=FAILED, error=str(exc)))
        _alert(alertmanager_url, get(store, approval_id), firing=False)
        raise
    request = get(store, approval_id)
    _alert(alertmanager_url, request, firing=False)
    return request, done


def reject(approval_id: int, actor: str, *, store: Store,
           alertmanager_url: str = "") -> CutRequest:
    """Any operator (the requester too, withdrawing it) rejects the cut: nothing changes."""
    with store.session() as session:
        row = _row(session, approval_id)
        if row.state != AWAITING_APPROVAL:
            raise ApprovalRefused(f"cut #{approval_id} is {row.state}: it awaits no decision")
        row.state, row.decided_by, row.decided_at = REJECTED, actor, datetime.now(UTC)
        audit.record(session, actor, "bandwidth.accept.reject", target=f"site:{row.site}",
                     detail={"approval": approval_id, "requester": row.requested_by,
                             "from": row.before, "to": row.after})
        request = _request(row)
    _alert(alertmanager_url, request, firing=False)
    return request


# --------------------------------------------------------------------------- reading


def get(store: Store, approval_id: int) -> CutRequest:
    with store.session() as session:
        return _request(_row(session, approval_id))


def recent(store: Store, limit: int = 50, state: str | None = None) -> list[CutRequest]:
    """Newest first."""
    with store.session() as session:
        query = select(AllocationApproval)
        if state is not None:
            query = query.where(AllocationApproval.state == state)
        rows = session.scalars(query.order_by(AllocationApproval.id.desc()).limit(limit)).all()
        return [_request(r) for r in rows]


def count_waiting(store: Store) -> int:
    """How many cuts wait for a second operator (the header shows it)."""
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(AllocationApproval).where(
            AllocationApproval.state == AWAITING_APPROVAL)) or 0


def _row(session: object, approval_id: int) -> AllocationApproval:
    row = session.get(AllocationApproval, approval_id)  # type: ignore[attr-defined]
    if row is None:
        raise ApprovalRefused(f"no cut #{approval_id}")
    return row  # type: ignore[no-any-return]


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def _request(row: AllocationApproval) -> CutRequest:
    return CutRequest(id=row.id, site=row.site, before=row.before, after=row.after,
                      reason=row.reason, requested_by=row.requested_by,
                      requested_at=_aware(row.requested_at) or datetime.now(UTC),
                      state=row.state, decided_by=row.decided_by,
                      decided_at=_aware(row.decided_at), error=row.error)


def _alert(url: str, request: CutRequest, firing: bool) -> None:
    post_alert(url, {"alertname": CUT_ALERT, "approval": str(request.id),
                     "site": request.site},
               f"Pemotongan alokasi #{request.id} situs terlindungi {request.site} "
               f"{request.before} -> {request.after} ({request.requested_by}) menunggu "
               "persetujuan operator kedua / a cut of a protected site waits for a second "
               "operator's approval", request.requested_at, firing, f"cut #{request.id}")
