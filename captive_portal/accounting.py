"""Sessions after login: gateway counters into the store, the reaper, disconnects, retention.

Gateway calls are blocking (SSH): call these methods from a thread, never the event loop.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from captive_portal.clock import aware, seconds_between, utcnow
from captive_portal.gateways.base import AllowedClient, Client, GatewayError
from captive_portal.gateways.pool import GatewayPool
from captive_portal.sessions import end_session, owned
from controller.context import Context
from controller.store import audit
from controller.store.portal import HotspotTraffic, OtpCode, PortalSession, Voucher

log = logging.getLogger("simpul.portal")


@dataclass
class ReapReport:
    accounted: int = 0
    ended: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    unreachable: list[str] = field(default_factory=list)
    purged: int = 0


class Accounting:
    def __init__(self, ctx: Context, gateways: GatewayPool):
        self.ctx = ctx
        self.store = ctx.store
        self.gateways = gateways

    def account_and_reap(self) -> ReapReport:
        """Read each gateway's counters, then end sessions past timeout, quota or idle (of the
        hotspots this process's shard looks after)."""
        report = ReapReport()
        now = utcnow()
        with self.store.session() as session:
            hotspots = list(session.scalars(select(PortalSession.hotspot).where(
                PortalSession.ended_at.is_(None)).distinct()))
        for name in hotspots:
            if not owned(self.ctx, name):
                continue
            hotspot = self.ctx.inventory.hotspots.get(name)
            counters: dict[Client, AllowedClient] | None = None
            if hotspot is not None:
                try:
                    counters = {a.client: a for a in self.gateways.get(name).allowed()}
                except GatewayError as exc:
                    log.warning("hotspot %s: accounting skipped: %s", name, exc)
                    report.unreachable.append(name)
            revoke: list[Client] = []
            with self.store.session() as session:
                rows = list(session.scalars(select(PortalSession).where(
                    PortalSession.hotspot == name, PortalSession.ended_at.is_(None))))
                up_total = down_total = 0
                for row in rows:
                    key = Client(row.client_ip or "", row.client_mac or "")
                    seen = counters.get(key) if counters is not None else None
                    if seen is not None:
                        d_up = seen.bytes_up - row.counter_up
                        d_up = seen.bytes_up if d_up < 0 else d_up
                        d_down = seen.bytes_down - row.counter_down
                        d_down = seen.bytes_down if d_down < 0 else d_down
                        row.counter_up, row.counter_down = seen.bytes_up, seen.bytes_down
                        if d_up or d_down:
                            row.bytes_up += d_up
                            row.bytes_down += d_down
                            row.last_activity_at = now
                            up_total += d_up
                            down_total += d_down
                        report.accounted += 1
                    reason = None
                    if hotspot is None:
                        reason = "removed"
                    elif aware(row.expires_at) <= now:
                        reason = "timeout"
                    elif row.quota_bytes is not None and \
                            row.bytes_up + row.bytes_down >= row.quota_bytes:
                        reason = "quota"
                    elif seconds_between(row.last_activity_at, now) >= hotspot.idle_timeout:
                        reason = "idle"
                    if reason is not None:
                        client = end_session(session, row, reason, now)
                        report.ended[reason] += 1
                        if client is not None and counters is not None and client in counters:
                            revoke.append(client)
                if up_total or down_total:
                    traffic = session.get(HotspotTraffic, name)
                    if traffic is None:
                        session.add(HotspotTraffic(hotspot=name, bytes_up=up_total,
                                                   bytes_down=down_total))
                    else:
                        traffic.bytes_up = HotspotTraffic.bytes_up + up_total
                        traffic.bytes_down = HotspotTraffic.bytes_down + down_total
            if revoke and hotspot is not None:
                try:
                    self.gateways.get(name).revoke(revoke)
                except GatewayError as exc:
                    log.warning("hotspot %s: revoke failed, the reconciler retries: %s", name,
                                exc)
        if self.ctx.shard.index == 1:  # retention: one shard deletes, the first
            report.purged = self.purge_old_records(now)
        return report

    def purge_old_records(self, now: datetime | None = None) -> int:
        """Retention: delete ended sessions and spent codes older than the retention period."""
        now = now or utcnow()
        cutoff = now - timedelta(days=self.ctx.settings.portal_retention_days)
        with self.store.session() as session:
            gone = getattr(session.execute(delete(PortalSession).where(
                PortalSession.ended_at.is_not(None), PortalSession.ended_at < cutoff)),
                "rowcount", 0)
            session.execute(delete(OtpCode).where(OtpCode.expires_at < now - timedelta(days=1)))
            session.execute(delete(Voucher).where(Voucher.valid_until < cutoff))
        return int(gone or 0)

    def disconnect(self, session_id: int, actor: str) -> bool:
        """An engineer ends a session now; False if it is not open. Audited."""
        now = utcnow()
        with self.store.session() as session:
            row = session.get(PortalSession, session_id)
            if row is None or row.ended_at is not None:
                return False
            hotspot = row.hotspot
            client = end_session(session, row, "engineer", now)
            audit.record(session, actor, "hotspot.disconnect", target=f"session:{session_id}",
                         result="ok", detail={"hotspot": hotspot})
        if client is not None:
            try:
                self.gateways.get(hotspot).revoke([client])
            except GatewayError as exc:
                log.warning("hotspot %s: revoke failed, the reconciler retries: %s", hotspot, exc)
        return True
