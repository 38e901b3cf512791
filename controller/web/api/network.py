"""Sites, devices, links and hotspots from the inventory, with live status."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from controller.overview import device_status, latest_use, site_history
from controller.web.api.types import AUTH_ERRORS, Responses
from controller.web.deps import KnownDevice, KnownSite, Viewer, get_ctx

router = APIRouter(tags=["network"])
ERRORS: Responses = AUTH_ERRORS
NOT_FOUND: Responses = {**ERRORS, 404: {"description": "Not found"}}


class SiteOut(BaseModel):
    code: str
    name: str
    kind: str
    address: str
    lat: float
    lon: float
    timezone: str
    allocation_down_bps: int
    allocation_up_bps: int
    use_in_bps: float | None
    use_out_bps: float | None


class DeviceOut(BaseModel):
    name: str
    site: str
    platform: str
    role: str
    mgmt_address: str
    status: str


class LinkOut(BaseModel):
    name: str
    a: str
    b: str
    medium: str
    capacity_down_bps: int
    capacity_up_bps: int


class HotspotOut(BaseModel):
    name: str
    site: str
    gateway: str
    adapter: str
    ssid: str
    login_modes: list[str]
    session_timeout_s: int
    idle_timeout_s: int


class UsePointOut(BaseModel):
    ts: int
    in_bps: float
    out_bps: float


class SiteDetailOut(SiteOut):
    devices: list[DeviceOut]
    history: list[UsePointOut]


class StatusOut(BaseModel):
    up: int
    down: int
    unknown: int


def _site_out(request: Request, code: str, uses: dict) -> SiteOut:  # type: ignore[type-arg]
    site = get_ctx(request).inventory.sites[code]
    use = uses.get(code)
    known = use is not None and use.at is not None
    return SiteOut(code=site.code, name=site.name, kind=site.kind, address=site.address,
                   lat=site.lat, lon=site.lon, timezone=site.timezone,
                   allocation_down_bps=site.allocation.down_bps,
                   allocation_up_bps=site.allocation.up_bps,
                   use_in_bps=use.in_bps if known and use else None,
                   use_out_bps=use.out_bps if known and use else None)


def _uses(request: Request) -> dict:  # type: ignore[type-arg]
    ctx = get_ctx(request)
    kinds = tuple({s.kind for s in ctx.inventory.sites.values()})
    return {u.site.code: u for u in latest_use(ctx, kinds=kinds)}


@router.get("/sites", response_model=list[SiteOut], responses=ERRORS)
def list_sites(request: Request, _who: Viewer, kind: str | None = None) -> list[SiteOut]:
    uses = _uses(request)
    return [_site_out(request, code, uses) for code, site in
            get_ctx(request).inventory.sites.items() if kind in (None, site.kind)]


@router.get("/sites/{code}", response_model=SiteDetailOut, responses=NOT_FOUND)
def get_site(request: Request, code: str, _site: KnownSite, _who: Viewer) -> SiteDetailOut:
    ctx = get_ctx(request)
    statuses = device_status(ctx)
    devices = [_device_out(d, statuses) for d in ctx.inventory.devices_at(code)]
    history = [UsePointOut(ts=p.ts, in_bps=p.in_bps, out_bps=p.out_bps)
               for p in site_history(ctx, code)]
    base = _site_out(request, code, _uses(request))
    return SiteDetailOut(**base.model_dump(), devices=devices, history=history)


def _device_out(device, statuses) -> DeviceOut:  # type: ignore[no-untyped-def]
    return DeviceOut(name=device.name, site=device.site, platform=device.platform,
                     role=device.role, mgmt_address=str(device.mgmt_address),
                     status=statuses[device.name])


@router.get("/devices", response_model=list[DeviceOut], responses=ERRORS)
def list_devices(request: Request, _who: Viewer, site: str | None = None) -> list[DeviceOut]:
    ctx = get_ctx(request)
    statuses = device_status(ctx)
    return [_device_out(d, statuses) for d in ctx.inventory.devices.values()
            if site in (None, d.site)]


@router.get("/devices/{name}", response_model=DeviceOut, responses=NOT_FOUND)
def get_device(request: Request, device: KnownDevice, _who: Viewer) -> DeviceOut:
    return _device_out(device, device_status(get_ctx(request)))


@router.get("/links", response_model=list[LinkOut], responses=ERRORS)
def list_links(request: Request, _who: Viewer) -> list[LinkOut]:
    return [LinkOut(name=link.label, a=link.a.label(), b=link.b.label(), medium=link.medium,
                    capacity_down_bps=link.capacity.down_bps,
                    capacity_up_bps=link.capacity.up_bps)
            for link in get_ctx(request).inventory.links]


@router.get("/hotspots", response_model=list[HotspotOut], responses=ERRORS)
def list_hotspots(request: Request,
                  _who: Viewer) -> list[HotspotOut]:
    return [HotspotOut(name=h.name, site=h.site, gateway=h.gateway, adapter=h.adapter,
                       ssid=h.ssid, login_modes=list(h.login_modes),
                       session_timeout_s=h.session_timeout, idle_timeout_s=h.idle_timeout)
            for h in get_ctx(request).inventory.hotspots.values()]


@router.get("/status", response_model=StatusOut, responses=ERRORS)
def status(request: Request, _who: Viewer) -> StatusOut:
    counts = {"up": 0, "down": 0, "unknown": 0}
    for value in device_status(get_ctx(request)).values():
        counts[value] += 1
    return StatusOut(**counts)
