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
HEALTH_SCRIPT = Path(__file__).with_name("snmp_health.py")
# net-snmp 5.9's HOST-RESOURCES-MIB modules: a RouterOS or IOS agent must not answer the host's
# own (lab/snmp_health.py serves RouterOS's; IOS has none), nor net-snmp's enterprise MIBs.
HOST_MODULES = ("hr_system", "hrh_storage", "hrh_filesys", "hr_device", "hr_other", "hr_proc",
                "hr_network", "hr_print", "hr_disk", "hr_partition", "hrSWRunTable",
                "hrSWRunPerfTable", "hrSWInstalledTable")
NET_SNMP_ENTERPRISE = (".1.3.6.1.4.1.2021", ".1.3.6.1.4.1.8072")
# the health subtrees each simulated platform answers (pass_persist to lab/snmp_health.py)
HEALTH_SUBTREES = {"mikrotik_routeros": (".1.3.6.1.2.1.25", ".1.3.6.1.4.1.14988"),
                   "cisco_ios": (".1.3.6.1.4.1.9.9.109",)}


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
               ifmib_spec: Path, health_spec: Path | None = None) -> SnmpdSpec | None:
    """snmpd for one device; a RouterOS or IOS device (simulated) answers its platform's health
    MIBs from `health_spec`, a Linux one the host's real HOST-RESOURCES-MIB."""
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
    extra = [f"pass_persist .1.3.6.1.2.1.2 {run}", f"pass_persist .1.3.6.1.2.1.31 {run}",
             f"sysName {device.name}"]
    excluded: tuple[str, ...] = IF_MODULES
    hidden: tuple[str, ...] = ()
    subtrees = HEALTH_SUBTREES.get(device.platform)
    if subtrees is not None:
        excluded += HOST_MODULES
        hidden = NET_SNMP_ENTERPRISE
        if health_spec is not None:
            health = f"{sys.executable} -S {HEALTH_SCRIPT} {health_spec}"
            extra += [f"pass_persist {oid} {health}" for oid in subtrees]
    return SnmpdSpec(
        listen=[f"udp:{device.mgmt_address}:{device.snmp_port}"], communities=communities,
        v3_users=users, exclude_modules=excluded, hidden_oids=hidden, extra=extra)


def health_spec(device: Device, boot: float) -> dict[str, Any]:
    """lab/snmp_health.py's spec: the platform, a per-device seed, the simulated boot time."""
    seed = int.from_bytes(hashlib.sha256(device.name.encode()).digest()[:4], "big")
    return {"platform": device.platform, "seed": seed, "boot": boot - seed % 86_400 * 30}


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
            health_path = workdir / "health.json"
            health_path.write_text(json.dumps(health_spec(device, start)))
            spec = agent_spec(device, inventory, secrets, ifmib_spec, health_path)
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
