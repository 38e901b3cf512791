"""Closed months' per-site figures, cached in the store (bandwidth_month_figures): the
bandwidth page, the API, the monthly report and the costs all read a closed month from here.

What invalidates a cached month (chosen so that a cached month always equals a computed one):
- rollup rows of the month written or deleted: every writer (the poller's 5-minute merge, the
  hourly rollup, the prune, the demo synth) deletes the months its rows fall in
  (`store.bandwidth.forget_month_figures`). Checking the rows themselves on each read would
  scan ~100,000 rows of a recent month (~100-300 ms on SQLite), the whole budget. The prune
  drops only months read at 5-minute resolution: after 35 days a month's 5-minute rows go,
  and its figures switch to hourly ones (stats.load_samples);
- each site's name, kind and zone, every version of its allocation and schedule in force
  during the month (allocation history: an edit after the month leaves it alone; a site never
  recorded uses the inventory's allocation, so editing that changes the month), the holidays
  within it, and FIGURES_VERSION (bump it when stats.py's or schedules.py's arithmetic
  changes): hashed into the row's fingerprint, checked on each read (no query needed);
- contract prices are not in it: the figures hold no money; costs are computed from the
  figures and the contracts on each read (cheap).
An open month (its end not yet reached in some site's zone) is never cached whole: its closed
days are (open_month.py), today is read live.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from bisect import bisect_right
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from controller.allocation_history import SiteHistory, snapshot
from controller.bandwidth.open_month import SiteUse, open_month_stats
from controller.bandwidth.stats import (
    DirectionStats,
    Period,
    SiteStats,
    compute_regency,
    period_for,
)
from controller.inventory import Inventory, Site
from controller.schedules import holiday_dates
from controller.store.bandwidth import HOUR_S, BandwidthMonthFigures

log = logging.getLogger(__name__)
FIGURES_VERSION = 1

def month_stats(session: Session, inventory: Inventory, month: date,
                histories: dict[str, SiteHistory], now: float | None = None
                ) -> list[SiteStats]:
    """Every site's figures (but the NOC's) for the month holding `month`, unranked."""
    return month_figures(session, inventory, month, histories, now)[0]


def month_figures(session: Session, inventory: Inventory, month: date,
                  histories: dict[str, SiteHistory], now: float | None = None
                  ) -> tuple[list[SiteStats], dict[str, SiteUse]]:
    """month_stats, with each site's 5-minute use when the month is open (its cached days
    and today: open_month.py), for the saturated hours of a plan."""
    sites = [s for s in inventory.sites.values() if s.kind != "noc"]
    periods = {s.code: period_for("month", month, s.timezone) for s in sites}
    now = time.time() if now is None else now
    if not sites:
        return [], {}
    if max(p.end_ts for p in periods.values()) > now:
        return open_month_stats(session, inventory, sites, periods, histories, now)
    label = f"{month:%Y-%m}"
    key = fingerprint(inventory, sites, periods, histories)
    row = session.get(BandwidthMonthFigures, label)
    if row is not None and row.fingerprint == key:
        return [_stats_from(item) for item in json.loads(row.figures)], {}
    stats = compute_regency(session, inventory, "month", month, histories)
    figures = json.dumps([_stats_to(s) for s in stats], separators=(",", ":"))
    _store(session, label, key, figures, min(p.start_ts for p in periods.values()),
           max(p.end_ts for p in periods.values()),
           any(st.resolution_s < HOUR_S and st.observed_s > 0 for st in stats))
    return stats, {}


def closed_month_version(session: Session, month: date) -> str | None:
    """The version of a closed month's cached figures (None: not cached): it changes whenever
    they are computed again, so whatever was derived from the same samples may be reused."""
    row = session.get(BandwidthMonthFigures, f"{month:%Y-%m}")
    return None if row is None else f"{row.month}:{row.fingerprint}:{row.computed_at.isoformat()}"


def _store(session: Session, month: str, key: str, figures: str, start_ts: int, end_ts: int,
           uses_5m: bool) -> None:
    """Insert or replace the month's row (an upsert: two processes caching the same month at
    once is no error)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    values = {"fingerprint": key, "figures": figures, "computed_at": datetime.now(UTC),
              "start_ts": start_ts, "end_ts": end_ts, "uses_5m": uses_5m}
    statement = insert(BandwidthMonthFigures).values(month=month, **values)
    try:
        session.execute(statement.on_conflict_do_update(index_elements=["month"], set_=values))
    except OperationalError:
        # SQLite in WAL mode refuses a write from a read transaction older than another
        # writer's commit (the poller's, meanwhile): the figures may be stale, keep them out.
        if dialect == "postgresql":
            raise
        log.debug("month %s: figures not cached (the store changed meanwhile)", month)


