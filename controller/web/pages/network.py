"""Dashboard, sites and devices."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy import select

from controller.accountability.costs import MonthTotals, month_totals
from controller.accountability.sla import SlaReport, month_so_far
from controller.backups import BackupError, Version
from controller.bandwidth.series import known_interfaces
from controller.context import Context
from controller.device_health import badges, health_view
from controller.overview import device_status, latest_use, status_counts
from controller.pushes import config_jobs
from controller.store.models import ConfigDrift
from controller.units import format_idr as idr
from controller.web.deps import (
    KnownDevice,
    KnownSite,
    Viewer,
    get_ctx,
    language,
    local_time,
    render,
)
from controller.web.i18n import translate
from controller.web.pages.bandwidth import _number, last_full_month
from controller.web.pages.graphs import site_graph
from controller.web.pages.netmap import map_data

router = APIRouter(include_in_schema=False)


def _hotspot_sessions_now(request: Request) -> dict[str, int]:
    from captive_portal.service import portal_for

    return portal_for(get_ctx(request)).stats.session_counts()


_MONEY_CACHE: dict[tuple[int, str], tuple[float, MonthTotals]] = {}
MONEY_CACHE_S = 300.0


def _last_month_money(ctx: Context) -> MonthTotals | None:
    """Last month's rupiah (a closed month: cached a few minutes per inventory)."""
    if not ctx.inventory.contracts:
        return None
    month = f"{last_full_month(ctx.inventory):%Y-%m}"
    key = (id(ctx.inventory), month)
    cached = _MONEY_CACHE.get(key)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    totals = month_totals(ctx, ctx.store, month)
    _MONEY_CACHE.clear()
    _MONEY_CACHE[key] = (time.monotonic() + MONEY_CACHE_S, totals)
    return totals


def _availability_so_far(ctx: Context) -> SlaReport:
    """This month's availability so far, per ISP link and site (beside last month's rupiah)."""
    with ctx.store.session() as session:
        return month_so_far(session, ctx.inventory, ctx.settings.down_after_samples,
                            int(time.time()))


@router.get("/")
def dashboard(request: Request, _who: Viewer) -> Response:
    ctx = get_ctx(request)
    statuses = device_status(ctx)
    net = map_data(ctx, language(request))
    markers = net["markers"]
    uses = [u for u in latest_use(ctx, kinds=("sopd",)) if u.at is not None][:10]
    sessions = _hotspot_sessions_now(request)
    return render(request, "dashboard.html", counts=status_counts(statuses),
                  map_json=json.dumps(net), markers=markers, top=uses,
                  map_refresh_s=ctx.settings.map_refresh_s,
                  sessions=sessions, hotspots=ctx.inventory.hotspots,
                  summary=ctx.inventory.summary(), money=_last_month_money(ctx), idr=idr,
                  availability=_availability_so_far(ctx), num=_number(language(request)))


@router.get("/sites")
def sites(request: Request, _who: Viewer,
          kind: str | None = None) -> Response:
    ctx = get_ctx(request)
    uses = {u.site.code: u for u in latest_use(ctx, kinds=tuple({s.kind for s in
                                                              ctx.inventory.sites.values()}))}
    rows = [s for s in ctx.inventory.sites.values() if kind in (None, "", s.kind)]
    return render(request, "sites.html", sites=rows, uses=uses, kind=kind or "",
                  kinds=sorted({s.kind for s in ctx.inventory.sites.values()}))


@router.get("/sites/{code}")
def site_detail(request: Request, code: str, site: KnownSite, _who: Viewer,
                range: str = "24h") -> Response:
    ctx = get_ctx(request)
    devices = ctx.inventory.devices_at(code)
    names = {d.name for d in devices}
    links = [link for link in ctx.inventory.links if {link.a.device, link.b.device} & names]
    return render(request, "site.html", site=site, devices=devices, links=links,
                  statuses=device_status(ctx), device_names=names,
                  graph=site_graph(ctx, site, range, translate("Bandwidth against allocation",
                                                               language(request))))


@router.get("/devices")
def devices(request: Request, _who: Viewer) -> Response:
    ctx = get_ctx(request)
    return render(request, "devices.html", devices=list(ctx.inventory.devices.values()),
                  statuses=device_status(ctx), drift=_drift(request), health=badges(ctx))


def _drift(request: Request) -> dict[str, str]:
    """Device -> in_sync | drifted | error, from the last drift check."""
    with get_ctx(request).store.session() as session:
        return dict(session.execute(select(ConfigDrift.device, ConfigDrift.status)).all())


@router.get("/devices/{name}")
def device_detail(request: Request, name: str, device: KnownDevice, who: Viewer, a: str = "",
                  b: str = "") -> Response:
    ctx = get_ctx(request)
    jobs = config_jobs(ctx, who.username)
    history = jobs.backups.history(name)
    backup_diff = None
    if a and b:
        try:
            backup_diff = jobs.backup_diff(device, a, b, who.role)
        except BackupError as exc:
            raise HTTPException(404, str(exc)) from None
    with ctx.store.session() as session:
        drift = session.get(ConfigDrift, name)
        graphed = known_interfaces(session, ctx.inventory, name)
    return render(request, "device.html", device=device, status=device_status(ctx)[name],
                  drift=drift, backups=history, backup_diff=backup_diff, graphed=graphed,
                  **_health_context(ctx, device.name, device.site, history))


def _health_context(ctx: Context, name: str, site: str,
                    history: list[Version]) -> dict[str, Any]:
    """What device_health.html needs: the health view, the last backup and formatters (times in
    the device's site zone, named)."""
    zone = ZoneInfo(ctx.inventory.sites[site].timezone if site in ctx.inventory.sites
                    else ctx.inventory.home_zone())

    def site_time(value: str | float, fmt: str = "%Y-%m-%d %H:%M") -> str:
        when = (datetime.fromisoformat(value) if isinstance(value, str)
                else datetime.fromtimestamp(value, UTC))
        return local_time(when, zone, fmt)

    return {"hv": health_view(ctx, name), "last_backup": history[0] if history else None,
            "previous_backup": history[1] if len(history) > 1 else None,
            "site_time": site_time, "duration": format_uptime, "mib": _mib, "mbps": _mbps}


def format_uptime(seconds: float) -> str:
    """3 d 04:05 (days, hours:minutes)."""
    minutes = int(seconds // 60)
    days, minutes = divmod(minutes, 24 * 60)
    return f"{days} d {minutes // 60:02d}:{minutes % 60:02d}"


def _mib(value: int | None) -> str:
    return "—" if value is None else f"{value / 2**20:,.0f}"


def _mbps(bps: float | None) -> str:
    return "—" if bps is None else f"{bps / 1e6:,.1f} Mbit/s"
