"""The graph block (templates/_graph.html) of the site page and of the ISP-link and interface
graph page (`GET /graph`): what charts.js fetches, and the same numbers as a server-rendered
table for a browser without JavaScript."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from controller.bandwidth.series import (
    RANGES,
    Kind,
    Point,
    Series,
    Step,
    Subject,
    UnknownSubject,
    subject,
    subject_series,
)
from controller.context import Context
from controller.inventory import TZ_ABBREV, Site
from controller.units import format_bps
from controller.web.deps import Viewer, get_ctx, language, render
from controller.web.i18n import translate

router = APIRouter(include_in_schema=False)

# Rows of the table per range: buckets are averaged into rows of this many seconds.
TABLE_ROW_S = {"1h": 300, "24h": 3600, "7d": 86400, "30d": 86400}
RANGE_LABELS = {"1h": "1 hour", "24h": "24 hours", "7d": "7 days", "30d": "30 days"}
# What the lines are called, per kind (English keys of controller/web/i18n.py): in, out, limit.
LINE_LABELS: dict[str, tuple[str, str, str]] = {
    "site": ("Download", "Upload", "Allocation"),
    "isp_link": ("Download", "Upload", "Committed (contract)"),
    "interface": ("In", "Out", "Speed"),
}


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
    hrefs: dict[str, str]  # range -> this page with that range
    lines: tuple[str, str, str] = LINE_LABELS["site"]
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


def graph(ctx: Context, what: Subject, range_name: str, title: str,
          query: dict[str, str]) -> Graph:
    """A subject's in/out against its limit over `range_name` (24h when unknown); `query` is
    what the API and this page's range links need besides the range."""
    if range_name not in RANGES:
        range_name = "24h"
    with ctx.store.session() as session:
        series = subject_series(session, ctx.inventory, what, range_name, time.time())
    page = {k: v for k, v in query.items() if k != "site"}
    return Graph(id=f"{what.kind}-{what.key}-{what.interface}".rstrip("-"), title=title,
                 range=range_name, src="/api/v1/series?" + urlencode(query),
                 zone=TZ_ABBREV.get(what.timezone, what.timezone),
                 rows=table_rows(series, TABLE_ROW_S[range_name], what.timezone),
                 hrefs={r: "?" + urlencode({**page, "range": r}) for r in RANGES},
                 lines=LINE_LABELS[what.kind])


def site_graph(ctx: Context, site: Site, range_name: str, title: str) -> Graph:
    """A site's in/out against its allocation over `range_name` (24h when unknown)."""
    with ctx.store.session() as session:
        what = subject(session, ctx.inventory, "site", site.code)
    return graph(ctx, what, range_name, title, {"site": site.code})


@router.get("/graph")
def graph_page(request: Request, _who: Viewer, kind: Kind = "interface", link: str = "",
               device: str = "", interface: str = "", range: str = "24h") -> Response:
    """An ISP link's graph (kind=isp_link&link=...) or a device interface's (kind=interface&
    device=...&interface=...)."""
    ctx = get_ctx(request)
    key = link if kind == "isp_link" else device
    if kind == "site" or not key:
        raise HTTPException(404, "a graph needs kind=isp_link&link=... or "
                                 "kind=interface&device=...&interface=...")
    with ctx.store.session() as session:
        try:
            what = subject(session, ctx.inventory, kind, key, interface)
        except UnknownSubject as exc:
            raise HTTPException(404, str(exc)) from None
    query = {"kind": kind, "link": link} if kind == "isp_link" else {
        "kind": kind, "device": device, "interface": interface}
    lang = language(request)
    title = translate("ISP link use against the committed capacity" if kind == "isp_link"
                      else "Interface use against its speed", lang)
    committed = "" if what.committed is None else (
        f"{format_bps(what.committed.down_bps)} / {format_bps(what.committed.up_bps)}")
    return render(request, "graph.html", what=what, committed=committed,
                  graph=graph(ctx, what, range, title, query))
