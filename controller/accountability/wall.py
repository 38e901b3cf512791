"""The figures of the command-centre wall (/wall) and of the public page (/publik), computed
from the inventory, the poller's latest readings and the store; no page does arithmetic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from controller.accountability.alerts import AlertList, active_alerts
from controller.accountability.reach import Reach, local_label, reach, total
from controller.accountability.sla import build_sla_report
from controller.context import Context
from controller.inventory.models import TZ_ABBREV
from controller.overview import Status, site_statuses
from controller.store.portal import PortalSession

DEFAULT_ZONE = "Asia/Jakarta"  # WIB, when the inventory has no NOC
PUBLIC_MONTHS = 6  # months of reach on /publik, the current one included


def regency_zone(ctx: Context) -> str:
    """The zone the regency's day and month are counted in: its NOC's."""
    noc = next((s for s in ctx.inventory.sites.values() if s.kind == "noc"), None)
    return noc.timezone if noc is not None else DEFAULT_ZONE


def hotspot_zones(ctx: Context) -> dict[str, str]:
    """Each hotspot's zone: its site's, so its days and months are local."""
    found = {}
    for name, hotspot in ctx.inventory.hotspots.items():
        site = ctx.inventory.sites.get(hotspot.site)
        found[name] = site.timezone if site is not None else DEFAULT_ZONE
    return found


def local_time_text(moment: datetime, zone: str) -> str:
    """'27-11-2026 19:05 WIB': the zone always named."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%d-%m-%Y %H:%M} {TZ_ABBREV.get(zone, zone)}"


@dataclass(frozen=True)
class OfficeLoad:
    over: list[str]  # offices at or above 90% of their allocation (p95 today)
    under: list[str]  # offices below 30% of it (p95 today)
    measured: int  # offices with readings today


@dataclass(frozen=True)
class WallFigures:
    sites_total: int
    sites_up: int
    sites_down: int
    up_percent: float | None  # of the sites whose status is known
    offices: OfficeLoad
    online_now: int
    today: Reach  # sessions, devices (citizens) and bytes today, every hotspot together
    alerts: AlertList
    markers: list[dict[str, Any]]
    links: list[dict[str, Any]]
    updated: str


def map_layers(ctx: Context, statuses: dict[str, Status]) -> tuple[list[dict[str, Any]],
                                                                   list[dict[str, Any]]]:
    """Site markers with status, and backbone links between sites (both ends' coordinates)."""
    inv = ctx.inventory
    markers = [{"code": s.code, "name": s.name, "kind": s.kind, "lat": s.lat, "lon": s.lon,
                "status": statuses.get(s.code, "unknown")} for s in inv.sites.values()]
    links = []
    for link in inv.links:
        devices = [inv.devices.get(end.device or "") for end in (link.a, link.b)]
        if devices[0] is None or devices[1] is None or devices[0].site == devices[1].site:
            continue
        a, b = inv.sites[devices[0].site], inv.sites[devices[1].site]
        ends = {statuses.get(a.code, "unknown"), statuses.get(b.code, "unknown")}
        status = "down" if "down" in ends else "unknown" if "unknown" in ends else "up"
        links.append({"from": [a.lat, a.lon], "to": [b.lat, b.lon], "status": status,
                      "name": link.label})
    return markers, links


def office_load(ctx: Context, day: date) -> OfficeLoad:
    from controller.bandwidth.stats import UNDER_USED_RATIO, regency_stats

    with ctx.store.session() as session:
        stats = regency_stats(session, ctx.inventory, "day", day, kinds={"sopd"})
    measured = [s for s in stats if s.observed_s]
    under = [s.name for s in measured
             if max(s.down.p95_utilisation, s.up.p95_utilisation) < UNDER_USED_RATIO]
    return OfficeLoad(over=[s.name for s in measured if s.saturated], under=under,
                      measured=len(measured))


def wall_figures(ctx: Context, now: datetime | None = None) -> WallFigures:
    now = now or datetime.now(UTC)
    zone = regency_zone(ctx)
    statuses = site_statuses(ctx)
    known = [s for s in statuses.values() if s != "unknown"]
    up = sum(s == "up" for s in known)
    with ctx.store.session() as session:
        online = session.scalar(select(func.count(PortalSession.id))
                                .where(PortalSession.ended_at.is_(None))) or 0
    zones = hotspot_zones(ctx)
    today = [r for name, tz in zones.items()
             for r in reach(ctx.store, local_label(now, tz, 10), {name: tz}, now)]
    markers, links = map_layers(ctx, statuses)
    return WallFigures(
        sites_total=len(statuses), sites_up=up, sites_down=len(known) - up,
        up_percent=100.0 * up / len(known) if known else None,
        offices=office_load(ctx, date.fromisoformat(local_label(now, zone, 10))),
        online_now=int(online), today=total(today, 0, "today"),
        alerts=active_alerts(ctx), markers=markers, links=links,
        updated=local_time_text(now, zone))


@dataclass(frozen=True)
class PublicFigures:
    """Aggregates only: no address, MAC, phone, session id or small count."""

    hotspots: list[dict[str, Any]]  # title, lat, lon, status
    months: list[Reach]  # the regency's reach per month, newest first, suppressed
    offices_connected: int
    sites_by_kind: dict[str, int]
    threshold: int
    updated: str


def last_months(now: datetime, zone: str, count: int) -> list[str]:
    """The current month and the `count - 1` before it, newest first: ['2026-11', ...]."""
    year, month = (int(part) for part in local_label(now, zone, 7).split("-"))
    found = []
    for _ in range(count):
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return found


def public_figures(ctx: Context, now: datetime | None = None) -> PublicFigures:
    now = now or datetime.now(UTC)
    zone = regency_zone(ctx)
    statuses = site_statuses(ctx)
    zones = hotspot_zones(ctx)
    hotspots = []
    for hotspot in ctx.inventory.hotspots.values():
        site = ctx.inventory.sites.get(hotspot.site)
        if site is not None:
            hotspots.append({"title": hotspot.branding.title, "lat": site.lat, "lon": site.lon,
                             "status": statuses.get(site.code, "unknown")})
    threshold = ctx.settings.public_min_count
    months = [total(reach(ctx.store, month, zones, now), threshold, month)
              for month in last_months(now, zone, PUBLIC_MONTHS)]
    kinds = ctx.inventory.summary()["sites_by_kind"]
    return PublicFigures(
        hotspots=hotspots, months=months,
        offices_connected=sum(n for kind, n in kinds.items() if kind not in ("noc", "hotspot")),
        sites_by_kind=kinds, threshold=threshold, updated=local_time_text(now, zone))


def isp_availability_by_month(ctx: Context, now: datetime | None = None
                              ) -> list[tuple[str, float | None]]:
    """The regency's ISP links together (up over up and down, summed), per month for the
    public page, newest first (this month so far); None for a month without data."""
    now = now or datetime.now(UTC)
    found: list[tuple[str, float | None]] = []
    with ctx.store.session() as session:
        for month in last_months(now, regency_zone(ctx), PUBLIC_MONTHS):
            report = build_sla_report(session, ctx.inventory, month,
                                      ctx.settings.down_after_samples,
                                      until_ts=int(now.timestamp()), sites=False)
            found.append((month, report.links_percent))
    return found
