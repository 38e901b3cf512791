"""Time series for the graphs: a site's, an ISP link's or a device interface's use per bucket
over 1 h, 24 h, 7 d or 30 d, from the stored rollups (5-minute rows for short ranges, hourly
for long), with the limit in force beside it as a step line: a site's allocation (schedule
windows and allocation changes included), an ISP contract's committed capacity, an
interface's reported speed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.allocation_history import SiteHistory, load_histories
from controller.inventory import TZ_OFFSET_MIN, Allocation, Inventory, Site
from controller.schedules import allocation_in_force, holiday_dates
from controller.store.bandwidth import (
    FIVE_MINUTES_S,
    HOUR_S,
    Bandwidth1h,
    Bandwidth5m,
    Interface1h,
    Interface5m,
)

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


def _points(rows: Any, start: int, end: int, step: int) -> list[Point]:
    """Every bucket of [start, end) from (ts, in bytes, out bytes, covered s) rows, gaps
    included (no row, or nothing covered)."""
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


def site_points(session: Session, site: str, start: int, end: int, step: int) -> list[Point]:
    """Every bucket of [start, end), gaps included."""
    table = Bandwidth5m if step == FIVE_MINUTES_S else Bandwidth1h
    rows = session.execute(select(table.ts, table.in_bytes, table.out_bytes, table.covered_s)
                           .where(table.site == site, table.ts >= start, table.ts < end))
    return _points(rows, start, end, step)


def interface_series(session: Session, device: str, interface: str, range_name: str,
                     now: float) -> Series:
    """An interface's in (received) and out (sent) over the named range ending now, with its
    speed as reported in each bucket drawn as steps (both directions: a port's line rate)."""
    start, end, step = window(range_name, now)
    table = Interface5m if step == FIVE_MINUTES_S else Interface1h
    rows = session.execute(
        select(table.ts, table.in_bytes, table.out_bytes, table.covered_s, table.speed_bps)
        .where(table.device == device, table.interface == interface, table.ts >= start,
               table.ts < end).order_by(table.ts)).all()
    steps: list[Step] = []
    for ts, *_, speed in rows:
        if speed is not None and (not steps or steps[-1].down_bps != speed):
            steps.append(Step(ts, speed, speed))
    if steps:  # the first speed known holds from the range's start
        steps[0] = Step(start, steps[0].down_bps, steps[0].up_bps)
    return Series(start, end, step, _points((r[:4] for r in rows), start, end, step), steps)


def isp_link_series(session: Session, device: str, interface: str, committed_down_bps: int,
                    committed_up_bps: int, range_name: str, now: float) -> Series:
    """An ISP link's use, measured at its interface on our side (in: from the ISP, download),
    against the contract's committed capacity over the whole range."""
    series = interface_series(session, device, interface, range_name, now)
    return Series(series.start_ts, series.end_ts, series.step_s, series.points,
                  [Step(series.start_ts, committed_down_bps, committed_up_bps)])


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


# --------------------------------------------------------------------------- what a graph is of

Kind = Literal["site", "isp_link", "interface"]
Limit = Literal["allocation", "committed", "speed"]


@dataclass(frozen=True)
class Subject:
    """What a graph shows: a site, an ISP link (at its interface on our side) or an interface,
    in the zone of the site it is at; `limit` names what the step line is."""

    kind: Kind
    key: str
    label: str
    timezone: str
    limit: Limit
    site: str = ""
    device: str = ""
    interface: str = ""
    committed: Allocation | None = None


class UnknownSubject(LookupError):
    """No such site, ISP link, device or interface (the message names which)."""


def known_interfaces(session: Session, inventory: Inventory, device: str) -> list[str]:
    """The device's interfaces that have a graph: the inventory's link ends and every
    interface with stored rollups."""
    names = {end.interface for link in inventory.links for end in (link.a, link.b)
             if end.device == device and end.interface}
    for table in (Interface5m, Interface1h):
        names.update(session.scalars(select(table.interface).where(table.device == device)
                                     .distinct()))
    return sorted(names)


def subject(session: Session, inventory: Inventory, kind: Kind, key: str,
            interface: str = "") -> Subject:
    """Resolve a graph's subject: a site code, an ISP link's name, or a device and interface."""
    if kind == "site":
        site = inventory.sites.get(key)
        if site is None:
            raise UnknownSubject(f"unknown site {key!r}")
        return Subject("site", key, site.name, site.timezone, "allocation", site=key)
    if kind == "isp_link":
        link = next((x for x in inventory.links if x.medium == "isp" and x.label == key), None)
        end = None if link is None else next(
            (e for e in (link.a, link.b) if e.device in inventory.devices and e.interface), None)
        if link is None or end is None or end.device is None or end.interface is None:
            raise UnknownSubject(f"unknown ISP link {key!r}")
        contract = next((c for c in inventory.contracts.values() if c.link == key), None)
        site = inventory.sites[inventory.devices[end.device].site]
        label = f"{contract.provider}: {key}" if contract else key
        return Subject("isp_link", key, label, site.timezone, "committed", site=site.code,
                       device=end.device, interface=end.interface,
                       committed=contract.capacity if contract else link.capacity)
    device = inventory.devices.get(key)
    if device is None:
        raise UnknownSubject(f"unknown device {key!r}")
    if interface not in known_interfaces(session, inventory, key):
        raise UnknownSubject(f"device {key!r} has no interface {interface!r} with readings")
    site = inventory.sites[device.site]
    return Subject("interface", key, f"{key} {interface}", site.timezone, "speed",
                   site=site.code, device=key, interface=interface)


def subject_series(session: Session, inventory: Inventory, what: Subject, range_name: str,
                   now: float) -> Series:
    """The series of a resolved subject over the named range ending now."""
    if what.kind == "site":
        history = load_histories(session, inventory, [what.site])[what.site]
        return site_series(session, history, range_name, now, holiday_dates(inventory))
    if what.kind == "isp_link":
        assert what.committed is not None
        return isp_link_series(session, what.device, what.interface, what.committed.down_bps,
                               what.committed.up_bps, range_name, now)
    return interface_series(session, what.device, what.interface, range_name, now)
