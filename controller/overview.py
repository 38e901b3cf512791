"""What the command centre shows: device status, site use against allocation, recent history.

Shared by the web pages and the REST API; reads the poller's latest readings and the
bandwidth rollups in the store, never polls.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from controller.context import Context
from controller.inventory import Site

Status = Literal["up", "down", "unknown"]


def device_status(ctx: Context) -> dict[str, Status]:
    """Per device: up/down from the last poll cycle, unknown before the first one."""
    cycle = ctx.latest.cycle if ctx.latest is not None else None
    result: dict[str, Status] = {}
    for name in ctx.inventory.devices:
        reading = cycle.devices.get(name) if cycle else None
        result[name] = "unknown" if reading is None else ("up" if reading.up else "down")
    return result


def site_statuses(ctx: Context) -> dict[str, Status]:
    """Per site: down if any of its devices is down, else up if one is up, else unknown."""
    found: dict[str, Status] = {code: "unknown" for code in ctx.inventory.sites}
    for device, status in device_status(ctx).items():
        site = ctx.inventory.devices[device].site
        if found.get(site) != "down" and status != "unknown":
            found[site] = status
    return found


def status_counts(statuses: dict[str, Status]) -> dict[str, int]:
    counts = {"up": 0, "down": 0, "unknown": 0}
    for status in statuses.values():
        counts[status] += 1
    return counts


@dataclass(frozen=True)
class SiteUse:
    site: Site
    in_bps: float
    out_bps: float
    at: int | None  # bucket start of the latest sample (epoch seconds), None if none

    @property
    def ratio(self) -> float:
        """Download use as a fraction of the download allocation."""
        return self.in_bps / self.site.allocation.down_bps if self.site.allocation.down_bps else 0


@dataclass(frozen=True)
class UsePoint:
    ts: int
    in_bps: float
    out_bps: float


def site_history(ctx: Context, code: str, hours: float = 24) -> list[UsePoint]:
    """The site's 5-minute use samples over the last `hours`, oldest first."""
    from controller.bandwidth.stats import load_samples

    end = int(time.time())
    with ctx.store.session() as session:
        samples = load_samples(session, code, end - int(hours * 3600), end)
    return [UsePoint(s.ts, s.in_bps, s.out_bps) for s in samples]


def latest_use(ctx: Context, kinds: tuple[str, ...] = ("sopd", "kecamatan", "desa", "hotspot"),
               within_s: int = 1800) -> list[SiteUse]:
    """Each site's most recent 5-minute use (within `within_s`), highest ratio first."""
    from sqlalchemy import func, select

    from controller.store.bandwidth import Bandwidth5m

    since = int(time.time()) - within_s
    with ctx.store.session() as session:
        newest = (select(Bandwidth5m.site, func.max(Bandwidth5m.ts).label("ts"))
                  .where(Bandwidth5m.ts >= since).group_by(Bandwidth5m.site).subquery())
        rows = session.execute(
            select(Bandwidth5m).join(newest, (Bandwidth5m.site == newest.c.site)
                                     & (Bandwidth5m.ts == newest.c.ts))).scalars().all()
        by_site = {row.site: row for row in rows}
    result = []
    for site in ctx.inventory.sites.values():
        if site.kind not in kinds:
            continue
        row = by_site.get(site.code)
        if row is None or not row.covered_s:
            result.append(SiteUse(site, 0.0, 0.0, None))
        else:
            result.append(SiteUse(site, row.in_bps, row.out_bps, row.ts))
    return sorted(result, key=lambda use: (use.at is not None, use.ratio), reverse=True)
