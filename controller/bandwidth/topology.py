"""Which interfaces measure a site's traffic: what enters at its uplink, less what it passes
on to its child sites (a kecamatan router also carries its desa)."""

from __future__ import annotations

from dataclasses import dataclass

from controller.inventory import Inventory, Site


@dataclass(frozen=True)
class Tap:
    """One interface's contribution to a site: +1 uplink, -1 downlink to a child site."""

    site: str
    sign: int


def _upstream(site: Site, other: Site) -> bool:
    return other.code == site.parent or (site.parent is None and other.kind == "noc")


def site_taps(inventory: Inventory) -> dict[tuple[str, str], list[Tap]]:
    """(device, interface) -> the sites whose traffic that interface's counters count."""
    taps: dict[tuple[str, str], list[Tap]] = {}

    def add(device: str, interface: str, tap: Tap) -> None:
        taps.setdefault((device, interface), []).append(tap)

    for link in inventory.links:
        ends = [link.a, link.b]
        devices = [inventory.devices.get(e.device or "") for e in ends]
        if link.medium == "isp":
            for end, dev in zip(ends, devices, strict=True):
                if dev is not None and end.interface:
                    add(dev.name, end.interface, Tap(dev.site, +1))
            continue
        if None in devices:
            continue
        for i in (0, 1):
            here, there = devices[i], devices[1 - i]
            assert here is not None and there is not None
            site, other = inventory.sites.get(here.site), inventory.sites.get(there.site)
            if site is None or other is None or site.code == other.code or site.kind == "noc":
                continue
            interface = ends[i].interface or ""
            if _upstream(site, other):
                add(here.name, interface, Tap(site.code, +1))
            elif other.parent == site.code:
                add(here.name, interface, Tap(site.code, -1))
    return taps


def measured_sites(inventory: Inventory) -> set[str]:
    return {t.site for taps in site_taps(inventory).values() for t in taps if t.sign > 0}
