"""The open month's per-site figures without rereading the month: each site's closed days are
cached in the store as "parts" (bandwidth_day_parts), today (and the last GRACE_S) is read live.

Exactness: a part holds, in time order, what stats.compute_site_stats derives from each sample
(rate, rate over the allocation in force, covered seconds, ...), not per-day results: the month's
p95 is a nearest-rank percentile over every sample of the month, which per-day p95s cannot give.
The month is then the same arithmetic over the parts joined in time order (the same floats in
the same order: equal bit for bit to a computation from the rollups).
What invalidates a part: rollup rows of its day written or deleted (every writer calls
`store.bandwidth.forget_month_figures`, which drops the parts too), or its fingerprint: the
allocations in force that day (allocation history), the holidays around it, the site's zone,
the inventory's schedule windows (saturated hours read them), FIGURES_VERSION. Contract prices
are not in it: parts hold no money (costs are computed from the figures on each read).
Only 5-minute samples are cached: a site whose month is read from hourly rows (its 5-minute
rows gone: stats.load_samples) is computed from the rollups.
"""

from __future__ import annotations

import hashlib
import json
import logging
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import MutableSequence, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import chain
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from controller.allocation_history import SiteHistory, snapshot
from controller.bandwidth.stats import (
    BUSY_RATIO,
    DirectionStats,
    Period,
    Sample,
    SiteStats,
    _in_force,
    assemble,
    compute_site_stats,
    daily_figures,
    load_samples,
    percentile_95,
    period_for,
    windows_in_force,
)
from controller.inventory import Inventory, Site
from controller.schedules import holiday_dates
from controller.store.bandwidth import FIVE_MINUTES_S, Bandwidth1h, Bandwidth5m, BandwidthDayPart
from controller.units import Allocation

log = logging.getLogger(__name__)
GRACE_S = 2 * 3600  # a day is cached once it ended this long ago (late rows, the hourly rollup)
PART_VERSION = 1    # bump when a part's content or stats.py's arithmetic changes
_FLOATS = ("covered", "r_in", "r_out", "s_in", "s_out", "u_in", "u_out", "b_in", "b_out",
           "a_in", "a_out")


@dataclass
class Part:
    """What the month's figures read from a span of one site's 5-minute samples (those with
    covered seconds), each list in time order."""

    rows: int = 0           # 5-minute rows read (with those covering nothing)
    vol_in: int = 0
    vol_out: int = 0
    daily: list[tuple[date, float, float, float]] = field(default_factory=list)
    covered: MutableSequence[float] = field(default_factory=list)
    r_in: MutableSequence[float] = field(default_factory=list)   # rates
    r_out: MutableSequence[float] = field(default_factory=list)
    # Read only by percentiles and maxima, so sorted (a sort of the month's joined parts
    # then merges runs): rates, rate / allocation in force, rates under the own allocation.
    s_in: MutableSequence[float] = field(default_factory=list)
    s_out: MutableSequence[float] = field(default_factory=list)
    u_in: MutableSequence[float] = field(default_factory=list)
    u_out: MutableSequence[float] = field(default_factory=list)
    b_in: MutableSequence[float] = field(default_factory=list)
    b_out: MutableSequence[float] = field(default_factory=list)
    a_in: MutableSequence[float] = field(default_factory=list)   # covered s of samples above 80%
    a_out: MutableSequence[float] = field(default_factory=list)
    windows: MutableSequence[int] = field(default_factory=list)  # window_keys


@dataclass
class SiteUse:
    """A site's month of 5-minute rates, for the hours a proposed allocation would have
    been saturated (recommend.with_saturation)."""

    parts: list[Part]

    def saturated_hours(self, site: Site, allocation: Allocation) -> float:
        return saturated_seconds([p.r_in for p in self.parts], [p.r_out for p in self.parts],
                                 [p.covered for p in self.parts],
                                 [p.windows for p in self.parts], site, allocation) / 3600.0


