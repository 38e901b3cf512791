"""The poller against real snmpd agents on loopback that misbehave: one stops answering, one
hides the counter columns, one restarts (sysUpTime goes backwards)."""

from __future__ import annotations

import asyncio
import os
import random
import secrets as pysecrets
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from controller.inventory import Device, Inventory, SnmpProfile
from controller.secrets import SecretStore
from exporters.collectors import PollCollector
from exporters.snmp import Poller, PollerOptions
from exporters.state import CycleReadings, LatestReadings
from lab.snmpd import SnmpdSpec, start_snmpd, stop_snmpd
from tests.conftest import free_port

pytestmark = pytest.mark.integration

COMMUNITY = pysecrets.token_hex(8)
NET = f"127.{random.randint(100, 250)}.{random.randint(1, 250)}"


def inventory_for(agents: dict[str, tuple[str, int]]) -> Inventory:
    inv = Inventory()
    inv.snmp_profiles["v2"] = SnmpProfile(name="v2", version="v2c", community_secret="c")
    for name, (address, port) in agents.items():
        inv.devices[name] = Device(name=name, site="lab", platform="linux", role="r",
                                   mgmt_address=address, credentials="x", snmp="v2",
                                   snmp_port=port)
    return inv


SECRETS = SecretStore({"c": COMMUNITY}, {})


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[dict[str, tuple[str, int, object]]]:
    """Three snmpd: 'good' (all of mib-2), 'hidden' (no ifXTable counters), 'frozen'."""
    procs = {}
    try:
        counters = (".1.3.6.1.2.1.31.1.1.1.6", ".1.3.6.1.2.1.31.1.1.1.10",
                    ".1.3.6.1.2.1.31.1.1.1.15")
        for i, (name, hidden) in enumerate((("good", ()), ("hidden", counters),
                                             ("frozen", ()))):
            address, port = f"{NET}.{i + 2}", free_port()
            proc = start_snmpd(tmp_path / name, SnmpdSpec(
                listen=[f"udp:{address}:{port}"], communities=[COMMUNITY], hidden_oids=hidden))
            procs[name] = (address, port, proc)
        yield procs
    finally:
        for _, _, proc in procs.values():
            stop_snmpd(proc)  # type: ignore[arg-type]


def test_stopped_agent_is_down_and_others_are_polled_first(agents):
    inv = inventory_for({n: (a, p) for n, (a, p, _) in agents.items()})
    seen: list[CycleReadings] = []
    poller = Poller(inv, SECRETS, PollerOptions(timeout_s=0.5, retries=1), hooks=[seen.append])

    async def run() -> tuple[CycleReadings, CycleReadings]:
        try:
            first = await poller.poll_once()
            os.kill(agents["frozen"][2].pid, signal.SIGSTOP)
            return first, await poller.poll_once()
        finally:
            os.kill(agents["frozen"][2].pid, signal.SIGCONT)
            await poller.aclose()

    first, second = asyncio.run(run())
    assert seen == [first, second]  # the hook got every cycle
    assert first.devices["frozen"].up
    frozen, good = second.devices["frozen"], second.devices["good"]
    assert not frozen.up and "response" in (frozen.error or "").lower()
    assert good.up and good.interfaces
    # The healthy agents finished before the silent one gave up: it did not hold them back.
    assert good.polled_at < frozen.polled_at
    assert second.devices["hidden"].polled_at < frozen.polled_at

    latest = LatestReadings(cycle=second)
    registry = CollectorRegistry()
    registry.register(PollCollector(latest, lambda: inv))
    assert registry.get_sample_value("simpul_device_up", {"site": "lab", "device": "frozen"}) == 0
    assert registry.get_sample_value("simpul_device_up", {"site": "lab", "device": "good"}) == 1
    lo = {"site": "lab", "device": "good", "interface": "lo", "alias": "", "link": ""}
    assert registry.get_sample_value("simpul_interface_receive_bytes_total", lo) > 0
    assert registry.get_sample_value("simpul_interface_speed_bits_per_second", lo) is not None
    # A down device exports no stale interface samples.
    frozen_lo = {**lo, "device": "frozen"}
    assert registry.get_sample_value("simpul_interface_receive_bytes_total", frozen_lo) is None


def test_missing_counter_columns_keep_device_up_without_counters(agents):
    inv = inventory_for({"hidden": agents["hidden"][:2]})
    poller = Poller(inv, SECRETS, PollerOptions(timeout_s=0.5, retries=1))

    async def run() -> CycleReadings:
        try:
            return await poller.poll_once()
        finally:
            await poller.aclose()

    cycle = asyncio.run(run())
    hidden = cycle.devices["hidden"]
    assert hidden.up and hidden.sys_uptime_s is not None
    lo = next(i for i in hidden.interfaces if i.name == "lo")  # names still come from ifName
    assert lo.in_octets is None and lo.out_octets is None and lo.speed_bps is None
    assert lo.oper_up is True  # ifOperStatus is in ifTable, which the view allows
    registry = CollectorRegistry()
    registry.register(PollCollector(LatestReadings(cycle=cycle), lambda: inv))
    labels = {"site": "lab", "device": "hidden", "interface": "lo", "alias": "", "link": ""}
    assert registry.get_sample_value("simpul_interface_receive_bytes_total", labels) is None
    assert registry.get_sample_value("simpul_interface_up", labels) == 1


def test_restarted_agent_is_a_counter_reset(agents, tmp_path: Path):
    address, port, proc = agents["good"]
    inv = inventory_for({"good": (address, port)})
    poller = Poller(inv, SECRETS, PollerOptions(timeout_s=0.5, retries=2))

    async def run() -> tuple[CycleReadings, CycleReadings]:
        try:
            await asyncio.sleep(1.5)  # let the first agent's sysUpTime outgrow a fresh one's
            first = await poller.poll_once()
            stop_snmpd(proc)  # type: ignore[arg-type]
            agents["good"] = (address, port, start_snmpd(tmp_path / "good-again", SnmpdSpec(
                listen=[f"udp:{address}:{port}"], communities=[COMMUNITY])))
            return first, await poller.poll_once()
        finally:
            await poller.aclose()

    first, second = asyncio.run(run())
    assert first.devices["good"].up and not first.devices["good"].counter_reset
    again = second.devices["good"]
    assert again.up and again.counter_reset
    assert again.sys_uptime_s < first.devices["good"].sys_uptime_s
