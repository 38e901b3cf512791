"""The reconciler: each gateway's allowed set made equal to the store's open sessions.

Sessions live in the store, so a restarted portal or gateway loses none: this puts them back.
Gateway calls are blocking (SSH): call it from a thread, never the event loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select

from captive_portal.clock import seconds_between, utcnow
from captive_portal.gateways.base import Client, GatewayError, Grant
from captive_portal.gateways.pool import GatewayPool
from captive_portal.sessions import owned
from controller.context import Context
from controller.store.portal import PortalSession

log = logging.getLogger("simpul.portal")


@dataclass
class ReconcileReport:
    added: int = 0
    removed: int = 0
    unreachable: list[str] = field(default_factory=list)


class Reconciler:
    def __init__(self, ctx: Context, gateways: GatewayPool):
        self.ctx = ctx
        self.store = ctx.store
        self.gateways = gateways

    def reconcile(self, only: str | None = None) -> ReconcileReport:
        """Make each gateway's allowed set equal the open sessions (add missing, drop extra)."""
        report = ReconcileReport()
        now = utcnow()
        for name in self.ctx.inventory.hotspots:
            if only is not None and name != only:
                continue
            if only is None and not owned(self.ctx, name):
                continue
            if only is None and not self._gateway_known(name):
                continue  # never reach out to a gateway that has never had a session
            try:
                gateway = self.gateways.get(name)
                # Read the gateway before the store: a login commits its session before it
                # adds the element, so an element seen here always has its session below.
                actual = {a.client for a in gateway.allowed()}
                with self.store.session() as session:
                    rows = list(session.scalars(select(PortalSession).where(
                        PortalSession.hotspot == name, PortalSession.ended_at.is_(None),
                        PortalSession.expires_at > utcnow())))
                    desired = {Client(r.client_ip, r.client_mac): r for r in rows
                               if r.client_ip and r.client_mac}
                    missing = [c for c in desired if c not in actual]
                    extra = [c for c in actual if c not in desired]
                    if missing:
                        gateway.allow([Grant(c, seconds_between(now, desired[c].expires_at))
                                       for c in missing])
                        for client in missing:
                            desired[client].counter_up = desired[client].counter_down = 0
                if extra:
                    gateway.revoke(extra)
            except GatewayError as exc:
                log.warning("hotspot %s: reconcile failed: %s", name, exc)
                report.unreachable.append(name)
                continue
            report.added += len(missing)
            report.removed += len(extra)
            if missing or extra:
                log.info("hotspot %s: reconciled gateway (+%d -%d)", name, len(missing),
                         len(extra))
        return report

    def _gateway_known(self, name: str) -> bool:
        if self.gateways.opened(name):
            return True
        with self.store.session() as session:
            return session.scalar(select(PortalSession.id).where(
                PortalSession.hotspot == name).limit(1)) is not None
