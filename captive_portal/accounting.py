"""Sessions after login: gateway counters into the store, the reaper, disconnects, retention.

Gateway calls are blocking (SSH): call these methods from a thread, never the event loop.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from captive_portal import sms_budget
from captive_portal.clock import (
    aware,
    local_day_label,
    local_day_start,
    local_month_start,
    seconds_between,
    utcnow,
)
from captive_portal.gateways.base import AllowedClient, Client, GatewayError
from captive_portal.gateways.pool import GatewayPool
from captive_portal.sessions import end_session, hotspot_timezone, owned
from captive_portal.sms import OutboxSender, SmsSender
from controller.accountability.reach import close_periods
from controller.context import Context
from controller.store import audit
from controller.store.portal import (
    HotspotTraffic,
    MonthlyDevices,
    OtpCode,
    PortalSession,
    RadiusLogin,
    Voucher,
)

log = logging.getLogger("simpul.portal")
FORGET_EVERY = timedelta(minutes=5)  # a closed period's hashes are erased within this


@dataclass
class ReapReport:
    accounted: int = 0
    ended: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    unreachable: list[str] = field(default_factory=list)
    purged: int = 0


def apply_counters(row: PortalSession, counter_up: int, counter_down: int,
                   now: datetime) -> tuple[int, int]:
    """A gateway's or NAS's raw counters of a session into its bytes; returns the increase.
    A counter below the last one read restarted (the element was re-added): all of it is new."""
    d_up = counter_up - row.counter_up
    d_up = counter_up if d_up < 0 else d_up
    d_down = counter_down - row.counter_down
    d_down = counter_down if d_down < 0 else d_down
    row.counter_up, row.counter_down = counter_up, counter_down
    if d_up or d_down:
        row.bytes_up += d_up
        row.bytes_down += d_down
        row.last_activity_at = now
    return d_up, d_down


def add_hotspot_traffic(session: Session, hotspot: str, up: int, down: int) -> None:
    """Add bytes to the hotspot's monotonic traffic counter (simpul_hotspot_client_bytes)."""
    if not (up or down):
        return
    traffic = session.get(HotspotTraffic, hotspot)
    if traffic is None:
        session.add(HotspotTraffic(hotspot=hotspot, bytes_up=up, bytes_down=down))
    else:
        traffic.bytes_up = HotspotTraffic.bytes_up + up
        traffic.bytes_down = HotspotTraffic.bytes_down + down


class Accounting:
    def __init__(self, ctx: Context, gateways: GatewayPool, sms: SmsSender | None = None):
        self.ctx = ctx
        self.store = ctx.store
        self.gateways = gateways
        self.sms = sms  # an outbox file is personal data too: retention prunes it
        self._forgot_at: datetime | None = None

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
                        d_up, d_down = apply_counters(row, seen.bytes_up, seen.bytes_down, now)
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
                    elif counters is not None and \
                            seconds_between(row.last_activity_at, now) >= hotspot.idle_timeout:
                        # A gateway out of reach tells nothing of activity: its clients go on
                        # using the internet meanwhile, so none is ended as idle for that.
                        reason = "idle"
                    if reason is not None:
                        client = end_session(session, row, reason, now)
                        report.ended[reason] += 1
                        # adapter radius: the NAS's sessions are not listed (its accounting
                        # is in the store), so every ended one gets a Disconnect-Request.
                        if client is not None and counters is not None and (
                                client in counters or hotspot is not None
                                and hotspot.adapter == "radius"):
                            revoke.append(client)
                add_hotspot_traffic(session, name, up_total, down_total)
            if revoke and hotspot is not None:
                try:
                    self.gateways.get(name).revoke(revoke)
                except GatewayError as exc:
                    log.warning("hotspot %s: revoke failed, the reconciler retries: %s", name,
                                exc)
        if self.ctx.shard.index == 1:  # retention: one shard deletes, the first
            report.purged = self.purge_old_records(now)
            if self._forgot_at is None or now - self._forgot_at >= FORGET_EVERY:
                self.forget_closed_periods(now)
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
            # RADIUS credentials: unused ones a day after they expired, used ones with their
            # session
            session.execute(delete(RadiusLogin).where(
                RadiusLogin.used_at.is_(None), RadiusLogin.expires_at < now - timedelta(days=1)))
            session.execute(delete(RadiusLogin).where(
                RadiusLogin.used_at.is_not(None),
                RadiusLogin.session_id.not_in(select(PortalSession.id))))
            sms_budget.purge_spent(session, now)
        if isinstance(self.sms, OutboxSender):
            self.sms.prune(now)
        return int(gone or 0)

    def forget_closed_periods(self, now: datetime | None = None) -> int:
        """Erase the MAC hashes whose period has closed, so none outlives its use: the day's
        once the hotspot's day is over (the daily quota is done with it), the month's once the
        month is over, after counting the month's distinct devices. Returns the hashes erased."""
        now = now or utcnow()
        self._forgot_at = now
        erased = 0
        with self.store.session() as session:
            # Reach of the closed days and months first: it counts the hashes erased below.
            close_periods(session, lambda name: hotspot_timezone(self.ctx, name), now)
            erased += self._close_months(session, now)
            day_hotspots = session.scalars(select(PortalSession.hotspot).where(
                PortalSession.client_hash.is_not(None)).distinct()).all()
            for name in day_hotspots:
                start = local_day_start(now, hotspot_timezone(self.ctx, name))
                erased += self._erase(session, PortalSession.client_hash, name, start)
        return erased

    def _close_months(self, session: Session, now: datetime) -> int:
        erased = 0
        hotspots = session.scalars(select(PortalSession.hotspot).where(
            PortalSession.month_hash.is_not(None)).distinct()).all()
        for name in hotspots:
            zone = hotspot_timezone(self.ctx, name)
            start = local_month_start(now, zone)
            devices: dict[str, set[str]] = defaultdict(set)
            for month_hash, started in session.execute(
                    select(PortalSession.month_hash, PortalSession.started_at).where(
                        PortalSession.month_hash.is_not(None), PortalSession.hotspot == name,
                        PortalSession.started_at < start)):
                if month_hash is not None:
                    devices[local_day_label(aware(started), zone)[:7]].add(month_hash)
            for month, hashes in devices.items():
                row = session.get(MonthlyDevices, (month, name))
                if row is None:
                    session.add(MonthlyDevices(month=month, hotspot=name, devices=len(hashes)))
                else:  # a late session of a month already closed
                    row.devices += len(hashes)
            erased += self._erase(session, PortalSession.month_hash, name, start)
        return erased

    @staticmethod
    def _erase(session: Session, column: Any, hotspot: str, before: datetime) -> int:
        result = session.execute(
            update(PortalSession).where(column.is_not(None), PortalSession.hotspot == hotspot,
                                        PortalSession.started_at < before)
            .values({column: None}), execution_options={"synchronize_session": False})
        return int(getattr(result, "rowcount", 0) or 0)

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
