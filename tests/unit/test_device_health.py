"""Device health decoding: each MIB's values with expected figures worked out by hand from the
MIB definitions (units and scales), through the poller with an in-memory agent.

- HOST-RESOURCES-MIB (RFC 2790): hrSystemUptime TimeTicks (1/100 s); hrProcessorLoad percent;
  hrStorageSize/Used in hrStorageAllocationUnits bytes, RAM row has type hrStorageRam.
- MIKROTIK-MIB: Temperature TC with DISPLAY-HINT "d-1": 415 means 41.5 degrees Celsius.
- CISCO-PROCESS-MIB: cpmCPUTotal5minRev percent; cpmCPUMemoryUsed/Free UNITS "kilo-bytes".
"""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from controller.secrets import SecretStore
from exporters.collectors import HealthCollector
from exporters.health import HealthPlan, decode, instances, predecessor
from exporters.snmp import IF_IN_ERRORS, IF_OUT_ERRORS, Poller
from exporters.snmp_client import Oid, Value
from exporters.state import LatestReadings
from tests.unit.test_exporters import FakeAgent, agent_mib, interface_requests, inventory

HR = (1, 3, 6, 1, 2, 1, 25)
MTXR = (1, 3, 6, 1, 4, 1, 14988, 1, 1, 3)
CPM = (1, 3, 6, 1, 4, 1, 9, 9, 109, 1, 1, 1, 1)
HR_STORAGE_RAM = (*HR, 2, 1, 2)
HR_STORAGE_OTHER = (*HR, 2, 1, 1)


def routeros_mib() -> dict[Oid, Value]:
    """What a RouterOS answers: HOST-RESOURCES (RAM row 65536, as RouterOS numbers it) and
    MIKROTIK-MIB health scalars; no CISCO-PROCESS-MIB."""
    mib = agent_mib(uptime=360_000)  # sysUpTime 3600 s
    mib.update({
        (*HR, 1, 1, 0): 8_640_000,  # hrSystemUptime: 86400 s
        (*HR, 2, 3, 1, 2, 65536): HR_STORAGE_RAM, (*HR, 2, 3, 1, 2, 131072): (*HR, 2, 1, 4),
        (*HR, 2, 3, 1, 4, 65536): 1024, (*HR, 2, 3, 1, 5, 65536): 262_144,
        (*HR, 2, 3, 1, 6, 65536): 91_750,
        (*HR, 3, 3, 1, 2, 1): 12, (*HR, 3, 3, 1, 2, 2): 30,
        (*MTXR, 10, 0): 415, (*MTXR, 6, 0): 587,
    })
    return mib


def ios_mib() -> dict[Oid, Value]:
    """IOS: CISCO-PROCESS-MIB row 1 and sysUpTime; no HOST-RESOURCES, no MIKROTIK-MIB."""
    mib = agent_mib(uptime=720_000)  # 7200 s
    mib.update({(*CPM, 8, 1): 7, (*CPM, 12, 1): 182_345, (*CPM, 13, 1): 329_655})
    return mib


def linux_mib() -> dict[Oid, Value]:
    """net-snmp on Linux: RAM is hrStorage row 1, other rows before and after it."""
    mib = agent_mib()
    mib.update({
        (*HR, 1, 1, 0): 100, (*HR, 2, 3, 1, 2, 1): HR_STORAGE_RAM,
        (*HR, 2, 3, 1, 2, 3): HR_STORAGE_OTHER, (*HR, 2, 3, 1, 4, 1): 1024,
        (*HR, 2, 3, 1, 5, 1): 4_000_000, (*HR, 2, 3, 1, 6, 1): 1_000_000,
        (*HR, 3, 3, 1, 2, 196608): 50,
    })
    return mib


def run(agent: FakeAgent, cycles: int = 1, refresh: int = 10):  # type: ignore[no-untyped-def]
    from exporters.snmp import PollerOptions

    poller = Poller(inventory(), SecretStore({}, {}), PollerOptions(names_refresh_cycles=refresh),
                    client=agent)

    async def go():  # type: ignore[no-untyped-def]
        return [await poller.poll_once() for _ in range(cycles)]

    return asyncio.run(go())


def test_routeros_host_resources_and_mikrotik_temperatures():
    (cycle,) = run(FakeAgent(routeros_mib()))
    health = cycle.devices["r1"].health
    assert health is not None
    assert health.uptime_s == 86_400.0 and health.uptime_source == "hrSystemUptime"
    assert health.cpu_load_ratio == 0.21  # (12 + 30) / 2 percent
    assert health.memory_total_bytes == 268_435_456  # 262144 x 1024 B = 256 MiB
    assert health.memory_used_bytes == 93_952_000  # 91750 x 1024 B
    assert dict(health.temperatures_c) == {"cpu": 58.7, "system": 41.5}  # tenths of a degree


def test_ios_cisco_process_mib():
    (cycle,) = run(FakeAgent(ios_mib()))
    health = cycle.devices["r1"].health
    assert health is not None
    assert health.uptime_s == 7200.0 and health.uptime_source == "sysUpTime"
    assert health.cpu_load_ratio == 0.07 and health.cpu_source == "cpmCPUTotal5minRev"
    assert health.memory_used_bytes == 186_721_280  # 182345 KB x 1024
    assert health.memory_total_bytes == 524_288_000  # (182345 + 329655) KB = 512000 KB
    assert health.temperatures_c == ()


