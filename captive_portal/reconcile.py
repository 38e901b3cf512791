"""The reconciler: each gateway's allowed set made equal to the store's open sessions.

Sessions live in the store, so a restarted portal or gateway loses none: this puts them back.
adapter radius has no allowed set to read: the NAS's accounting is its truth, so an open
session the NAS has not reported for radius_stale_intervals interim intervals is ended
(`nas-silent`). Gateway calls are blocking (SSH, RADIUS): call it from a thread, never the
event loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select

from captive_portal.clock import aware, seconds_between, utcnow
from captive_portal.gateways.base import Client, GatewayError, Grant
from captive_portal.gateways.pool import GatewayPool
from captive_portal.sessions import end_session, owned
from controller.context import Context
from controller.store.portal import PortalSession, RadiusLogin

log = logging.getLogger("simpul.portal")


@dataclass
class ReconcileReport:
    added: int = 0
    removed: int = 0
    ended: int = 0  # adapter radius: sessions the NAS stopped reporting
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
            if self.ctx.inventory.hotspots[name].adapter == "radius":
                report.ended += self._end_silent(name, now)
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

    def _end_silent(self, name: str, now: datetime) -> int:
        """adapter radius: end the open sessions whose last accounting (or start, if the NAS
        never reported them) is older than interim x stale intervals, and send each a
        Disconnect-Request in case the NAS still carries it (a NAK is fine)."""
        settings = self.ctx.settings
        cutoff = now - timedelta(
            seconds=settings.radius_interim_interval_s * settings.radius_stale_intervals)
        revoke: list[Client] = []
        ended = 0
        with self.store.session() as session:
            last_report = select(RadiusLogin.session_id, func.max(RadiusLogin.acct_at).label(
                "acct_at")).group_by(RadiusLogin.session_id).subquery()
            rows = session.execute(select(PortalSession, last_report.c.acct_at).outerjoin(
                last_report, last_report.c.session_id == PortalSession.id).where(
                PortalSession.hotspot == name, PortalSession.ended_at.is_(None))).all()
            for row, acct_at in rows:
                if aware(acct_at or row.started_at) >= cutoff:
                    continue
                client = end_session(session, row, "nas-silent", now)
                ended += 1
                if client is not None:
                    revoke.append(client)
        if revoke:
            try:
                self.gateways.get(name).revoke(revoke)
            except GatewayError as exc:
                log.warning("hotspot %s: Disconnect-Request failed: %s", name, exc)
        return ended

    def _gateway_known(self, name: str) -> bool:
        if self.gateways.opened(name):
            return True
        with self.store.session() as session:
            return session.scalar(select(PortalSession.id).where(
                PortalSession.hotspot == name).limit(1)) is not None
