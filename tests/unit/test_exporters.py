"""The poller's table logic and the collectors, with an in-memory agent behind SnmpClient."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry, generate_latest

import exporters.loop
import exporters.snmp
from controller.bandwidth.topology import link_roles
from controller.inventory import Device, Inventory, SnmpProfile, load_inventory
from controller.secrets import SecretStore
from controller.settings import Settings
from controller.shard import ALL
from controller.store.db import Store, migrate
from exporters.collectors import (
    COLLECTORS,
    PollCollector,
    exported_metric_names,
    register_collectors,
    sample_names,
)
from exporters.health import HR_STORAGE_TYPE
from exporters.loop import poll_loop
from exporters.snmp import (
    IF_ALIAS,
    IF_DESCR,
    IF_HC_IN_OCTETS,
    IF_HC_OUT_OCTETS,
    IF_HIGH_SPEED,
    IF_NAME,
    IF_NUMBER,
    IF_OPER_STATUS,
    SYS_UPTIME,
    Poller,
    PollerOptions,
)
from exporters.snmp_client import END, Oid, Target, Value
from exporters.state import (
    CycleReadings,
    DeviceReading,
    InterfaceReading,
    LatestReadings,
    ProbeReading,
)

ROOT = Path(__file__).resolve().parents[2]


class FakeAgent:
    """A sorted MIB answered like GETBULK, optionally truncating each response."""

    def __init__(self, mib: dict[Oid, Value], truncate: int | None = None):
        self.mib = dict(sorted(mib.items()))
        self.truncate = truncate
        self.requests: list[list[Oid]] = []
        self.repetitions: list[int] = []
        self.prepared: list[str] = []

    async def prepare(self, targets: Sequence[Target]) -> None:
        assert not self.requests, "targets must all be registered before the first request"
        self.prepared.extend(t.device for t in targets)

    def next_after(self, oid: Oid) -> tuple[Oid, Value]:
        for key, value in self.mib.items():
            if key > oid:
                return key, value
        return oid, END

    async def get_bulk(self, target: Target, oids: Sequence[Oid], non_repeaters: int,
                       max_repetitions: int) -> list[tuple[Oid, Value]]:
        self.requests.append(list(oids))
        self.repetitions.append(max_repetitions)
        out = [self.next_after(o) for o in oids[:non_repeaters]]
        cursors = list(oids[non_repeaters:])
        for _ in range(max_repetitions):
            row = [self.next_after(c) for c in cursors]
            out.extend(row)
            cursors = [oid for oid, _ in row]
        return out[: self.truncate] if self.truncate else out

    async def aclose(self) -> None:
        pass


def agent_mib(uptime: int = 12345, counters: int = 1000) -> dict[Oid, Value]:
    mib: dict[Oid, Value] = {(*SYS_UPTIME, 0): uptime, (1, 3, 6, 1, 2, 1, 1, 5, 0): b"r1"}
    for index, name in ((1, b"ether1"), (2, b"ether2"), (7, b"sfp1")):
        mib[(*IF_NAME, index)] = name
        mib[(*IF_ALIAS, index)] = b"uplink to " + name
        mib[(*IF_HC_IN_OCTETS, index)] = counters * index
        mib[(*IF_HC_OUT_OCTETS, index)] = counters * index * 2
        mib[(*IF_HIGH_SPEED, index)] = 1000
        mib[(*IF_OPER_STATUS, index)] = 1 if index != 2 else 2
    return mib


def inventory() -> Inventory:
    inv = Inventory()
    inv.snmp_profiles["p"] = SnmpProfile(name="p", version="v2c", community_secret="c")
    inv.devices["r1"] = Device(name="r1", site="dinkes", platform="linux", role="r",
                               mgmt_address="127.0.0.1", credentials="x", snmp="p")
    inv.devices["no-snmp"] = Device(name="no-snmp", site="dinkes", platform="linux", role="r",
                                    mgmt_address="127.0.0.2", credentials="x")
    return inv


def poll(agent: FakeAgent, cycles: int = 1, **options: object) -> list[CycleReadings]:
    poller = Poller(inventory(), SecretStore({}, {}), PollerOptions(**options),  # type: ignore
                    client=agent)

    async def run() -> list[CycleReadings]:
        return [await poller.poll_once() for _ in range(cycles)]

    return asyncio.run(run())


def test_reads_every_column_of_every_interface():
    (cycle,) = poll(FakeAgent(agent_mib()))
    assert list(cycle.devices) == ["r1"]  # devices without an SNMP profile are not polled
    r1 = cycle.devices["r1"]
    assert r1.up and r1.sys_uptime_s == 123.45 and not r1.counter_reset
    by_name = {i.name: i for i in r1.interfaces}
    assert set(by_name) == {"ether1", "ether2", "sfp1"}
    assert by_name["sfp1"].in_octets == 7000 and by_name["sfp1"].out_octets == 14000
    assert by_name["sfp1"].alias == "uplink to sfp1"
    assert by_name["ether1"].speed_bps == 1_000_000_000
    assert by_name["ether2"].oper_up is False and by_name["ether1"].oper_up is True


def test_truncated_responses_still_walk_the_whole_table():
    agent = FakeAgent(agent_mib(), truncate=4)
    (cycle,) = poll(agent, max_repetitions=2)
    assert len(cycle.devices["r1"].interfaces) == 3
    assert len(agent.requests) > 3


def interface_requests(agent: FakeAgent) -> list[list[Oid]]:
    """The requests of the interface walk, without the health discovery of refresh cycles."""
    return [r for r in agent.requests if HR_STORAGE_TYPE not in r]


def test_names_are_cached_and_refreshed_every_n_cycles():
    agent = FakeAgent(agent_mib())
    poll(agent, cycles=10, names_refresh_cycles=3)
    asked_names = [any(o[: len(IF_NAME)] == IF_NAME for o in req)
                   for req in interface_requests(agent)]
    assert len(asked_names) == 10  # one request per cycle: the known table fits one PDU
    refreshes = [i for i, asked in enumerate(asked_names) if asked]
    # All names at start; then every 3rd cycle, at an offset that spreads devices apart.
    assert refreshes[0] == 0 and len(refreshes) >= 3
    assert all(b - a == 3 for a, b in zip(refreshes[1:], refreshes[2:], strict=False))
    assert 1 <= refreshes[1] <= 3


def test_a_first_walk_asks_only_for_the_rows_ifnumber_says_are_missing():
    """The first cycle reads names too; a table exactly `max_repetitions` long used to cost a
    second full-width request to find the columns' ends. With ifNumber (a non-repeater of the
    first request) the second asks for one more row only."""
    mib = agent_mib()
    mib[(*IF_NUMBER, 0)] = 3
    agent = FakeAgent(mib)
    (cycle,) = poll(agent, max_repetitions=3)
    assert agent.prepared == ["r1"]
    assert len(cycle.devices["r1"].interfaces) == 3
    walk = [r for q, r in zip(agent.requests, agent.repetitions, strict=True)
            if HR_STORAGE_TYPE not in q]
    assert interface_requests(agent)[0][:2] == [SYS_UPTIME, IF_NUMBER]
    assert walk == [3, 1]


def test_uptime_going_backwards_is_a_counter_reset():
    agent = FakeAgent(agent_mib(uptime=50_000))
    poller = Poller(inventory(), SecretStore({}, {}), client=agent)

    async def run() -> tuple[CycleReadings, CycleReadings]:
        first = await poller.poll_once()
        agent.mib = dict(sorted(agent_mib(uptime=300, counters=1).items()))
        return first, await poller.poll_once()

    first, second = asyncio.run(run())
    assert not first.devices["r1"].counter_reset
    assert second.devices["r1"].counter_reset


def test_odd_values_are_dropped_not_fatal():
    mib = agent_mib()
    mib[(*IF_HC_IN_OCTETS, 1)] = b"not a number"
    mib[(*IF_OPER_STATUS, 1)] = 99
    mib[(*IF_HIGH_SPEED, 7)] = -5
    del mib[(*IF_NAME, 7)]
    mib[(*IF_NAME, 2)] = b"eth\x00er2\n"
    (cycle,) = poll(FakeAgent(mib))
    by_index = {i.index: i for i in cycle.devices["r1"].interfaces}
    assert by_index[1].in_octets is None and by_index[1].out_octets == 2000
    assert by_index[1].oper_up is None
    assert by_index[7].speed_bps is None and by_index[7].name == "ifIndex7"
    assert by_index[2].name == "ether2"


def test_non_increasing_oids_end_the_walk():
    class LoopingAgent(FakeAgent):
        async def get_bulk(self, target, oids, non_repeaters, max_repetitions):
            self.requests.append(list(oids))
            out = [((*SYS_UPTIME, 0), 1)] if non_repeaters else []
            return out + [((*c[:11], 1), 5) for c in oids[non_repeaters:]] * max_repetitions

    agent = LoopingAgent({})
    (cycle,) = poll(agent)
    assert cycle.devices["r1"].up
    assert len(interface_requests(agent)) <= 2
    assert len(agent.requests) - len(interface_requests(agent)) <= 2  # health discovery


def test_failing_hook_does_not_stop_polling():
    calls: list[str] = []

    def bad(cycle: CycleReadings) -> None:
        calls.append("bad")
        raise RuntimeError("boom")

    async def good(cycle: CycleReadings) -> None:
        calls.append("good")

    poller = Poller(inventory(), SecretStore({}, {}), client=FakeAgent(agent_mib()),
                    hooks=[bad, good])
    cycle = asyncio.run(poller.poll_once())
    assert calls == ["bad", "good"] and cycle.devices["r1"].up


def test_collector_exports_design_names_and_labels():
    (cycle,) = poll(FakeAgent(agent_mib()))
    latest = LatestReadings(cycle=cycle, probes={
        "r1": ProbeReading("r1", "dinkes", sent=4, received=3, rtt_s=0.002)})
    registry = CollectorRegistry()
    registry.register(PollCollector(latest, inventory))
    # ifAlias says "uplink", but sfp1 is on no inventory link: the link label stays empty.
    labels = {"site": "dinkes", "device": "r1", "interface": "sfp1", "alias": "uplink to sfp1",
              "link": ""}
    get = registry.get_sample_value
    assert get("simpul_interface_receive_bytes_total", labels) == 7000
    assert get("simpul_interface_transmit_bytes_total", labels) == 14000
    assert get("simpul_interface_up", labels) == 1
    assert get("simpul_interface_speed_bits_per_second", labels) == 1e9
    assert get("simpul_device_up", {"site": "dinkes", "device": "r1"}) == 1
    assert get("simpul_probe_loss_ratio", {"site": "dinkes", "device": "r1"}) == 0.25
    assert get("simpul_probe_rtt_seconds", {"site": "dinkes", "device": "r1"}) == 0.002
    assert get("simpul_snmp_poll_duration_seconds") is not None


class FakePortal:
    """The portal figures the hotspot collector reads (PortalFigures), with nothing open."""

    def __init__(self, ctx: object):
        self.ctx = ctx
        self.stats = self

    def session_counts(self) -> dict[str, int]:
        return {}

    def login_totals(self) -> dict[tuple[str, str, str], int]:
        return {}

    def traffic_totals(self) -> dict[str, tuple[int, int]]:
        return {}


def serving_context(tmp_path: Path) -> SimpleNamespace:
    """What `register_collectors` and `poll_loop` read of a running Context."""
    url = f"sqlite:///{tmp_path / 'simpul.db'}"
    migrate(url)
    return SimpleNamespace(
        settings=Settings(poll_interval_s=3600, snmp_timeout_s=0.5, snmp_retries=0),
        inventory=inventory(), secrets=SecretStore({}, {}), shard=ALL, store=Store(url),
        registry=CollectorRegistry(), latest=None, cycle_hooks=[], inventory_problems=[],
        inventory_loaded_at=1.0)


def test_scrape_never_polls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Serve's collectors and poll loop, with every SNMP client of the process a counting
    agent: after the loop's first cycle, scrapes show its readings and send no request."""
    clients: list[FakeAgent] = []

    def counting_client(*args: object, **kwargs: object) -> FakeAgent:
        clients.append(FakeAgent(agent_mib()))
        return clients[-1]

    def requests() -> int:
        return sum(len(client.requests) for client in clients)

    monkeypatch.setattr(exporters.snmp, "PysnmpClient", counting_client)
    monkeypatch.setattr(exporters.loop, "freeze_long_lived", lambda: None)
    ctx = serving_context(tmp_path)
    register_collectors(ctx, portal=lambda: FakePortal(ctx))  # type: ignore[arg-type]

    async def run() -> tuple[int, list[bytes]]:
        polled = asyncio.Event()
        ctx.cycle_hooks.append(lambda cycle: polled.set())
        loop_task = asyncio.create_task(poll_loop(ctx))  # type: ignore[arg-type]
        try:
            await asyncio.wait_for(polled.wait(), 10)
            before = requests()
            pages = []
            for _ in range(3):
                pages.append(generate_latest(ctx.registry))
                await asyncio.sleep(0.05)  # room for anything a scrape may have started
            return requests() - before, pages
        finally:
            loop_task.cancel()
            await asyncio.gather(loop_task, return_exceptions=True)

    requests_during_scrapes, pages = asyncio.run(run())
    ctx.store.dispose()
    assert requests_during_scrapes == 0
    assert len(clients) == 1 and clients[0].requests  # the loop polled through a counting agent
    assert b'simpul_device_up{device="r1",site="dinkes"} 1.0' in pages[-1]


