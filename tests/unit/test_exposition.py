"""/metrics bytes: the poll cycle's part is rendered once per cycle, the live part per scrape,
and the gzip answer is one valid member (issue #17, "Scrape in milliseconds")."""

from __future__ import annotations

import gzip
import zlib

from prometheus_client import Gauge
from prometheus_client.registry import CollectorRegistry

from controller.inventory import Inventory
from exporters.collectors import PollCollector
from exporters.exposition import Exposition, wants_gzip
from exporters.state import CycleReadings, DeviceReading, InterfaceReading, LatestReadings


def cycle(octets: int) -> CycleReadings:
    port = InterfaceReading(index=1, name="ether1", alias="", in_octets=octets,
                            out_octets=2 * octets, speed_bps=10**8, oper_up=True)
    device = DeviceReading(device="r1", site="setda", up=True, interfaces=(port,))
    return CycleReadings(timestamp=1.0, duration_s=0.5, devices={"r1": device})


def setup() -> tuple[LatestReadings, Gauge, Exposition, list[Inventory]]:
    latest = LatestReadings(cycle=cycle(1000))
    inventories = [Inventory()]
    registry = CollectorRegistry()
    poll = PollCollector(latest, lambda: inventories[0])
    registry.register(poll)
    sessions = Gauge("simpul_test_sessions", "live figure", registry=registry)
    return latest, sessions, Exposition(registry, [poll]), inventories


def lines(body: bytes) -> list[str]:
    return [line for line in body.decode().splitlines() if not line.startswith("#")]


def test_the_cycle_part_follows_each_cycle_and_the_live_part_each_scrape() -> None:
    latest, sessions, exposition, inventories = setup()
    labels = 'alias="",device="r1",interface="ether1",link="",site="setda"'
    sessions.set(3)
    first = lines(exposition.render())
    assert f"simpul_interface_receive_bytes_total{{{labels}}} 1000.0" in first
    assert "simpul_test_sessions 3.0" in first

    sessions.set(4)  # a login between scrapes: shown at once
    assert "simpul_test_sessions 4.0" in lines(exposition.render())

    latest.cycle = cycle(5000)  # the next poll cycle
    after = lines(exposition.render())
    assert f"simpul_interface_receive_bytes_total{{{labels}}} 5000.0" in after
    assert f"simpul_interface_transmit_bytes_total{{{labels}}} 10000.0" in after
    # Each family once: the cached part and the live part do not overlap.
    names = [line.split("{")[0].split(" ")[0] for line in after]
    assert names.count("simpul_snmp_poll_duration_seconds") == 1
    assert names.count("simpul_test_sessions") == 1

    inventories[0] = Inventory()  # a reload: the labels are built again from it
    assert lines(exposition.render()) == after


def test_gzip_is_one_member_holding_the_whole_text() -> None:
    _, sessions, exposition, _ = setup()
    for value in (1, 2):
        sessions.set(value)
        plain = exposition.render()
        packed = exposition.render(gzip=True)
        assert gzip.decompress(packed) == plain
        # What httpx and other single-member readers do: the whole text, nothing left over.
        reader = zlib.decompressobj(16 + zlib.MAX_WBITS)
        assert reader.decompress(packed) == plain and reader.eof and not reader.unused_data


def test_accept_encoding() -> None:
    assert wants_gzip("gzip") and wants_gzip("deflate, gzip;q=0.5") and wants_gzip("*")
    assert not wants_gzip("") and not wants_gzip("identity") and not wants_gzip("gzip;q=0")
    assert not wants_gzip("gzip;q=nonsense")
