"""Which interfaces measure a site's traffic: what enters at its uplink, less what it passes
on to its child sites (a kecamatan router also carries its desa).

An interface's role comes from the inventory's links, never from its ifAlias: `uplink` toward
the site's parent (or the NOC, for a site without one; an ISP link at its device's end),
`downlink` toward a child site, '' inside a site or between sites of neither kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from controller.inventory import Inventory, Link, Site

LinkRole = Literal["uplink", "downlink", ""]
UPLINK: Final = "uplink"
DOWNLINK: Final = "downlink"


@dataclass(frozen=True)
class Tap:
    """One interface's contribution to a site: +1 uplink, -1 downlink to a child site."""

    site: str
    sign: int


def _upstream(site: Site, other: Site) -> bool:
    return other.code == site.parent or (site.parent is None and other.kind == "noc")


def end_roles(inventory: Inventory, link: Link) -> tuple[LinkRole, LinkRole]:
    """The role of the link's a and b ends, each for the device at that end."""
    devices = [inventory.devices.get(end.device or "") for end in (link.a, link.b)]
    if link.medium == "isp":
        a, b = devices
        return UPLINK if a is not None else "", UPLINK if b is not None else ""
    sites = [inventory.sites.get(d.site) if d is not None else None for d in devices]
    here, there = sites
    if here is None or there is None or here.code == there.code:
        return "", ""

    def role(site: Site, other: Site) -> LinkRole:
        if _upstream(site, other):
            return UPLINK
        return DOWNLINK if _upstream(other, site) else ""

    return role(here, there), role(there, here)


def link_roles(inventory: Inventory) -> dict[tuple[str, str], LinkRole]:
    """(device, interface) -> `uplink` or `downlink`, for every link end that has one."""
    roles: dict[tuple[str, str], LinkRole] = {}
    for link in inventory.links:
        for end, role in zip((link.a, link.b), end_roles(inventory, link), strict=True):
            if role and end.device and end.interface:
                roles[(end.device, end.interface)] = role
    return roles


def site_taps(inventory: Inventory) -> dict[tuple[str, str], list[Tap]]:
    """(device, interface) -> the sites whose traffic that interface's counters count."""
    taps: dict[tuple[str, str], list[Tap]] = {}

    def add(device: str, interface: str, tap: Tap) -> None:
        taps.setdefault((device, interface), []).append(tap)

    for link in inventory.links:
        for end, role in zip((link.a, link.b), end_roles(inventory, link), strict=True):
            device = inventory.devices.get(end.device or "")
            if device is None or not role:
                continue
            if link.medium == "isp":  # the NOC's (or an office's own) internet line
                if end.interface:
                    add(device.name, end.interface, Tap(device.site, +1))
                continue
            if inventory.sites[device.site].kind == "noc":
                continue
            add(device.name, end.interface or "", Tap(device.site, +1 if role == UPLINK else -1))
    return taps


def measured_sites(inventory: Inventory) -> set[str]:
    return {t.site for taps in site_taps(inventory).values() for t in taps if t.sign > 0}