def test_exported_names_are_what_serve_exports(tmp_path: Path):
    """The list is built from describe(); every collector serve registers yields exactly the
    families it describes, and their names are that list."""
    ctx = serving_context(tmp_path)
    register_collectors(ctx, portal=lambda: FakePortal(ctx))  # type: ignore[arg-type]
    (cycle,) = poll(FakeAgent(agent_mib()))
    ctx.latest.cycle = cycle
    served = {name for family in ctx.registry.collect() for name in sample_names(family)}
    ctx.store.dispose()
    assert served == exported_metric_names()
    for collector in COLLECTORS:
        assert [f.samples for f in collector.describe()] == [[] for _ in collector.describe()]
    assert {"simpul_config_push_total", "simpul_hotspot_logins_total",
            "simpul_site_allocation_in_force_bits_per_second", "simpul_inventory_problems",
            "simpul_inventory_loaded_timestamp_seconds"} <= exported_metric_names()


# A NOC, two offices, a kecamatan with a desa. The desa's link is written child first, and
# has a backup straight to the NOC; two offices share a peer link.
LINKED = """
sites:
- {code: noc, name: NOC, kind: noc, @SITE}
- {code: dinkes, name: Dinkes, kind: sopd, @SITE}
- {code: bappeda, name: Bappeda, kind: sopd, @SITE}
- {code: kec, name: Kecamatan, kind: kecamatan, @SITE}
- {code: desa, name: Desa, kind: desa, parent: kec, @SITE}
devices:
- {name: noc-border, site: noc, @DEVICE, mgmt_address: 127.0.201.1}
- {name: noc-dist, site: noc, @DEVICE, mgmt_address: 127.0.201.2}
- {name: dinkes-r1, site: dinkes, @DEVICE, mgmt_address: 127.0.201.3}
- {name: bappeda-r1, site: bappeda, @DEVICE, mgmt_address: 127.0.201.4}
- {name: kec-r1, site: kec, @DEVICE, mgmt_address: 127.0.201.5}
- {name: desa-r1, site: desa, @DEVICE, mgmt_address: 127.0.201.6}
links:
- {a: {device: noc-border, interface: ether1}, b: {provider: ISP}, capacity: 1G, medium: isp}
- {a: {device: noc-border, interface: ether2}, b: {device: noc-dist, interface: ge0},
   capacity: 10G, medium: fiber}
- {a: {device: noc-dist, interface: ge1}, b: {device: dinkes-r1, interface: ether1},
   capacity: 1G, medium: fiber}
- {a: {device: noc-dist, interface: ge2}, b: {device: bappeda-r1, interface: ether1},
   capacity: 1G, medium: fiber}
- {a: {device: noc-dist, interface: ge3}, b: {device: kec-r1, interface: ether1},
   capacity: 1G, medium: fiber}
- {a: {device: desa-r1, interface: wlan0}, b: {device: kec-r1, interface: wlan1},
   capacity: 50M, medium: wireless}
- {a: {device: noc-dist, interface: ge4}, b: {device: desa-r1, interface: ether9},
   capacity: 100M, medium: fiber}
- {a: {device: dinkes-r1, interface: ether5}, b: {device: bappeda-r1, interface: ether5},
   capacity: 1G, medium: fiber}
credential_profiles:
- {name: admin, username: simpul, password_secret: admin_password}
""".replace("@SITE", "address: X, lat: -1.9, lon: 113.7, timezone: Asia/Jakarta, "
                   "contact: {name: A}, allocation: 20M/10M").replace(
    "@DEVICE", "platform: mikrotik_routeros, role: office_router, credentials: admin")


