"""Per-interface 5-minute and hourly rollups: what each polled interface (device, ifName)
received and sent, for the interface and ISP-link graphs. Fed by the same counter deltas as
the site rollups (rollups.RollupConsumer); one bulk upsert per poll cycle adds each cycle's
bytes to the rows, so a restart needs no in-memory buckets."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from controller.bandwidth.counters import Delta
from controller.store.bandwidth import (
    FIVE_MINUTES_S,
    HOUR_S,
    Interface1h,
    Interface5m,
    upsert,
)


def spread(delta: Delta) -> Iterator[tuple[int, float, float]]:
    """(bucket start, share of the delta's bytes, seconds covered) of each 5-minute bucket the
    delta spans: bytes are shared out by time."""
    span = delta.end - delta.start
    ts = int(delta.start // FIVE_MINUTES_S) * FIVE_MINUTES_S
    while ts < delta.end:
        overlap = min(delta.end, ts + FIVE_MINUTES_S) - max(delta.start, ts)
        if overlap > 0:
            yield ts, overlap / span, overlap
        ts += FIVE_MINUTES_S


class InterfaceRollups:
    """One cycle's per-interface buckets, pending until `write` adds them to the store."""

    def __init__(self) -> None:
        self.pending: dict[tuple[str, str, int], list[Any]] = {}

    def add(self, delta: Delta, speed_bps: int | None = None) -> None:
        for ts, share, overlap in spread(delta):
            row = self.pending.setdefault((delta.device, delta.interface, ts),
                                          [0.0, 0.0, 0.0, None])
            row[0] += delta.in_bytes * share
            row[1] += delta.out_bytes * share
            row[2] += overlap
            if speed_bps is not None:
                row[3] = speed_bps

    def write(self, session: Session) -> int:
        """Add the pending buckets to interface_5m in one statement; return how many."""
        if not self.pending:
            return 0
        rows = [{"device": d, "interface": i, "ts": ts, "in_bytes": round(v[0]),
                 "out_bytes": round(v[1]), "covered_s": v[2], "speed_bps": v[3]}
                for (d, i, ts), v in sorted(self.pending.items())]
        statement = upsert(session, Interface5m)
        table = Interface5m.__table__.c
        session.execute(statement.on_conflict_do_update(
            index_elements=["device", "interface", "ts"],
            set_={"in_bytes": table.in_bytes + statement.excluded.in_bytes,
                  "out_bytes": table.out_bytes + statement.excluded.out_bytes,
                  "covered_s": table.covered_s + statement.excluded.covered_s,
                  "speed_bps": func.coalesce(statement.excluded.speed_bps,
                                             table.speed_bps)}), rows)
        self.pending.clear()
        return len(rows)


def rollup_interface_hours(session: Session, start_ts: int, end_ts: int,
                           devices: Collection[str] | None = None) -> int:
    """(Re)compute the hourly interface rows of [start_ts, end_ts) from the 5-minute rows (of
    `devices` only when given: a poller shard's own). An hour's speed is its last bucket's."""
    start_ts = start_ts // HOUR_S * HOUR_S
    end_ts = math.ceil(end_ts / HOUR_S) * HOUR_S
    query = select(Interface5m.device, Interface5m.interface, Interface5m.ts,
                   Interface5m.in_bytes, Interface5m.out_bytes, Interface5m.covered_s,
                   Interface5m.speed_bps).where(Interface5m.ts >= start_ts,
                                                Interface5m.ts < end_ts).order_by(Interface5m.ts)
    if devices is not None:
        query = query.where(Interface5m.device.in_(sorted(devices)))
    hours: dict[tuple[str, str, int], dict[str, Any]] = {}
    for device, interface, ts, in_bytes, out_bytes, covered, speed in session.execute(query):
        key = (device, interface, ts // HOUR_S * HOUR_S)
        h = hours.setdefault(key, {"device": device, "interface": interface, "ts": key[2],
                                   "in_bytes": 0, "out_bytes": 0, "covered_s": 0.0,
                                   "speed_bps": None})
        h["in_bytes"] += in_bytes
        h["out_bytes"] += out_bytes
        h["covered_s"] += covered
        if speed is not None:
            h["speed_bps"] = speed
    replace_hours(session, Interface1h, list(hours.values()), Interface1h.device, devices)
    return len(hours)


def replace_hours(session: Session, table: Any, hours: list[dict[str, Any]], owner: Any,
                  owners: Collection[str] | None) -> list[int]:
    """Replace the hourly rows of the hours given (of `owners` only, when given: a shard's
    sites or devices), return their sorted stamps. Only hours that still have 5-minute rows
    are recomputed: an hour whose 5-minute rows were pruned keeps its hourly row."""
    stamps = sorted({h["ts"] for h in hours})
    for i in range(0, len(stamps), 500):
        doomed = delete(table).where(table.ts.in_(stamps[i:i + 500]))
        if owners is not None:
            doomed = doomed.where(owner.in_(sorted(owners)))
        session.execute(doomed)
    if hours:
        session.execute(insert(table), hours)
    return stamps


def prune_interfaces(session: Session, now: float, keep_5m_s: int, keep_1h_s: int) -> None:
    """Delete interface rows past the site rollups' retention."""
    session.execute(delete(Interface5m).where(Interface5m.ts < now - keep_5m_s))
    session.execute(delete(Interface1h).where(Interface1h.ts < now - keep_1h_s))
