"""Interface, device and probe metrics: read from the latest readings at scrape time, so a
scrape never triggers polling."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from controller.bandwidth.topology import link_roles
from controller.inventory import Inventory
from exporters.collectors.cycle import PerCycleCollector
from exporters.state import CycleReadings

IFACE_LABELS = ["site", "device", "interface", "alias", "link"]


def _empty_poll_families() -> tuple[CounterMetricFamily, CounterMetricFamily, GaugeMetricFamily,
                              GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
    """Empty families of one poll cycle: receive, transmit, up, speed, device up, duration."""
    return (
        CounterMetricFamily("simpul_interface_receive_bytes",
                            "Bytes received on an interface (ifHCInOctets)", labels=IFACE_LABELS),
        CounterMetricFamily("simpul_interface_transmit_bytes",
                            "Bytes sent on an interface (ifHCOutOctets)", labels=IFACE_LABELS),
        GaugeMetricFamily("simpul_interface_up",
                          "1 if the interface is operationally up (ifOperStatus)",
                          labels=IFACE_LABELS),
        GaugeMetricFamily("simpul_interface_speed_bits_per_second",
                          "Interface speed (ifHighSpeed)", labels=IFACE_LABELS),
        GaugeMetricFamily("simpul_device_up",
                          "1 if the device answered SNMP in the last poll cycle",
                          labels=["site", "device"]),
        GaugeMetricFamily("simpul_snmp_poll_duration_seconds",
                          "Wall time of the last full SNMP poll cycle"),
    )


def _empty_probe_families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
    return (
        GaugeMetricFamily("simpul_probe_rtt_seconds",
                          "Mean ICMP echo round-trip time in the last probe cycle",
                          labels=["site", "device"]),
        GaugeMetricFamily("simpul_probe_loss_ratio",
                          "Share of ICMP echoes unanswered in the last probe cycle",
                          labels=["site", "device"]),
    )


class PollCollector(PerCycleCollector):
    """Interface, device and probe metrics from the latest readings; a scrape never polls.

    An interface's `link` label is `uplink` or `downlink` from the inventory's links (see
    `controller.bandwidth.topology.link_roles`), '' when it is on no link of another site.
    """

    @staticmethod
    def describe() -> Iterator[Metric]:
        yield from _empty_poll_families()
        yield from _empty_probe_families()

    @staticmethod
    def cycle_families_described() -> Iterator[Metric]:
        """The families that change once per poll cycle (exporters.exposition caches them)."""
        yield from _empty_poll_families()

    def collect(self) -> Iterator[Metric]:
        yield from self.cycle_families()[1]
        yield from self._probe_families()

    def _build(self, cycle: CycleReadings | None, inventory: Inventory) -> list[Metric]:
        return list(self._poll_families(cycle, inventory))

    def _poll_families(self, cycle: CycleReadings | None,
                       inventory: Inventory) -> Iterator[Metric]:
        receive, transmit, iface_up, speed, device_up, duration = _empty_poll_families()
        if cycle is not None:
            roles = link_roles(inventory)
            duration.add_metric([], cycle.duration_s)
            for reading in cycle.devices.values():
                device_up.add_metric([reading.site, reading.device], 1.0 if reading.up else 0.0)
                if not reading.up:
                    continue
                for i in reading.interfaces:
                    labels = [reading.site, reading.device, i.name, i.alias,
                              roles.get((reading.device, i.name), "")]
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
        rtt, loss = _empty_probe_families()
        for probe in self._latest.probes.values():
            loss.add_metric([probe.site, probe.device], probe.loss_ratio)
            if probe.rtt_s is not None:
                rtt.add_metric([probe.site, probe.device], probe.rtt_s)
        yield rtt
        yield loss