@pytest.fixture
def linked(tmp_path: Path) -> Inventory:
    (tmp_path / "inv").mkdir()
    (tmp_path / "inv" / "all.yaml").write_text(LINKED)
    return load_inventory(tmp_path / "inv")


def test_link_roles_by_hand(linked: Inventory):
    assert link_roles(linked) == {
        ("noc-border", "ether1"): "uplink",     # the NOC's ISP line
        ("noc-dist", "ge1"): "downlink", ("dinkes-r1", "ether1"): "uplink",
        ("noc-dist", "ge2"): "downlink", ("bappeda-r1", "ether1"): "uplink",
        ("noc-dist", "ge3"): "downlink", ("kec-r1", "ether1"): "uplink",
        ("desa-r1", "wlan0"): "uplink", ("kec-r1", "wlan1"): "downlink",  # child written first
        # Not listed: inside the NOC (ether2, ge0), the desa's backup to the NOC (not its
        # parent: ge4, ether9) and the offices' peer link (ether5 at both ends).
    }


def test_interface_metrics_carry_the_link_label(linked: Inventory):
    def iface(index: int, name: str, alias: str) -> InterfaceReading:
        return InterfaceReading(index=index, name=name, alias=alias, in_octets=index,
                                out_octets=index, speed_bps=10**9, oper_up=True)

    kec = DeviceReading(device="kec-r1", site="kec", up=True, interfaces=(
        iface(1, "ether1", ""), iface(2, "wlan1", "uplink: wrong on purpose"), iface(3, "lan", "")))
    cycle = CycleReadings(timestamp=1.0, duration_s=0.1, devices={"kec-r1": kec})
    current = [linked]
    registry = CollectorRegistry()
    registry.register(PollCollector(LatestReadings(cycle=cycle), lambda: current[0]))

    def link_of(interface: str) -> str:
        (sample,) = [s for f in registry.collect() for s in f.samples
                     if s.name == "simpul_interface_receive_bytes_total"
                     and s.labels["interface"] == interface]
        return sample.labels["link"]

    assert [link_of(i) for i in ("ether1", "wlan1", "lan")] == ["uplink", "downlink", ""]
    current[0] = Inventory()  # a reload without the links: the next scrape follows it
    assert [link_of(i) for i in ("ether1", "wlan1", "lan")] == ["", "", ""]