def saturated_seconds(r_in: Sequence[Sequence[float]], r_out: Sequence[Sequence[float]],
                      covered: Sequence[Sequence[float]], windows: Sequence[Sequence[int]],
                      site: Site, allocation: Allocation) -> float:
    """Seconds whose rate exceeded, in either direction, what `site` would have had with its
    own allocation `allocation` (its schedule windows applied); the samples in spans, each
    sample's window as window_keys gives it."""
    as_if = site.model_copy(update={"allocation": allocation})
    limits = [as_if.allocation_during(None)] + [as_if.allocation_during(w)
                                                  for w in site.schedule]
    down = [a.down_bps for a in limits]
    up = [a.up_bps for a in limits]
    return sum(c for i, o, c, k in zip(chain.from_iterable(r_in), chain.from_iterable(r_out),
                                       chain.from_iterable(covered),
                                       chain.from_iterable(windows), strict=True)
               if i > down[k] or o > up[k])


def window_keys(samples: Sequence[Sample], site: Site, holidays: set[date]) -> list[int]:
    """Each sample's schedule window of `site` at its middle: 0 for none, else its index + 1."""
    index = {id(w): i + 1 for i, w in enumerate(site.schedule)}
    _, windows = windows_in_force(samples, SiteHistory([float("-inf")], [site]), holidays)
    return [0 if w is None else index[id(w)] for w in windows]


def build_part(samples: Sequence[Sample], rows: int, history: SiteHistory, current: Site,
               holidays: set[date], zone: ZoneInfo) -> Part:
    """A span's part, by stats.compute_site_stats's arithmetic (`current`: the inventory's
    site, whose schedule windows saturated hours use)."""
    samples = [s for s in samples if s.covered_s > 0]
    versions, allocs = _in_force(samples, history, holidays)
    part = Part(rows=rows, vol_in=sum(s.in_bytes for s in samples),
                vol_out=sum(s.out_bytes for s in samples),
                daily=daily_figures(samples, history, holidays, zone),
                covered=[s.covered_s for s in samples],
                windows=window_keys(samples, current, holidays))
    part.r_in = [s.in_bps for s in samples]
    part.r_out = [s.out_bps for s in samples]
    part.s_in, part.s_out = sorted(part.r_in), sorted(part.r_out)
    for rates, limits, util, base, above in (
            (part.r_in, [a.down_bps for a in allocs], part.u_in, part.b_in, part.a_in),
            (part.r_out, [a.up_bps for a in allocs], part.u_out, part.b_out, part.a_out)):
        util.extend(sorted(r / lim for r, lim in zip(rates, limits, strict=True)))
        base.extend(sorted(r for r, a, v in zip(rates, allocs, versions, strict=True)
                           if a == v.allocation))
        above.extend(c for c, r, lim in zip(part.covered, rates, limits, strict=True)
                     if r > BUSY_RATIO * lim)
    return part


def site_stats(history: SiteHistory, period: Period, parts: Sequence[Part]) -> SiteStats:
    """The period's figures from its parts in time order (as compute_site_stats gives them
    from the samples)."""
    site = history.at(period.end_ts - 1)
    covered = list(chain.from_iterable(p.covered for p in parts))
    observed = sum(covered)

    def direction(down: bool) -> DirectionStats:
        def joined(name: str) -> list[float]:
            return list(chain.from_iterable(getattr(p, name + ("_in" if down else "_out"))
                                            for p in parts))

        rates = joined("s")
        volume = sum(p.vol_in if down else p.vol_out for p in parts)
        return DirectionStats(
            allocation_bps=site.allocation.down_bps if down else site.allocation.up_bps,
            avg_bps=volume * 8 / observed if observed else 0.0,
            p95_bps=percentile_95(rates), peak_bps=max(rates, default=0.0),
            volume_bytes=volume, hours_above=sum(joined("a")) / 3600.0,
            p95_utilisation=percentile_95(joined("u")),
            p95_base_bps=percentile_95(joined("b") or rates))

    return assemble(site, period, FIVE_MINUTES_S, observed, direction(True), direction(False),
                    list(chain.from_iterable(p.daily for p in parts)), bool(covered))


