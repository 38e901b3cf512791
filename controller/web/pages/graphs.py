"""The graph block of the site page (templates/_graph.html): what charts.js fetches, and the
same numbers as a server-rendered table for a browser without JavaScript."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from controller.allocation_history import load_histories
from controller.bandwidth.series import RANGES, Point, Series, Step, site_series
from controller.context import Context
from controller.inventory import TZ_ABBREV, Site
from controller.schedules import holiday_dates
from controller.units import format_bps

# Rows of the table per range: buckets are averaged into rows of this many seconds.
TABLE_ROW_S = {"1h": 300, "24h": 3600, "7d": 86400, "30d": 86400}
RANGE_LABELS = {"1h": "1 hour", "24h": "24 hours", "7d": "7 days", "30d": "30 days"}


@dataclass(frozen=True)
class Row:
    label: str
    down: str
    up: str
    allocation: str


@dataclass(frozen=True)
class Graph:
    id: str
    title: str
    src: str          # the JSON API URL without the range
    range: str
    zone: str
    rows: list[Row]
    ranges: tuple[str, ...] = tuple(RANGES)
    labels: dict[str, str] = field(default_factory=lambda: dict(RANGE_LABELS))


def _mean(values: list[float | None]) -> str:
    measured = [v for v in values if v is not None]
    return format_bps(sum(measured) / len(measured)) if measured else "–"


def _in_force(steps: list[Step], ts: int) -> Step | None:
    current = None
    for step in steps:
        if step.ts > ts:
            break
        current = step
    return current


def table_rows(series: Series, row_s: int, timezone: str) -> list[Row]:
    """Average the buckets into rows (newest first), each with the allocation at its start."""
    zone = ZoneInfo(timezone)
    groups: dict[int, list[Point]] = {}
    for point in series.points:
        groups.setdefault(point.ts - (point.ts - series.start_ts) % row_s, []).append(point)
    rows = []
    fmt = "%d %b %H:%M" if row_s < 86400 else "%d %b %Y"
    for start, points in sorted(groups.items(), reverse=True):
        step = _in_force(series.allocation, start)
        rows.append(Row(
            label=datetime.fromtimestamp(start, UTC).astimezone(zone).strftime(fmt),
            down=_mean([p.in_bps for p in points]), up=_mean([p.out_bps for p in points]),
            allocation="" if step is None else
            f"{format_bps(step.down_bps)} / {format_bps(step.up_bps)}"))
    return rows


def site_graph(ctx: Context, site: Site, range_name: str, title: str) -> Graph:
    """A site's in/out against its allocation over `range_name` (24h when unknown)."""
    if range_name not in RANGES:
        range_name = "24h"
    with ctx.store.session() as session:
        history = load_histories(session, ctx.inventory, [site.code])[site.code]
        series = site_series(session, history, range_name, time.time(),
                             holiday_dates(ctx.inventory))
    return Graph(id=f"site-{site.code}", title=title, range=range_name,
                 src="/api/v1/series?" + urlencode({"site": site.code}),
                 zone=TZ_ABBREV.get(site.timezone, site.timezone),
                 rows=table_rows(series, TABLE_ROW_S[range_name], site.timezone))
