"""Availability of ISP links and sites: up/down runs kept as state changes (not samples), and
a month's availability from them. Definitions (README, SLA report): a subject is *down* once
its probes lose everything, or its uplink interface is down, for N consecutive samples (the
run starts at the first of them); time between runs has no data (Simpul was down) and counts
as unknown; unknown time and planned maintenance are left out of the SLA base."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.store.accountability import AvailabilityRun

MAX_GAP_S = 300   # samples further apart than this leave a gap of unknown time between them


@dataclass(frozen=True)
class Outage:
    start_ts: int
    end_ts: int

    @property
    def seconds(self) -> int:
        return self.end_ts - self.start_ts


@dataclass(frozen=True)
class Availability:
    """One subject over one period, in seconds; maintenance is taken out of up/down/unknown."""

    period_s: int
    up_s: int
    down_s: int
    unknown_s: int
    maintenance_s: int
    outages: list[Outage] = field(default_factory=list)

    @property
    def base_s(self) -> int:
        """The SLA base: the period less unknown time and maintenance."""
        return self.up_s + self.down_s

    @property
    def percent(self) -> float | None:
        return 100.0 * self.up_s / self.base_s if self.base_s else None


def _overlap(a0: int, a1: int, spans: Iterable[tuple[int, int]]) -> int:
    """Seconds of [a0, a1) inside the union of `spans`."""
    total, cursor = 0, a0
    for s0, s1 in sorted(spans):
        lo, hi = max(cursor, s0), min(a1, s1)
        if hi > lo:
            total += hi - lo
            cursor = hi
    return total


def compute_availability(runs: Iterable[tuple[str, int, int]], start_ts: int, end_ts: int,
                         maintenance: Iterable[tuple[float, float]] = ()) -> Availability:
    """From (state, start, end) runs: up, down and unknown seconds of [start_ts, end_ts),
    maintenance excluded, and the outages (down runs clipped to the period, maintenance
    not cut out of them: they are evidence as recorded)."""
    spans = [(max(start_ts, int(a)), min(end_ts, int(b))) for a, b in maintenance]
    spans = [(a, b) for a, b in spans if b > a]
    up = down = 0
    outages: list[Outage] = []
    for state, a, b in sorted(runs, key=lambda r: r[1]):
        lo, hi = max(start_ts, a), min(end_ts, b)
        if hi <= lo:
            continue
        seconds = hi - lo - _overlap(lo, hi, spans)
        if state == "down":
            down += seconds
            outages.append(Outage(lo, hi))
        else:
            up += seconds
    period = end_ts - start_ts
    held = _overlap(start_ts, end_ts, spans)
    return Availability(period, up, down, period - held - up - down, held, outages)


def load_runs(session: Session, kind: str, subject: str, start_ts: int, end_ts: int
              ) -> list[tuple[str, int, int]]:
    rows = session.execute(select(AvailabilityRun.state, AvailabilityRun.start_ts,
                                  AvailabilityRun.end_ts)
                           .where(AvailabilityRun.kind == kind,
                                  AvailabilityRun.subject == subject,
                                  AvailabilityRun.end_ts > start_ts,
                                  AvailabilityRun.start_ts < end_ts))
    return [(state, int(a), int(b)) for state, a, b in rows]


class StateRecorder:
    """Turns samples (good or bad, per subject) into runs in the store: a run is extended
    while the state holds, and a subject turns down only after `down_after` bad samples in a
    row (the down run then starts at the first of them)."""

    def __init__(self, down_after: int, max_gap_s: int = MAX_GAP_S):
        self.down_after = down_after
        self.max_gap_s = max_gap_s
        self.bad_since: dict[tuple[str, str], tuple[int, int]] = {}  # first bad ts, count

    def sample(self, session: Session, kind: str, subject: str, ts: int, bad: bool) -> None:
        key = (kind, subject)
        last = session.scalars(select(AvailabilityRun).where(
            AvailabilityRun.kind == kind, AvailabilityRun.subject == subject)
            .order_by(AvailabilityRun.start_ts.desc(), AvailabilityRun.id.desc())
            .limit(1)).first()
        state = "up"
        if bad:
            first, count = self.bad_since.get(key, (ts, 0))
            self.bad_since[key] = (first, count + 1)
            if count + 1 >= self.down_after or (last is not None and last.state == "down"):
                state = "down"
        else:
            self.bad_since.pop(key, None)
        contiguous = last is not None and ts - last.end_ts <= self.max_gap_s
        if last is not None and contiguous and last.state == state:
            last.end_ts = ts
            return
        start = ts
        if state == "down" and key in self.bad_since and contiguous and last is not None:
            start = max(self.bad_since[key][0], last.start_ts)   # the outage began there
            last.end_ts = start
        elif contiguous and last is not None:   # back up at the first good sample
            last.end_ts = ts
        session.add(AvailabilityRun(kind=kind, subject=subject, state=state,
                                    start_ts=start, end_ts=ts))
