"""Time series for the graphs: a site's use per bucket over 1 h, 24 h, 7 d or 30 d, from the
stored rollups (5-minute rows for short ranges, hourly for long), with the allocation in force
beside it as a step line (schedule windows and allocation changes included)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.allocation_history import SiteHistory
from controller.inventory import TZ_OFFSET_MIN, Site
from controller.schedules import allocation_in_force
from controller.store.bandwidth import FIVE_MINUTES_S, HOUR_S, Bandwidth1h, Bandwidth5m

RangeName = Literal["1h", "24h", "7d", "30d"]
# range -> (length in seconds, bucket in seconds): 5-minute rows are kept 35 days, but 30 d
# of them is 8640 points a line; hourly rows keep the long ranges light.
RANGES: Final[dict[str, tuple[int, int]]] = {
    "1h": (3600, FIVE_MINUTES_S),
    "24h": (86400, FIVE_MINUTES_S),
    "7d": (7 * 86400, HOUR_S),
    "30d": (30 * 86400, HOUR_S),
}


@dataclass(frozen=True)
class Point:
    """One bucket's average rates (None: nothing measured then, drawn as a gap)."""

    ts: int
    in_bps: float | None
    out_bps: float | None


@dataclass(frozen=True)
class Step:
    """From `ts` on (until the next step), this allocation was in force."""

    ts: int
    down_bps: int
    up_bps: int


@dataclass(frozen=True)
class Series:
    start_ts: int
    end_ts: int
    step_s: int
    points: list[Point]
    allocation: list[Step]


def window(range_name: str, now: float) -> tuple[int, int, int]:
    """(start, end, bucket) of a range ending with the last bucket that has begun."""
    length, step = RANGES[range_name]
    end = (int(now) // step + 1) * step
    return end - length, end, step


def site_points(session: Session, site: str, start: int, end: int, step: int) -> list[Point]:
    """Every bucket of [start, end), gaps included."""
    table = Bandwidth5m if step == FIVE_MINUTES_S else Bandwidth1h
    rows = session.execute(select(table.ts, table.in_bytes, table.out_bytes, table.covered_s)
                           .where(table.site == site, table.ts >= start, table.ts < end))
    by_ts = {ts: (i, o, c) for ts, i, o, c in rows}
    points = []
    for ts in range(start, end, step):
        row = by_ts.get(ts)
        if row is None or not row[2]:
            points.append(Point(ts, None, None))
        else:
            i, o, covered = row
            points.append(Point(ts, i * 8 / covered, o * 8 / covered))
    return points


def _next_cut(site: Site, t: int) -> int:
    """The next moment after `t` at which a schedule window of `site` may begin or end: a
    window edge or a local midnight (holidays and weekdays change there)."""
    offset = TZ_OFFSET_MIN[site.timezone] * 60
    local = t + offset
    midnight = local - local % 86400
    edges = {86400} | {m * 60 for w in site.schedule for span in w.times for m in span}
    return min(e for e in edges if midnight + e > local) + midnight - offset


def allocation_steps(history: SiteHistory, start: int, end: int,
                     holidays: set[date] | None = None) -> list[Step]:
    """The allocation in force over [start, end) as steps: one at `start`, then one at each
    minute it changed (a schedule window beginning or ending, or an allocation change)."""
    steps: list[Step] = []
    changes = [int(at) for at in history.starts if start < at < end]
    t = start
    while t < end:
        alloc = allocation_in_force(history.at(t), t, holidays)
        if not steps or (steps[-1].down_bps, steps[-1].up_bps) != (alloc.down_bps,
                                                                    alloc.up_bps):
            steps.append(Step(t, alloc.down_bps, alloc.up_bps))
        t = min([_next_cut(history.at(t), t)] + [c for c in changes if c > t])
    return steps


def site_series(session: Session, history: SiteHistory, range_name: str, now: float,
                holidays: set[date] | None = None) -> Series:
    """A site's in/out use and allocation over the named range ending now."""
    start, end, step = window(range_name, now)
    code = history.versions[-1].code
    return Series(start, end, step, site_points(session, code, start, end, step),
                  allocation_steps(history, start, min(end, int(now) + 1), holidays))