def fingerprint(inventory: Inventory, sites: list[Site], periods: dict[str, Period],
                histories: dict[str, SiteHistory]) -> str:
    """A hash of what a closed month's figures are computed from besides the rollup rows
    (whose writers drop the cached month instead; see the module)."""
    first = min(datetime.fromtimestamp(p.start_ts, UTC).date() for p in periods.values())
    last = max(datetime.fromtimestamp(p.end_ts, UTC).date() for p in periods.values())
    parts: list[Any] = [FIGURES_VERSION, sorted(
        d.isoformat() for d in holiday_dates(inventory)
        if first.toordinal() - 1 <= d.toordinal() <= last.toordinal() + 1)]
    for site in sorted(sites, key=lambda s: s.code):
        period = periods[site.code]
        parts.append([site.code, site.name, site.kind, site.timezone, period.start_ts,
                      period.end_ts, _versions(histories[site.code], period)])
    encoded = json.dumps(parts, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(encoded.encode()).hexdigest()


def _versions(history: SiteHistory, period: Period) -> list[Any]:
    """The versions of a site's allocation in force at some moment of the period, with the
    moment each took force (the first: the period's start)."""
    first = max(0, bisect_right(history.starts, period.start_ts) - 1)
    last = max(0, bisect_right(history.starts, period.end_ts - 1) - 1)
    return [[period.start_ts if i == first else history.starts[i],
             snapshot(history.versions[i])] for i in range(first, last + 1)]


# --------------------------------------------------------------------------- JSON form


def _stats_to(s: SiteStats) -> dict[str, Any]:
    """JSON keeps floats exact (shortest repr) and ints as ints, so the figures read back equal
    the computed ones bit for bit."""
    return {"site": s.site, "name": s.name, "kind": s.kind,
            "period": [s.period.kind, s.period.label, s.period.start_ts, s.period.end_ts],
            "resolution_s": s.resolution_s, "observed_s": s.observed_s,
            "down": _direction_to(s.down), "up": _direction_to(s.up),
            "under_used": s.under_used, "saturated": s.saturated,
            "daily": [[d.isoformat(), avg, p95, alloc] for d, avg, p95, alloc in s.daily]}


def _direction_to(d: DirectionStats) -> list[Any]:
    return [d.allocation_bps, d.avg_bps, d.p95_bps, d.peak_bps, d.volume_bytes, d.hours_above,
            d.p95_utilisation, d.p95_base_bps]


def _stats_from(item: dict[str, Any]) -> SiteStats:
    kind, label, start, end = item["period"]
    return SiteStats(
        site=item["site"], name=item["name"], kind=item["kind"],
        period=Period(kind, label, start, end), resolution_s=item["resolution_s"],
        observed_s=item["observed_s"], down=DirectionStats(*item["down"]),
        up=DirectionStats(*item["up"]), under_used=item["under_used"],
        saturated=item["saturated"],
        daily=[(date.fromisoformat(d), avg, p95, alloc) for d, avg, p95, alloc in item["daily"]])