# --------------------------------------------------------------------------- the month


def open_month_stats(session: Session, inventory: Inventory, sites: Sequence[Site],
                     periods: dict[str, Period], histories: dict[str, SiteHistory], now: float
                     ) -> tuple[list[SiteStats], dict[str, SiteUse]]:
    """Every site's figures for an open month (`periods`: each site's), from its cached
    closed days and its live rows since; with each 5-minute site's use."""
    holidays = holiday_dates(inventory)
    codes = [s.code for s in sites]
    first = min(p.start_ts for p in periods.values())
    cached: dict[str, dict[date, tuple[str, bytes]]] = {}
    for code, day, key, blob in session.execute(
            select(BandwidthDayPart.site, BandwidthDayPart.day, BandwidthDayPart.fingerprint,
                   BandwidthDayPart.part).where(BandwidthDayPart.site.in_(codes),
                                                BandwidthDayPart.start_ts >= first)):
        cached.setdefault(code, {})[day] = (key, blob)
    fresh: list[dict[str, Any]] = []
    memo: dict[int, Any] = {}
    out: list[SiteStats] = []
    uses: dict[str, SiteUse] = {}
    for site in sites:
        period, history = periods[site.code], histories[site.code]
        zone = ZoneInfo(site.timezone)
        days = _closed_days(period, site.timezone, now)
        live_from = days[-1][1].end_ts if days else period.start_ts
        parts: list[Part] = []
        missing = []
        for day, span in days:
            key = _fingerprint(site, span, history, holidays, memo)
            hit = cached.get(site.code, {}).get(day)
            if hit is not None and hit[0] == key:
                parts.append(decode(hit[1]))
            else:
                parts.append(Part())
                missing.append((len(parts) - 1, day, span, key))
        if missing:
            start, end = missing[0][2].start_ts, missing[-1][2].end_ts
            samples = _fine(session, site.code, start, end)
            for index, day, span, key in missing:
                mine = samples[bisect_left(samples, span.start_ts, key=_ts):
                               bisect_left(samples, span.end_ts, key=_ts)]
                part = build_part(mine, len(mine), history, site, holidays, zone)
                parts[index] = part
                fresh.append({"site": site.code, "day": day, "start_ts": span.start_ts,
                              "end_ts": span.end_ts, "fingerprint": key, "part": encode(part)})
        live = _fine(session, site.code, live_from, period.end_ts)
        parts.append(build_part(live, len(live), history, site, holidays, zone))
        coarse_s = session.scalar(select(func.sum(Bandwidth1h.covered_s)).where(
            Bandwidth1h.site == site.code, Bandwidth1h.ts >= period.start_ts,
            Bandwidth1h.ts < period.end_ts)) or 0.0
        # stats.load_samples's choice of resolution, from the same rows
        if sum(p.rows for p in parts) and sum(
                chain.from_iterable(p.covered for p in parts)) >= 0.9 * coarse_s:
            out.append(site_stats(history, period, parts))
            uses[site.code] = SiteUse(parts)
        else:
            out.append(compute_site_stats(
                site, period, load_samples(session, site.code, period.start_ts, period.end_ts),
                inventory, history))
    if fresh:
        _store(session, fresh, first)
    return out, uses


def _closed_days(period: Period, timezone: str, now: float) -> list[tuple[date, Period]]:
    """The local days of the period that ended at least GRACE_S before `now`."""
    out: list[tuple[date, Period]] = []
    day = datetime.fromtimestamp(period.start_ts, ZoneInfo(timezone)).date()
    while True:
        span = period_for("day", day, timezone)
        if span.end_ts > period.end_ts or span.end_ts + GRACE_S > now:
            return out
        out.append((day, span))
        day += timedelta(days=1)


def _ts(sample: Sample) -> int:
    return sample.ts