def test_demo_link_roles_are_the_lab_aliases():
    """The demo's figures stay as they were: where the lab's devices say 'uplink: ...' or
    'downlink: ...' in ifAlias (what deploy/ summed before), the link label says the same."""
    from lab.snmp_agents import interfaces_by_device

    demo = load_inventory(ROOT / "inventory")
    roles = link_roles(demo)
    by_alias = {(device, i.name): i.alias.split(":", 1)[0]
                for device, ifaces in interfaces_by_device(demo).items() for i in ifaces
                if i.alias.startswith(("uplink:", "downlink:"))}
    assert roles == by_alias and len(roles) > 50


def test_ifdescr_names_interfaces_when_ifname_is_missing():
    mib = {k: v for k, v in agent_mib().items() if k[: len(IF_NAME)] != IF_NAME}
    mib[(*IF_DESCR, 1)] = b"ether1 (descr)"
    mib[(*IF_DESCR, 7)] = b"sfp1 (descr)"
    agent = FakeAgent(mib)
    (cycle,) = poll(agent)
    names = {i.index: i.name for i in cycle.devices["r1"].interfaces}
    assert names == {1: "ether1 (descr)", 2: "ifIndex2", 7: "sfp1 (descr)"}
    (cycle,) = poll(FakeAgent(agent_mib()))
    assert {i.name for i in cycle.devices["r1"].interfaces} == {"ether1", "ether2", "sfp1"}


