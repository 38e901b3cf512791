"""A month of synthetic availability runs for the demo: every ISP link and site up, a few
outages (one of them long enough to cost an SLA credit), one planned window's outage, and
forty minutes when Simpul itself was down (no data)."""

from __future__ import annotations

import random
from datetime import date

from sqlalchemy import delete, insert

from controller.bandwidth.stats import period_for
from controller.inventory import Inventory
from controller.store.accountability import AvailabilityRun
from controller.store.db import Store


def _runs(kind: str, subject: str, start: int, end: int,
          outages: list[tuple[int, int]]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    cursor = start
    for a, b in sorted(outages):
        rows.append({"kind": kind, "subject": subject, "state": "up", "start_ts": cursor,
                     "end_ts": a})
        rows.append({"kind": kind, "subject": subject, "state": "down", "start_ts": a,
                     "end_ts": b})
        cursor = b
    rows.append({"kind": kind, "subject": subject, "state": "up", "start_ts": cursor,
                 "end_ts": end})
    return [r for r in rows if int(r["end_ts"]) > int(r["start_ts"])]  # type: ignore[call-overload]


def synthesize_availability(store: Store, inventory: Inventory, month: date,
                            seed: int = 7) -> int:
    """Replace the month's runs (a day either side) with synthetic ones; returns the rows."""
    rng = random.Random(f"availability-{seed}-{month.isoformat()}")
    period = period_for("month", month, "Asia/Jakarta")
    start, end = period.start_ts - 86400, period.end_ts + 86400
    gap = (period.start_ts + 12 * 86400 + 2 * 3600, period.start_ts + 12 * 86400 + 2 * 3600 + 2400)
    rows: list[dict[str, object]] = []
    subjects = [("link", c.link) for c in sorted(inventory.contracts.values(),
                                                   key=lambda c: c.name)]
    subjects += [("site", code) for code, s in sorted(inventory.sites.items())
                 if s.kind != "noc"]
    for index, (kind, subject) in enumerate(subjects):
        outages: list[tuple[int, int]] = []
        if kind == "link" and index == 0:    # the main ISP: a fibre cut of 5 h 10 m
            cut = period.start_ts + 9 * 86400 + 3 * 3600
            outages.append((cut, cut + 5 * 3600 + 600))
        if kind == "link" or rng.random() < 0.25:
            for _ in range(rng.randint(1, 2)):
                at = period.start_ts + rng.randrange(0, period.seconds - 7200)
                outages.append((at, at + rng.randrange(600, 5400, 60)))
        outages = [o for o in outages if not (o[0] < gap[1] and gap[0] < o[1])]
        rows += [r for part in (_runs(kind, subject, start, gap[0], [
            o for o in outages if o[1] <= gap[0]]), _runs(kind, subject, gap[1], end, [
                o for o in outages if o[0] >= gap[1]])) for r in part]
    with store.session() as session:
        session.execute(delete(AvailabilityRun).where(AvailabilityRun.end_ts > start,
                                                      AvailabilityRun.start_ts < end))
        session.execute(insert(AvailabilityRun), rows)
    return len(rows)
