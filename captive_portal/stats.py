"""What engineers and the metrics see of the portal: open sessions, login counts, traffic.

Read from the store only (no gateway round trip); hotspot names, never a citizen's identity,
except the session list engineers see in the admin UI and CLI.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from captive_portal.clock import aware, local_day_label, utcnow
from captive_portal.sessions import SessionView, session_view
from controller.store.db import Store
from controller.store.portal import HotspotTraffic, LoginCount, MonthlyDevices, PortalSession


class PortalStats:
    def __init__(self, store: Store, timezone_of: Callable[[str], str] = lambda _name: "UTC"):
        self.store = store
        self.timezone_of = timezone_of  # a hotspot's zone: its months are local

    def list_active_sessions(self, hotspot: str | None = None) -> list[SessionView]:
        now = utcnow()
        with self.store.session() as session:
            query = select(PortalSession).where(PortalSession.ended_at.is_(None))
            if hotspot is not None:
                query = query.where(PortalSession.hotspot == hotspot)
            return [session_view(r, now)
                    for r in session.scalars(query.order_by(PortalSession.id))]

    def session_counts(self) -> dict[str, int]:
        with self.store.session() as session:
            rows = session.execute(select(PortalSession.hotspot, func.count(PortalSession.id))
                                   .where(PortalSession.ended_at.is_(None))
                                   .group_by(PortalSession.hotspot)).all()
        return {name: int(count) for name, count in rows}

    def login_stats(self, days: int = 7) -> list[dict[str, Any]]:
        """Login attempts per day, hotspot, method and result over the last `days` days."""
        since = (utcnow() - timedelta(days=days)).strftime("%Y-%m-%d")
        with self.store.session() as session:
            rows = session.scalars(select(LoginCount).where(LoginCount.day >= since)
                                   .order_by(LoginCount.day, LoginCount.hotspot))
            return [{"day": r.day, "hotspot": r.hotspot, "method": r.method,
                     "result": r.result, "count": int(r.count)} for r in rows]

    def login_totals(self) -> dict[tuple[str, str, str], int]:
        with self.store.session() as session:
            rows = session.execute(select(LoginCount.hotspot, LoginCount.method,
                                          LoginCount.result, func.sum(LoginCount.count))
                                   .group_by(LoginCount.hotspot, LoginCount.method,
                                             LoginCount.result)).all()
        return {(h, m, r): int(c) for h, m, r, c in rows}

    def distinct_devices(self, month: str) -> dict[str, int]:
        """Distinct devices per hotspot in a month (YYYY-MM, local to each hotspot): counted
        when the month closed, plus the hashes of the month not yet closed."""
        found: dict[str, set[str]] = defaultdict(set)
        with self.store.session() as session:
            closed = {row.hotspot: row.devices for row in session.scalars(
                select(MonthlyDevices).where(MonthlyDevices.month == month))}
            for name, month_hash, started in session.execute(
                    select(PortalSession.hotspot, PortalSession.month_hash,
                           PortalSession.started_at)
                    .where(PortalSession.month_hash.is_not(None))):
                if month_hash is not None and \
                        local_day_label(aware(started), self.timezone_of(name))[:7] == month:
                    found[name].add(month_hash)
        return {name: closed.get(name, 0) + len(found.get(name, ()))
                for name in sorted({*closed, *found})}

    def traffic_totals(self) -> dict[str, tuple[int, int]]:
        with self.store.session() as session:
            return {t.hotspot: (int(t.bytes_up), int(t.bytes_down))
                    for t in session.scalars(select(HotspotTraffic))}