def test_open_hours_elapsed_is_local_to_each_hotspot(demo_inventory: Path) -> None:
    """taman-kota (WIB, UTC+7) is open 06:00-22:00 in the demo; hotspots without open hours
    export nothing."""
    from datetime import UTC, datetime

    from exporters.collectors.portal import open_hours_family

    class Ctx:
        inventory = load_inventory(demo_inventory)

    def sample(moment: datetime) -> dict[str, float]:
        family = open_hours_family(Ctx(), moment)  # type: ignore[arg-type]
        return {s.labels["hotspot"]: s.value for s in family.samples}

    # 01:30 UTC = 08:30 WIB: open for 2 h 30 min = 9000 s.
    assert sample(datetime(2026, 11, 27, 1, 30, tzinfo=UTC)) == {"taman-kota": 9000}
    # 15:30 UTC = 22:30 WIB: closed. 22:59:59 UTC = 05:59:59 WIB: not yet open.
    assert sample(datetime(2026, 11, 27, 15, 30, tzinfo=UTC)) == {"taman-kota": 0}
    assert sample(datetime(2026, 11, 27, 22, 59, 59, tzinfo=UTC)) == {"taman-kota": 0}
    assert sample(datetime(2026, 11, 26, 23, 0, tzinfo=UTC)) == {"taman-kota": 0}  # 06:00
