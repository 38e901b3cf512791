"""Checks that need the whole inventory: cross-references, uniqueness, addressing, secrets,
schedule windows and whether the allocations in force fit the uplinks at every moment."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from controller.inventory.loader import Loader
from controller.inventory.models import (
    ADAPTER_PLATFORM,
    DAYS,
    SINGULAR,
    TZ_ABBREV,
    TZ_OFFSET_MIN,
    Inventory,
    ScheduleWindow,
    Site,
    minute_label,
)
from controller.inventory.yaml_lines import InventoryError, Location, Problem, locate
from controller.secrets import SecretStore, env_var_for
from controller.units import Allocation


def _cross_check(inv: Inventory, loader: Loader) -> None:
    """Checks that need the whole inventory: references, uniqueness, addressing, secrets."""

    def report(section: str, key: str, message: str, field: tuple[Any, ...] = ()) -> None:
        """Report at the line of `field` within the item (or the item's own line)."""
        raw = loader.merged.get((section, key))
        where = locate(raw, field) if raw is not None else Location(str(loader.directory), 0)
        loader.problem(where, f"{SINGULAR[section]} {key!r}: {message}")

    names: dict[str, str] = {}
    for site in inv.sites.values():
        if site.name in names:
            report("sites", site.code, f"duplicate site name {site.name!r} "
                   f"(also site {names[site.name]!r})")
        names.setdefault(site.name, site.code)
        if site.parent is not None and site.parent not in inv.sites:
            report("sites", site.code, f"unknown parent site {site.parent!r}", ("parent",))

    addresses: dict[str, str] = {}
    for dev in inv.devices.values():
        if dev.site not in inv.sites:
            report("devices", dev.name, f"unknown site {dev.site!r}", ("site",))
        if dev.credentials not in inv.credential_profiles:
            report("devices", dev.name, f"unknown credential profile {dev.credentials!r}",
                   ("credentials",))
        if dev.snmp is not None and dev.snmp not in inv.snmp_profiles:
            report("devices", dev.name, f"unknown SNMP profile {dev.snmp!r}", ("snmp",))
        addr = str(dev.mgmt_address)
        if addr in addresses:
            report("devices", dev.name, f"duplicate management address {addr} "
                   f"(also device {addresses[addr]!r})", ("mgmt_address",))
        addresses.setdefault(addr, dev.name)

    ends: dict[tuple[str, str], str] = {}
    for link in inv.links:
        label = link.label
        providers = [e for e in (link.a, link.b) if e.provider]
        if link.medium == "isp" and len(providers) != 1:
            report("links", label, "an isp link needs exactly one end with a provider")
        if link.medium != "isp" and providers:
            report("links", label, f"only an isp link may have a provider end "
                   f"(medium is {link.medium})")
        for side, end in (("a", link.a), ("b", link.b)):
            if end.provider:
                continue
            if not end.device or not end.interface:
                report("links", label, "each end needs device and interface", (side,))
                continue
            if end.device not in inv.devices:
                report("links", label, f"unknown device {end.device!r}", (side, "device"))
            pair = (end.device, end.interface)
            if pair in ends:
                report("links", label, f"interface {end.device}:{end.interface} is already "
                       f"used by link {ends[pair]!r}", (side, "interface"))
            ends.setdefault(pair, label)

    subnets: list[tuple[str, Any]] = []
    for hs in inv.hotspots.values():
        if hs.site not in inv.sites:
            report("hotspots", hs.name, f"unknown site {hs.site!r}", ("site",))
        gateway = inv.devices.get(hs.gateway)
        if gateway is None:
            report("hotspots", hs.name, f"unknown gateway device {hs.gateway!r}", ("gateway",))
        else:
            wanted = ADAPTER_PLATFORM.get(hs.adapter, gateway.platform)
            if gateway.platform != wanted:
                report("hotspots", hs.name, f"adapter {hs.adapter} needs a {wanted} gateway, "
                       f"but {gateway.name!r} is {gateway.platform}", ("adapter",))
            if hs.adapter == "mikrotik" and hs.dns_name is None:
                report("hotspots", hs.name, "adapter mikrotik needs dns_name, the hotspot's "
                       "own DNS name (e.g. wifi-" + hs.name + ".example.go.id)", ("adapter",))
            if hs.adapter == "radius" and hs.radius is None:
                report("hotspots", hs.name, "adapter radius needs a radius block: secret (its "
                       "name in the secrets file) and server (FreeRADIUS's address)", ("adapter",))
            if hs.adapter == "radius" and gateway.platform == "mikrotik_routeros":
                _check_routeros_message_auth(hs.name, gateway.name, gateway.vars, report)
            if hs.radius is not None and hs.radius.nas == "chilli" \
                    and hs.radius.uam_secret is None:
                report("hotspots", hs.name, "radius.nas chilli needs uam_secret: the name of "
                       "Chilli's uamsecret (HS_UAMSECRET) in the secrets file", ("radius", "nas"))
            if hs.radius is not None and hs.radius.nas != "chilli" \
                    and hs.radius.uam_secret is not None:
                report("hotspots", hs.name, f"radius.uam_secret is only for nas chilli, not "
                       f"{hs.radius.nas}", ("radius", "uam_secret"))
            if hs.adapter != "radius" and hs.radius is not None:
                report("hotspots", hs.name, f"a radius block is only for adapter radius, not "
                       f"{hs.adapter}", ("radius",))
            if gateway.site != hs.site:
                report("hotspots", hs.name, f"gateway {gateway.name!r} is at site "
                       f"{gateway.site!r}, not {hs.site!r}")
        for other_name, other in subnets:
            if other.version == hs.client_subnet.version and other.overlaps(hs.client_subnet):
                report("hotspots", hs.name, f"client subnet {hs.client_subnet} overlaps "
                       f"hotspot {other_name!r} ({other})", ("client_subnet",))
        subnets.append((hs.name, hs.client_subnet))
        for dev in inv.devices.values():
            ip = dev.mgmt_address
            if ip.version == hs.client_subnet.version and ip in hs.client_subnet:
                report("devices", dev.name, f"management address {ip} is inside the client "
                       f"subnet {hs.client_subnet} of hotspot {hs.name!r}", ("mgmt_address",))

    _check_money(inv, report)

    for profile in inv.snmp_profiles.values():
        for message in profile.shape_problems():
            report("snmp_profiles", profile.name, message)

    if loader.secrets is not None:
        for hs in inv.hotspots.values():
            if hs.radius is not None and hs.radius.secret not in loader.secrets:
                report("hotspots", hs.name, f"secret {hs.radius.secret!r} is not set "
                       f"(set {env_var_for(hs.radius.secret)} or add it to the secrets "
                       "file)", ("radius", "secret"))
            uam_secret = hs.radius.uam_secret if hs.radius is not None else None
            if uam_secret is not None and uam_secret not in loader.secrets:
                report("hotspots", hs.name, f"secret {uam_secret!r} is not set (set "
                       f"{env_var_for(uam_secret)} or add it to the secrets file)",
                       ("radius", "uam_secret"))
            if hs.adapter == "mikrotik" and hs.gateway_login_secret not in loader.secrets:
                report("hotspots", hs.name, f"secret {hs.gateway_login_secret!r} is not set "
                       f"(set {env_var_for(hs.gateway_login_secret)} or add it to the secrets "
                       "file)", ("gateway_login_secret",))
        named: list[tuple[str, str]] = [
            *(("credential_profiles", name) for name in inv.credential_profiles),
            *(("snmp_profiles", name) for name in inv.snmp_profiles)]
        for section, name in named:
            raw: dict[str, Any] = loader.merged.get((section, name), {})
            for key, secret in raw.items():
                if key.endswith("_secret") and secret and secret not in loader.secrets:
                    report(section, name, f"secret {secret!r} is not set "
                           f"(set {env_var_for(secret)} or add it to the secrets file)",
                           (key,))


# RouterOS's /radius gained require-message-auth in 7.15 (ansible-collections/community.routeros
# CHANGELOG v3.3.0: "require-message-auth for the radius path which exists since RouterOS
# version 7.15", issue #338); MikroTik's manual ("RADIUS") gives yes-for-request-resp as its
# default. An older router cannot be made to sign its Access-Requests, and FreeRADIUS with
# require_message_authenticator = yes (deploy/freeradius, BlastRADIUS) drops them unanswered.
ROUTEROS_MESSAGE_AUTH = (7, 15)


def _check_routeros_message_auth(hotspot: str, device: str, variables: dict[str, Any],
                                 report: Any) -> None:
    """adapter radius on a MikroTik whose recorded RouterOS (vars.routeros_version) is older
    than 7.15: every login would be dropped by FreeRADIUS. No version recorded: no check."""
    text = variables.get("routeros_version")
    if text is None:
        return
    match = re.match(r"^(\d+)\.(\d+)", str(text).strip())
    if match is None:
        report("devices", device, f"vars.routeros_version {text!r} is not a RouterOS version "
               "(like 7.15.3)", ("vars", "routeros_version"))
        return
    if (int(match[1]), int(match[2])) < ROUTEROS_MESSAGE_AUTH:
        report("hotspots", hotspot, f"adapter radius needs RouterOS 7.15 or later on "
               f"{device!r} (vars.routeros_version is {text}): older RouterOS cannot send "
               "Message-Authenticator, and FreeRADIUS (require_message_authenticator = yes, "
               "BlastRADIUS) drops its Access-Requests; upgrade it or use adapter mikrotik",
               ("adapter",))


def _check_money(inv: Inventory, report: Any) -> None:
    """Contracts feed an isp link (one contract each) and credit more the lower availability
    falls; maintenance windows name known links and sites."""
    isp = {link.label: link for link in inv.links if link.medium == "isp"}
    fed: dict[str, str] = {}
    for contract in inv.contracts.values():
        link = isp.get(contract.link)
        if link is None:
            known = ", ".join(sorted(isp)) or "none"
            report("contracts", contract.name, f"unknown isp link {contract.link!r} "
                   f"(isp links: {known})", ("link",))
        elif contract.link in fed:
            report("contracts", contract.name, f"link {contract.link!r} is already fed by "
                   f"contract {fed[contract.link]!r}", ("link",))
        elif (contract.capacity.down_bps > link.capacity.down_bps
              or contract.capacity.up_bps > link.capacity.up_bps):
            report("contracts", contract.name, f"committed capacity {contract.capacity} is "
                   f"more than link {link.label!r} carries ({link.capacity})", ("capacity",))
        fed.setdefault(contract.link, contract.name)
        for index, (before, after) in enumerate(zip(
                contract.price_changes, contract.price_changes[1:], strict=False), start=1):
            if after.effective_from <= before.effective_from:
                report("contracts", contract.name, f"price change from "
                       f"{after.effective_from} must come after {before.effective_from} "
                       f"(list them oldest first, one per month)", ("price_changes", index))
        bands = sorted(contract.credits, key=lambda b: -b.below)
        for upper, lower in zip(bands, bands[1:], strict=False):
            if upper.below == lower.below:
                report("contracts", contract.name,
                       f"two credit bands below {upper.below:g}%", ("credits",))
            elif lower.credit < upper.credit:
                report("contracts", contract.name, f"credit below {lower.below:g}% "
                       f"({lower.credit:g}%) is less than below {upper.below:g}% "
                       f"({upper.credit:g}%)", ("credits",))
        if any(b.below > contract.sla for b in contract.credits):
            report("contracts", contract.name, f"a credit band starts above the SLA target "
                   f"{contract.sla:g}%", ("credits",))
    for window in inv.maintenance.values():
        for index, name in enumerate(window.links):
            if name not in isp and not any(link.label == name for link in inv.links):
                report("maintenance", window.name, f"unknown link {name!r}", ("links", index))
        for index, code in enumerate(window.sites):
            if code not in inv.sites:
                report("maintenance", window.name, f"unknown site {code!r}", ("sites", index))
        if not window.links and not window.sites:
            report("maintenance", window.name, "name the links or sites it covers")


def _schedule_location(inv: Inventory, loader: Loader, code: str, index: int) -> Location:
    """The line of a site's schedule window (which may come from a group or the defaults)."""
    merged = getattr(loader, "merged", {}).get(("sites", code))
    if merged is None:
        for item in loader.raw:
            if item.section == "sites" and item.data.get("code") == code:
                merged = loader.merge(item)
                break
    if merged is None:
        return inv.locations.get(("sites", code), Location(str(loader.directory), 0))
    return locate(merged, ("schedule", index))


def _check_schedules(inv: Inventory, loader: Loader) -> None:
    """Schedule windows must not overlap, holidays must not repeat, and the allocations in
    force at any moment of the week (or on a holiday) must fit the uplinks."""
    for site in inv.sites.values():
        names: set[str] = set()
        taken: list[tuple[str, int, int, str]] = []
        for index, window in enumerate(site.schedule):
            where = _schedule_location(inv, loader, site.code, index)
            prefix = f"site {site.code!r}: schedule window {window.name!r}"
            if window.name in names:
                loader.problem(where, f"{prefix}: name is used twice")
            names.add(window.name)
            for day in window.days:
                for start, end in window.times:
                    for other_day, o_start, o_end, other in taken:
                        if other_day == day and start < o_end and o_start < end:
                            loader.problem(where, (
                                f"{prefix}: {day} {minute_label(start)}-{minute_label(end)} "
                                f"overlaps window {other!r} ({minute_label(o_start)}-"
                                f"{minute_label(o_end)})"))
                    taken.append((day, start, end, window.name))
        _check_floor(inv, loader, site)
    dates: dict[Any, str] = {}
    for holiday in inv.holidays.values():
        if holiday.date in dates:
            where = inv.locations.get(("holidays", holiday.name), Location("?", 0))
            loader.problem(where, f"holiday {holiday.name!r}: date {holiday.date} is also "
                           f"holiday {dates[holiday.date]!r}")
        dates.setdefault(holiday.date, holiday.name)
    _check_scheduled_capacity(inv, loader)


def _check_floor(inv: Inventory, loader: Loader, site: Site) -> None:
    """The site's own allocation and every window's must be at least its floor (the floor is
    what a recommendation never goes below, so the inventory must not either)."""
    for window, given in site.below_floor():
        if window is None:
            merged = loader.merged.get(("sites", site.code))
            where = locate(merged, ("allocation",)) if merged is not None else \
                inv.locations.get(("sites", site.code), Location("?", 0))
            what = "allocation"
        else:
            where = _schedule_location(inv, loader, site.code, site.schedule.index(window))
            what = f"schedule window {window.name!r}"
        loader.problem(where, f"site {site.code!r}: {what} gives {given}, below the site's "
                       f"floor {site.floor} (lower the floor or raise the allocation)")


def _check_scheduled_capacity(inv: Inventory, loader: Loader) -> None:
    uplink = inv.uplink_capacity()
    sites = [s for s in inv.sites.values() if s.kind != "noc"]
    if not uplink.down_bps or not any(s.schedule for s in sites):
        return
    week = 7 * 1440
    blamed: set[tuple[str, str]] = set()
    for holiday in (False, True):
        points: set[int] = {0}
        for site in sites:
            offset = TZ_OFFSET_MIN[site.timezone]
            for window in site.schedule:
                for start, end in window.times:
                    for d in range(7):
                        points.add((d * 1440 + start - offset) % week)
                        points.add((d * 1440 + end - offset) % week)
        for point in sorted(points):
            down = up = 0
            active: list[tuple[Site, ScheduleWindow | None, int, str, Allocation]] = []
            for site in sites:
                local = (point + TZ_OFFSET_MIN[site.timezone]) % week
                day, minute = DAYS[local // 1440], local % 1440
                current = site.window_at(day, minute, holiday)
                alloc = site.allocation_during(current)
                down += alloc.down_bps
                up += alloc.up_bps
                active.append((site, current, minute, day, alloc))
            if down <= uplink.down_bps and up <= uplink.up_bps:
                continue
            # Blame the windows that start at this moment and raise a site above its own
            # allocation; failing that, the site with the largest allocation then.
            culprits: list[tuple[Site, ScheduleWindow | None, int, str, Allocation]] = [
                (s, w, m, d, alloc) for s, w, m, d, alloc in active if w is not None
                and any(a == m for a, _ in w.times) and alloc.down_bps > s.allocation.down_bps]
            if not culprits:
                culprits = [max(active, key=lambda a: a[4].down_bps)]
            for site, blame, minute, day, _ in culprits:
                key = (site.code, blame.name if blame else "")
                if key in blamed:
                    continue
                blamed.add(key)
                when = f"{'on a holiday' if holiday else 'on ' + day} at {minute_label(minute)} " \
                       f"{TZ_ABBREV[site.timezone]}"
                if blame is not None:
                    index = site.schedule.index(blame)
                    where = _schedule_location(inv, loader, site.code, index)
                    what = f"site {site.code!r}: schedule window {blame.name!r}"
                else:
                    where = inv.locations.get(("sites", site.code), Location("?", 0))
                    what = f"site {site.code!r}: allocation"
                loader.problem(where, (
                    f"{what}: {when} the sites' allocations add up to "
                    f"{Allocation(down, up)}, more than the uplinks' {uplink}"))


def check_inventory(
    directory: Path | str, secrets: SecretStore | None = None
) -> tuple[Inventory, list[Problem]]:
    """Load and validate; return the inventory (possibly partial) and every problem found.

    With `secrets=None` the check that referenced secrets exist is skipped.
    """
    loader = Loader(Path(directory), secrets)
    loader.read()
    inventory = loader.build()
    if not loader.unreadable:
        # References into a file that could not be parsed would all look broken.
        _cross_check(inventory, loader)
        _check_schedules(inventory, loader)
    return inventory, sorted(set(loader.problems))


def load_inventory(directory: Path | str, secrets: SecretStore | None = None) -> Inventory:
    """Load the inventory or raise InventoryError listing every problem."""
    inventory, problems = check_inventory(directory, secrets)
    if problems:
        raise InventoryError(problems)
    return inventory