def test_linux_net_snmp_picks_the_ram_row_by_type():
    (cycle,) = run(FakeAgent(linux_mib()))
    health = cycle.devices["r1"].health
    assert health is not None
    assert health.memory_total_bytes == 4_096_000_000 and health.memory_used_bytes == 1_024_000_000
    assert health.cpu_load_ratio == 0.5 and health.uptime_s == 1.0


def test_a_device_with_no_health_mib_reports_only_sysuptime():
    (cycle,) = run(FakeAgent(agent_mib(uptime=4200)))
    health = cycle.devices["r1"].health
    assert health is not None and health.uptime_s == 42.0
    assert health.cpu_load_ratio is None and health.memory_total_bytes is None


def test_health_costs_no_request_between_name_refreshes():
    """Steady cycles: the instances ride in the interface GETBULK; one request per cycle."""
    agent = FakeAgent(routeros_mib())
    cycles = run(agent, cycles=6, refresh=100)
    assert len(agent.requests) - len(interface_requests(agent)) == 1  # one discovery at start
    assert len(interface_requests(agent)) == 6
    # error counters come with the names only, not in every cycle's walk
    assert [IF_IN_ERRORS in r for r in interface_requests(agent)] == [True] + [False] * 5
    assert all(c.devices["r1"].health.cpu_load_ratio == 0.21 for c in cycles)  # type: ignore


def test_a_vanished_row_sends_the_device_back_to_discovery():
    agent = FakeAgent(routeros_mib())
    poller_cycles = 3
    mib = routeros_mib()
    for column in (4, 5, 6, 2):
        del mib[(*HR, 2, 3, 1, column, 65536)]
    mib.update({(*HR, 2, 3, 1, 2, 65537): HR_STORAGE_RAM, (*HR, 2, 3, 1, 4, 65537): 4096,
                (*HR, 2, 3, 1, 5, 65537): 1000, (*HR, 2, 3, 1, 6, 65537): 250})
    from exporters.snmp import PollerOptions

    poller = Poller(inventory(), SecretStore({}, {}), PollerOptions(names_refresh_cycles=100),
                    client=agent)

    async def go():  # type: ignore[no-untyped-def]
        out = [await poller.poll_once()]
        agent.mib = dict(sorted(mib.items()))
        out += [await poller.poll_once() for _ in range(poller_cycles - 1)]
        return out

    first, changed, after = asyncio.run(go())
    assert first.devices["r1"].health.memory_total_bytes == 268_435_456  # type: ignore
    assert changed.devices["r1"].health.memory_total_bytes is None  # type: ignore
    assert after.devices["r1"].health.memory_total_bytes == 4_096_000  # type: ignore


def test_out_of_range_and_wrong_types_are_dropped():
    plan = HealthPlan(ram_row=1, processors=(1,), temperatures=("system",))
    values: dict[Oid, Value] = {
        (*HR, 2, 3, 1, 4, 1): 1024, (*HR, 2, 3, 1, 5, 1): 10, (*HR, 2, 3, 1, 6, 1): 11,
        (*HR, 3, 3, 1, 2, 1): 101, (*MTXR, 10, 0): 9999}
    health, missing = decode(plan, values, None)
    assert health.memory_used_bytes is None  # used > size
    assert health.cpu_load_ratio is None  # 101 percent
    assert health.temperatures_c == ()  # 999.9 degrees
    assert not missing
    _, missing = decode(plan, {}, None)
    assert missing


def test_negative_temperatures_decode():
    plan = HealthPlan(temperatures=("board",))
    health, _ = decode(plan, {(*MTXR, 7, 0): -55}, None)
    assert health.temperatures_c == (("board", -5.5),)


def test_instances_are_asked_as_getnext_of_their_predecessor():
    assert predecessor((*MTXR, 10, 0)) == (*MTXR, 10)
    assert predecessor((*HR, 2, 3, 1, 5, 65536)) == (*HR, 2, 3, 1, 5, 65535)
    plan = HealthPlan(hr_uptime=True, cpm_rows=(1,))
    assert instances(plan) == ((*HR, 1, 1, 0), (*CPM, 8, 1), (*CPM, 12, 1), (*CPM, 13, 1))


def test_health_and_error_metrics():
    mib = routeros_mib()
    mib.update({(*IF_IN_ERRORS, 1): 3, (*IF_OUT_ERRORS, 1): 5})
    (cycle,) = run(FakeAgent(mib))
    registry = CollectorRegistry()
    registry.register(HealthCollector(LatestReadings(cycle=cycle), inventory))
    get = registry.get_sample_value
    device = {"site": "dinkes", "device": "r1"}
    assert get("simpul_device_uptime_seconds", device) == 86_400.0
    assert get("simpul_device_cpu_load_ratio", device) == 0.21
    assert get("simpul_device_memory_used_bytes", device) == 93_952_000
    assert get("simpul_device_memory_total_bytes", device) == 268_435_456
    assert get("simpul_device_temperature_celsius", {**device, "sensor": "system"}) == 41.5
    iface = {**device, "interface": "ether1", "alias": "uplink to ether1", "link": ""}
    assert get("simpul_interface_receive_errors_total", iface) == 3
    assert get("simpul_interface_transmit_errors_total", iface) == 5
