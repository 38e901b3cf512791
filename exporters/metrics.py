"""Prometheus collectors: they read the latest state at scrape time and never trigger polling."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from controller.inventory import Inventory
from exporters.state import CycleReadings, LatestReadings

# Every metric Simpul exports (DESIGN.md, Metrics), as PromQL names it. deploy/ rules and the
# dashboard may only use these; tests/integration/test_deploy.py checks both lists.
SIMPUL_METRICS = frozenset({
    "simpul_interface_receive_bytes_total", "simpul_interface_transmit_bytes_total",
    "simpul_interface_up", "simpul_interface_speed_bits_per_second",
    "simpul_device_up", "simpul_probe_rtt_seconds", "simpul_probe_loss_ratio",
    "simpul_site_allocation_bits_per_second",
    "simpul_hotspot_sessions", "simpul_hotspot_logins_total", "simpul_hotspot_client_bytes_total",
    "simpul_config_drift", "simpul_config_push_total",
    "simpul_snmp_poll_duration_seconds",
})


class InventoryCollector(Collector):
    """simpul_site_allocation_bits_per_second{site, direction}, from the inventory."""

    def __init__(self, inventory: Callable[[], Inventory]):
        self._inventory = inventory

    def collect(self) -> Iterator[Metric]:
        allocation = GaugeMetricFamily(
            "simpul_site_allocation_bits_per_second",
            "Bandwidth allocated to a site by the inventory",
            labels=["site", "direction"],
        )
        for site in self._inventory().sites.values():
            allocation.add_metric([site.code, "down"], site.allocation.down_bps)
            allocation.add_metric([site.code, "up"], site.allocation.up_bps)
        yield allocation


class PollCollector(Collector):
    """Interface, device and probe metrics from the latest readings; a scrape never polls."""

    def __init__(self, latest: LatestReadings):
        self._latest = latest
        self._cached: tuple[CycleReadings | None, list[Metric]] = (None, [])

    def collect(self) -> Iterator[Metric]:
        cycle = self._latest.cycle
        cached_cycle, families = self._cached
        if cycle is None or cycle is not cached_cycle:
            # Readings change once per cycle; scrapes come more often. Build once per cycle.
            families = list(self._poll_families(cycle))
            self._cached = (cycle, families)
        yield from families
        yield from self._probe_families()

    def _poll_families(self, cycle: CycleReadings | None) -> Iterator[Metric]:
        iface_labels = ["site", "device", "interface", "alias"]
        receive = CounterMetricFamily(
            "simpul_interface_receive_bytes", "Bytes received on an interface (ifHCInOctets)",
            labels=iface_labels)
        transmit = CounterMetricFamily(
            "simpul_interface_transmit_bytes", "Bytes sent on an interface (ifHCOutOctets)",
            labels=iface_labels)
        iface_up = GaugeMetricFamily(
            "simpul_interface_up", "1 if the interface is operationally up (ifOperStatus)",
            labels=iface_labels)
        speed = GaugeMetricFamily(
            "simpul_interface_speed_bits_per_second", "Interface speed (ifHighSpeed)",
            labels=iface_labels)
        device_up = GaugeMetricFamily(
            "simpul_device_up", "1 if the device answered SNMP in the last poll cycle",
            labels=["site", "device"])
        duration = GaugeMetricFamily(
            "simpul_snmp_poll_duration_seconds", "Wall time of the last full SNMP poll cycle")
        if cycle is not None:
            duration.add_metric([], cycle.duration_s)
            for reading in cycle.devices.values():
                device_up.add_metric([reading.site, reading.device], 1.0 if reading.up else 0.0)
                if not reading.up:
                    continue
                for i in reading.interfaces:
                    labels = [reading.site, reading.device, i.name, i.alias]
                    if i.in_octets is not None:
                        receive.add_metric(labels, i.in_octets)
                    if i.out_octets is not None:
                        transmit.add_metric(labels, i.out_octets)
                    if i.oper_up is not None:
                        iface_up.add_metric(labels, 1.0 if i.oper_up else 0.0)
                    if i.speed_bps is not None:
                        speed.add_metric(labels, i.speed_bps)
        yield from (receive, transmit, iface_up, speed, device_up)
        if cycle is not None:
            yield duration

    def _probe_families(self) -> Iterator[Metric]:
        rtt = GaugeMetricFamily("simpul_probe_rtt_seconds",
                                "Mean ICMP echo round-trip time in the last probe cycle",
                                labels=["site", "device"])
        loss = GaugeMetricFamily("simpul_probe_loss_ratio",
                                 "Share of ICMP echoes unanswered in the last probe cycle",
                                 labels=["site", "device"])
        for probe in self._latest.probes.values():
            loss.add_metric([probe.site, probe.device], probe.loss_ratio)
            if probe.rtt_s is not None:
                rtt.add_metric([probe.site, probe.device], probe.rtt_s)
        yield rtt
        yield loss
