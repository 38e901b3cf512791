"""The lab's SNMP agents (real snmpd per demo device) answer the poller with the inventory's
interfaces and counters that grow: what `./run` shows as live bandwidth.

The demo inventory is copied and moved to test addresses (127.N.0.x, a free port), so a
running demo lab on 127.0.0.10-58:1161 is never touched."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest

from controller.inventory import load_inventory
from controller.secrets import SecretStore
from exporters.snmp import Poller, PollerOptions
from exporters.state import CycleReadings
from lab.relocate import parse_block, relocate
from lab.snmp_agents import start_agents
from lab.snmpd import stop_snmpd
from tests.conftest import free_port

pytestmark = pytest.mark.integration


def test_lab_agents_serve_every_demo_device(demo_inventory: Path, demo_secrets: Path,
                                            tmp_path: Path):
    net = random.randint(100, 250)
    moved = tmp_path / "moved-inventory"
    relocate(demo_inventory, moved, parse_block(f"127.{net}.0.0/24"), snmp_port=free_port())
    secrets = SecretStore.load(demo_secrets)
    inventory = load_inventory(moved, secrets)
    assert all(str(d.mgmt_address).startswith(f"127.{net}.") for d in inventory.devices.values())

    procs = start_agents(inventory, secrets, tmp_path / "lab")
    poller = Poller(inventory, secrets, PollerOptions(timeout_s=2, retries=1))

    async def run() -> tuple[CycleReadings, CycleReadings]:
        try:
            first = await poller.poll_once()
            await asyncio.sleep(1.5)
            return first, await poller.poll_once()
        finally:
            await poller.aclose()

    try:
        assert len(procs) == len(inventory.devices)
        first, second = asyncio.run(run())
    finally:
        for proc in procs:
            stop_snmpd(proc)

    down = [d.device for d in second.devices.values() if not d.up]
    assert not down, f"lab devices not answering: {down}"
    assert {p.version for p in inventory.snmp_profiles.values()} == {"v2c", "v3"}
    for link in inventory.links:
        for end in (link.a, link.b):
            if end.device:
                names = {i.name for i in second.devices[end.device].interfaces}
                assert end.interface in names, (end.device, end.interface, names)
    setda = {i.name: i for i in second.devices["setda-r1"].interfaces}
    setda_before = {i.name: i for i in first.devices["setda-r1"].interfaces}
    assert setda["ether1"].alias.startswith("uplink: ")
    assert setda["ether1"].in_octets > setda_before["ether1"].in_octets  # live traffic
    assert setda["ether1"].oper_up and setda["ether1"].speed_bps > 0
    assert time.time() - second.timestamp < 60
