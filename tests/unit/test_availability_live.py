"""What the live loops sample for availability, on the demo inventory: which subjects a shard
owns, which interfaces count as a site's uplink, and when a sample is bad (hand-written
readings; the links are read off inventory/links.yaml)."""

from __future__ import annotations

from pathlib import Path

from controller.inventory import load_inventory
from controller.shard import Shard
from exporters.availability import interfaces_bad, probes_bad, subjects_of
from exporters.state import CycleReadings, DeviceReading, InterfaceReading, ProbeReading

ROOT = Path(__file__).resolve().parents[2]


def test_subjects_are_the_shards_sites_and_isp_links_with_both_uplink_ends() -> None:
    inventory = load_inventory(ROOT / "inventory")
    whole = subjects_of(inventory, lambda site: True)
    assert "noc" not in whole.site_devices
    assert whole.site_devices["setda"] == ("setda-r1",)
    # links.yaml: noc-border ether1 = isp-telkom, ether2 = isp-lintasarta.
    assert whole.uplinks[("link", "isp-telkom")] == [("noc-border", "ether1")]
    assert whole.uplinks[("link", "isp-lintasarta")] == [("noc-border", "ether2")]
    # setda's uplink: noc-dist Gi1/0/1 -- setda-r1 ether1; a desa's: its kecamatan's ether2.
    assert sorted(whole.uplinks[("site", "setda")]) == [
        ("noc-dist", "GigabitEthernet1/0/1"), ("setda-r1", "ether1")]
    assert sorted(whole.uplinks[("site", "desa-tangkiling")]) == [
        ("desa-tangkiling-r1", "ether1"), ("kec-kahayan-kota-r1", "ether2")]
    # A shard keeps only its own sites, and the ISP links only where the NOC is its own.
    shard = Shard(2, 3)
    part = subjects_of(inventory, shard.owns)
    assert set(part.site_devices) == {s for s in whole.site_devices if shard.owns(s)}
    assert (("link", "isp-telkom") in part.uplinks) == shard.owns("noc")
    assert all(kind == "link" or subject in part.site_devices
               for kind, subject in part.uplinks)


def _cycle(*devices: DeviceReading) -> CycleReadings:
    return CycleReadings(0.0, 0.1, {d.device: d for d in devices})


def _iface(name: str, up: bool | None) -> InterfaceReading:
    return InterfaceReading(1, name, "", 0, 0, None, up)


def test_bad_when_an_uplink_end_is_down_unknown_without_readings() -> None:
    ends = [("a", "ether1"), ("b", "ether2")]
    assert interfaces_bad(ends, None) is None
    up = DeviceReading("a", "s", True, interfaces=(_iface("ether1", True), _iface("x", False)))
    assert interfaces_bad(ends, _cycle(up)) is False          # b not polled; a's end is up
    down = DeviceReading("b", "s", True, interfaces=(_iface("ether2", False),))
    assert interfaces_bad(ends, _cycle(up, down)) is True
    silent = DeviceReading("a", "s", False)
    assert interfaces_bad(ends, _cycle(silent)) is None       # no answer: no evidence
    assert interfaces_bad(ends, _cycle(DeviceReading(
        "a", "s", True, interfaces=(_iface("ether1", None),)))) is None


def test_bad_when_every_echo_of_every_device_is_lost() -> None:
    probes = {"r1": ProbeReading("r1", "s", 3, 0, None), "r2": ProbeReading("r2", "s", 3, 1, 0.01)}
    assert probes_bad(("r1",), probes) is True
    assert probes_bad(("r1", "r2"), probes) is False          # one echo answered: up
    assert probes_bad(("r3",), probes) is None
