"""Lab component `snmp`: a real net-snmp snmpd for every demo device, on its mgmt_address and
snmp_port, with the device's SNMP profile (v2c community or v3 authPriv user from the secrets).

snmpd runs without its own interface modules; `lab/snmp_ifmib.py` (pass_persist) serves the
device's interfaces as the inventory's links name them, with Counter64s that grow at a rate
drawn from each site's allocation, so `./run` shows live bandwidth per office.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.inventory import Device, Inventory, Link, LinkEnd
from controller.secrets import SecretStore
from lab.snmpd import SnmpdSpec, V3User, start_snmpd, stop_snmpd

log = logging.getLogger("simpul.lab.snmp")

IF_MODULES = ("ifTable", "ifXTable", "interfaces", "if-mib")
IFMIB_SCRIPT = Path(__file__).with_name("snmp_ifmib.py")


@dataclass
class _Iface:
    name: str
    alias: str
    speed_mbps: int
    in_bps: float = 0.0
    out_bps: float = 0.0


def _utilisation(key: str) -> float:
    """A stable per-site share of its allocation in use, between 15% and 95%."""
    digest = hashlib.sha256(key.encode()).digest()
    return 0.15 + 0.80 * digest[0] / 255


def _link_down_up(inventory: Inventory, link: Link, office_total: tuple[float, float],
                  isp_total_bps: float) -> tuple[float, float]:
    """Traffic towards the downstream end (down) and back (up) of a link, in bits/s."""
    if link.medium == "isp":
        share = link.capacity.down_bps / isp_total_bps if isp_total_bps else 1.0
        return office_total[0] * share, office_total[1] * share
    downstream = inventory.devices.get(link.b.device or "")
    site = inventory.sites.get(downstream.site) if downstream else None
    if site is not None and site.kind != "noc":
        f = _utilisation(site.code)
        return site.allocation.down_bps * f, site.allocation.up_bps * f
    cap = 0.9 * min(link.capacity.down_bps, link.capacity.up_bps) or 1e12
    return min(office_total[0], cap), min(office_total[1], cap)


def _alias(inventory: Inventory, end: LinkEnd, other: LinkEnd, link: Link,
           is_downstream: bool) -> str:
    """ifAlias as engineers write it: 'uplink: ...' on a site's end of its backbone link,
    'downlink: ...' on the far end (Simpul's `link` label comes from the inventory instead)."""
    here = inventory.devices[end.device or ""].site
    there = inventory.devices[other.device].site if other.device in inventory.devices else None
    text = f"{link.medium} to {other.label()}"
    if here == there:
        return text
    return f"uplink: {text}" if is_downstream else f"downlink: {text}"


def interfaces_by_device(inventory: Inventory) -> dict[str, list[_Iface]]:
    """Each device's link interfaces with their simulated traffic, from the inventory."""
    offices = [s for s in inventory.sites.values() if s.kind != "noc"]
    total = (sum(s.allocation.down_bps * _utilisation(s.code) for s in offices),
             sum(s.allocation.up_bps * _utilisation(s.code) for s in offices))
    isp_total = sum(link.capacity.down_bps for link in inventory.links if link.medium == "isp")
    result: dict[str, list[_Iface]] = {name: [] for name in inventory.devices}
    for link in inventory.links:
        down, up = _link_down_up(inventory, link, total, isp_total)
        speed = int(max(link.capacity.down_bps, link.capacity.up_bps) // 1_000_000) or 1
        ends = [(link.a, link.b, link.medium == "isp"), (link.b, link.a, link.medium != "isp")]
        for end, other, is_downstream in ends:
            if not end.device or end.device not in result or not end.interface:
                continue
            iface = _Iface(end.interface, _alias(inventory, end, other, link, is_downstream),
                           speed)
            iface.in_bps, iface.out_bps = (down, up) if is_downstream else (up, down)
            result[end.device].append(iface)
    return result


def agent_spec(device: Device, inventory: Inventory, secrets: SecretStore,
               ifmib_spec: Path) -> SnmpdSpec | None:
    if device.snmp is None or device.snmp not in inventory.snmp_profiles:
        return None
    profile = inventory.snmp_profiles[device.snmp]
    communities: list[str] = []
    users: list[V3User] = []
    if profile.version == "v2c" and profile.community_secret:
        communities.append(secrets.require(profile.community_secret))
    elif profile.username and profile.auth_secret and profile.priv_secret:
        users.append(V3User(profile.username, secrets.require(profile.auth_secret),
                            secrets.require(profile.priv_secret),
                            profile.auth_protocol or "SHA", profile.priv_protocol or "AES"))
    run = f"{sys.executable} -S {IFMIB_SCRIPT} {ifmib_spec}"
    return SnmpdSpec(
        listen=[f"udp:{device.mgmt_address}:{device.snmp_port}"], communities=communities,
        v3_users=users, exclude_modules=IF_MODULES,
        extra=[f"pass_persist .1.3.6.1.2.1.2 {run}", f"pass_persist .1.3.6.1.2.1.31 {run}",
               f"sysName {device.name}"])


def _start_epoch(state_dir: Path) -> float:
    """Counters keep growing across lab restarts: they count from one stored start time."""
    path = state_dir / "snmp" / "counters-start"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return float(path.read_text())
    except (OSError, ValueError):
        start = time.time() - 86_400.0  # a day of traffic already counted
        path.write_text(str(start))
        return start


def start_agents(inventory: Inventory, secrets: SecretStore, state_dir: Path,
                 procs: list[Any] | None = None,
                 stop: threading.Event | None = None) -> list[Any]:
    """Start one snmpd per device, appending each to `procs` as it starts (so a caller that
    is stopped half-way still knows which to stop); `stop` ends the loop early."""
    start = _start_epoch(state_dir)
    interfaces = interfaces_by_device(inventory)
    procs = [] if procs is None else procs
    try:
        for device in inventory.devices.values():
            if stop is not None and stop.is_set():
                break
            workdir = state_dir / "snmp" / device.name
            workdir.mkdir(parents=True, exist_ok=True)
            ifmib_spec = workdir / "ifmib.json"
            ifaces = interfaces.get(device.name) or [_Iface("lan", "", 1000)]
            ifmib_spec.write_text(json.dumps({"start": start, "interfaces": [
                {"index": i + 1, "name": f.name, "alias": f.alias, "speed_mbps": f.speed_mbps,
                 "in_bps": f.in_bps, "out_bps": f.out_bps} for i, f in enumerate(ifaces)]}))
            spec = agent_spec(device, inventory, secrets, ifmib_spec)
            if spec is not None:
                procs.append(start_snmpd(workdir, spec))
    except Exception:
        for proc in procs:
            stop_snmpd(proc)
        procs.clear()
        raise
    return procs


async def snmp_agents_component(lab: Any) -> None:
    """The lab component: one snmpd per SNMP-enabled inventory device, until cancelled.

    Stopped while the agents are still starting (Ctrl-C right after `./run`), it waits for the
    starter to notice, then stops every snmpd started so far: none is left behind."""
    procs: list[Any] = []
    stop = threading.Event()
    starting = asyncio.ensure_future(asyncio.to_thread(
        start_agents, lab.inventory, lab.secrets, lab.state_dir, procs, stop))
    try:
        await asyncio.shield(starting)
        log.info("lab: %d SNMP agents up", len(procs))
        while True:
            await asyncio.sleep(5)
            for proc in procs:
                if proc.poll() is not None:
                    log.warning("lab: snmpd pid %d exited with %s", proc.pid, proc.returncode)
    finally:
        stop.set()
        if not starting.done():
            await asyncio.wait([starting])
        for proc in procs:
            stop_snmpd(proc)