def _fine(session: Session, site: str, start_ts: int, end_ts: int) -> list[Sample]:
    rows = session.execute(select(
        Bandwidth5m.ts, Bandwidth5m.in_bytes, Bandwidth5m.out_bytes, Bandwidth5m.covered_s)
        .where(Bandwidth5m.site == site, Bandwidth5m.ts >= start_ts, Bandwidth5m.ts < end_ts)
        .order_by(Bandwidth5m.ts)).all()
    return [Sample(ts, FIVE_MINUTES_S, i, o, c) for ts, i, o, c in rows]


def _fingerprint(site: Site, span: Period, history: SiteHistory, holidays: set[date],
                 memo: dict[int, Any]) -> str:
    """A hash of what a day's part is computed from besides its rollup rows (`memo`: the
    site's version snapshots and schedule, the same for each of its days)."""
    from controller.bandwidth.month_cache import FIGURES_VERSION

    if id(history) not in memo:
        memo[id(history)] = ([snapshot(v) for v in history.versions],
                             [w.model_dump(mode="json") for w in site.schedule])
    snapshots, schedule = memo[id(history)]
    day = datetime.fromtimestamp(span.start_ts, ZoneInfo(site.timezone)).date()
    first = max(0, bisect_right(history.starts, span.start_ts) - 1)
    last = max(0, bisect_right(history.starts, span.end_ts - 1) - 1)
    versions = [[span.start_ts if i == first else history.starts[i], snapshots[i]]
                for i in range(first, last + 1)]
    parts = [PART_VERSION, FIGURES_VERSION, site.timezone, span.start_ts, span.end_ts,
             sorted(d.isoformat() for d in holidays if abs(d.toordinal() - day.toordinal()) <= 1),
             versions, schedule]
    encoded = json.dumps(parts, separators=(",", ":"), sort_keys=True, default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def _store(session: Session, rows: list[dict[str, Any]], first: int) -> None:
    """Upsert the new parts and drop those of days before the month (the month cache has
    them once it closes)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(BandwidthDayPart)
    try:
        session.execute(delete(BandwidthDayPart).where(BandwidthDayPart.end_ts <= first))
        session.execute(statement.on_conflict_do_update(
            index_elements=["site", "day"],
            set_={c: statement.excluded[c] for c in ("start_ts", "end_ts", "fingerprint",
                                                     "part")}), rows)
    except OperationalError:
        # As month_cache._store: SQLite refuses a write from a stale read transaction.
        if dialect == "postgresql":
            raise
        log.debug("open month: %d day parts not cached (the store changed meanwhile)",
                  len(rows))


# --------------------------------------------------------------------------- binary form


def encode(part: Part) -> bytes:
    """A JSON head (ints, the daily tuples: exact) and the lists as native doubles."""
    head = json.dumps({"rows": part.rows, "vol": [part.vol_in, part.vol_out],
                       "daily": [[d.isoformat(), a, p, al] for d, a, p, al in part.daily],
                       "lens": [len(getattr(part, n)) for n in _FLOATS]},
                      separators=(",", ":")).encode()
    body = b"".join(array("d", getattr(part, n)).tobytes() for n in _FLOATS)
    return (len(head).to_bytes(4, "big") + head + body
            + array("h", part.windows).tobytes())


def decode(blob: bytes) -> Part:
    size = int.from_bytes(blob[:4], "big")
    head = json.loads(blob[4:4 + size])
    part = Part(rows=head["rows"], vol_in=head["vol"][0], vol_out=head["vol"][1],
                daily=[(date.fromisoformat(d), a, p, al) for d, a, p, al in head["daily"]])
    offset = 4 + size
    for name, length in zip(_FLOATS, head["lens"], strict=True):
        values = array("d")
        values.frombytes(blob[offset:offset + 8 * length])
        setattr(part, name, values)  # a sequence of the same Python floats
        offset += 8 * length
    windows = array("h")
    windows.frombytes(blob[offset:])
    part.windows = windows
    return part

