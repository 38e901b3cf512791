"""The poller hook feeds the rollups from a real net-snmp agent: byte totals in the store equal
the counters' own progress, across a 64-bit wrap that happens during the test."""

from __future__ import annotations

import asyncio
import json
import math
import random
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from controller.bandwidth.rollups import RollupConsumer
from controller.inventory import load_inventory
from controller.secrets import SecretStore
from controller.store.bandwidth import Bandwidth5m
from controller.store.db import Store, migrate
from exporters.snmp import Poller, PollerOptions
from lab.snmp_agents import IF_MODULES
from lab.snmp_ifmib import PERIOD_S, SWING
from lab.snmpd import SnmpdSpec, start_snmpd, stop_snmpd
from tests.conftest import free_port
from tests.unit.bandwidth_helpers import write_mini

pytestmark = pytest.mark.integration

IFMIB = Path(__file__).resolve().parents[2] / "lab" / "snmp_ifmib.py"
RATE_BPS = 8e9            # 1 GB/s down the office uplink: the counter wraps within seconds
WRAP_AFTER_S = 3.0


def unwrapped(rate_bps: float, elapsed: float) -> float:
    w = 2 * math.pi / PERIOD_S
    return rate_bps / 8 * (elapsed + SWING / w * (1.0 - math.cos(w * elapsed)))


def elapsed_before_wrap(rate_bps: float, seconds_left: float) -> float:
    """How long the lab counter must have run so that it wraps `seconds_left` from now."""
    target = 2.0**64 - rate_bps / 8 * seconds_left
    lo, hi = 0.0, 2.0**64 * 8 / rate_bps
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if unwrapped(rate_bps, mid) < target else (lo, mid)
    return lo


def test_poller_hook_fills_rollups_across_a_wrap(tmp_path: Path) -> None:
    if not (Path("/usr/sbin/snmpd").exists()):
        pytest.skip("net-snmp snmpd not installed")
    address, port = f"127.0.{random.randint(100, 250)}.{random.randint(2, 250)}", free_port()
    community = f"c{random.randint(10**8, 10**9)}"
    inv_dir = write_mini(tmp_path / "inv")
    text = (inv_dir / "inventory.yaml").read_text()
    text = text.replace("  mgmt_address: 127.0.200.2\n",
                        f"  mgmt_address: {address}\n  snmp: lab-v2c\n  snmp_port: {port}\n")
    text += ("snmp_profiles:\n- name: lab-v2c\n  version: v2c\n"
             "  community_secret: lab_community\n")
    (inv_dir / "inventory.yaml").write_text(text)
    inventory = load_inventory(inv_dir)
    secrets = SecretStore({"lab_community": community, "admin_password": "x"}, {})

    import time

    start = time.time() - elapsed_before_wrap(RATE_BPS, WRAP_AFTER_S)
    spec_path = tmp_path / "ifmib.json"
    spec_path.write_text(json.dumps({"start": start, "interfaces": [
        {"index": 1, "name": "ether1", "alias": "uplink", "speed_mbps": 10000,
         "in_bps": RATE_BPS, "out_bps": RATE_BPS / 4},
        {"index": 2, "name": "bridge", "alias": "lan", "speed_mbps": 1000,
         "in_bps": 1e6, "out_bps": 1e6}]}))
    run = f"{sys.executable} -S {IFMIB} {spec_path}"
    proc = start_snmpd(tmp_path / "snmpd", SnmpdSpec(
        listen=[f"udp:{address}:{port}"], communities=[community],
        exclude_modules=IF_MODULES,
        extra=[f"pass_persist .1.3.6.1.2.1.2 {run}", f"pass_persist .1.3.6.1.2.1.31 {run}"]))
    url = f"sqlite:///{tmp_path / 's.db'}"
    migrate(url)
    store = Store(url)
    consumer = RollupConsumer(store, inventory)
    seen: list[tuple[float, int]] = []

    async def record(cycle) -> None:  # type: ignore[no-untyped-def]
        reading = cycle.devices["kantor-r1"]
        assert reading.up, reading.error
        assert reading.sys_uptime_s is not None
        names = [i.name for i in reading.interfaces]
        uplink = next((i for i in reading.interfaces if i.name == "ether1"), None)
        assert uplink is not None, names
        seen.append((cycle.timestamp, uplink.in_octets))

    async def poll() -> None:
        poller = Poller(inventory, secrets, PollerOptions(timeout_s=2.0, retries=1),
                        hooks=[record, consumer.cycle_hook])
        try:
            for _ in range(8):
                await poller.poll_once()
                await asyncio.sleep(1.0)
        finally:
            await poller.aclose()

    try:
        asyncio.run(poll())
    finally:
        stop_snmpd(proc)
    counters = [c for _, c in seen]
    assert len(counters) == 8
    assert any(b < a for a, b in zip(counters, counters[1:], strict=False)), "no wrap seen"
    progress = sum((b - a) % 2**64 for a, b in zip(counters, counters[1:], strict=False))
    with store.session() as session:
        total = session.scalar(select(func.sum(Bandwidth5m.in_bytes)).where(
            Bandwidth5m.site == "kantor"))
        rows = session.scalars(select(Bandwidth5m)).all()
    store.dispose()
    assert {r.site for r in rows} == {"kantor"}
    assert total == pytest.approx(progress, abs=len(rows) + 1)
    for row in rows:
        assert 0.55 * RATE_BPS < row.in_bps < 1.45 * RATE_BPS, row.in_bps
