"""Device health metrics (uptime, CPU, memory, temperature) and interface error counters, from
the latest poll cycle at scrape time; a scrape never polls."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from controller.bandwidth.topology import link_roles
from controller.inventory import Inventory
from exporters.collectors.cycle import PerCycleCollector
from exporters.collectors.poll import IFACE_LABELS
from exporters.state import CycleReadings

DEVICE_LABELS = ["site", "device"]


def _empty_families() -> tuple[Metric, ...]:
    """uptime, cpu, memory used, memory total, temperature, receive errors, transmit errors."""
    return (
        GaugeMetricFamily("simpul_device_uptime_seconds",
                          "Time since the device started (hrSystemUptime, else sysUpTime)",
                          labels=DEVICE_LABELS),
        GaugeMetricFamily("simpul_device_cpu_load_ratio",
                          "CPU busy share: mean hrProcessorLoad (1 min) or cpmCPUTotal5minRev "
                          "(5 min)", labels=DEVICE_LABELS),
        GaugeMetricFamily("simpul_device_memory_used_bytes",
                          "Memory in use (hrStorageRam row, or cpmCPUMemoryUsed)",
                          labels=DEVICE_LABELS),
        GaugeMetricFamily("simpul_device_memory_total_bytes",
                          "Memory size (hrStorageRam row, or cpmCPUMemoryUsed + Free)",
                          labels=DEVICE_LABELS),
        GaugeMetricFamily("simpul_device_temperature_celsius",
                          "Temperature of a sensor (MIKROTIK-MIB mtxrHealth)",
                          labels=[*DEVICE_LABELS, "sensor"]),
        CounterMetricFamily("simpul_interface_receive_errors",
                            "Inbound packets with errors (ifInErrors, 32-bit: wraps)",
                            labels=IFACE_LABELS),
        CounterMetricFamily("simpul_interface_transmit_errors",
                            "Outbound packets not sent for errors (ifOutErrors, 32-bit: wraps)",
                            labels=IFACE_LABELS),
    )


class HealthCollector(PerCycleCollector):
    """Health of every device that answered the last cycle; a device whose MIBs lack a value
    has no sample for it (never a made-up zero)."""

    @staticmethod
    def describe() -> Iterator[Metric]:
        yield from _empty_families()

    @staticmethod
    def cycle_families_described() -> Iterator[Metric]:
        """All of them change once per poll cycle (exporters.exposition caches them)."""
        yield from _empty_families()

    def collect(self) -> Iterator[Metric]:
        yield from self.cycle_families()[1]

    def _build(self, cycle: CycleReadings | None, inventory: Inventory) -> list[Metric]:
        uptime, cpu, used, total, temperature, rx_errors, tx_errors = _empty_families()
        assert isinstance(temperature, GaugeMetricFamily)
        if cycle is not None:
            roles = link_roles(inventory)
            for reading in cycle.devices.values():
                if not reading.up:
                    continue
                labels = [reading.site, reading.device]
                health = reading.health
                if health is not None:
                    for family, value in ((uptime, health.uptime_s),
                                          (cpu, health.cpu_load_ratio),
                                          (used, health.memory_used_bytes),
                                          (total, health.memory_total_bytes)):
                        if value is not None:
                            family.add_metric(labels, value)  # type: ignore[attr-defined]
                    for sensor, celsius in health.temperatures_c:
                        temperature.add_metric([*labels, sensor], celsius)
                for i in reading.interfaces:
                    iface = [*labels, i.name, i.alias, roles.get((reading.device, i.name), "")]
                    if i.in_errors is not None:
                        rx_errors.add_metric(iface, i.in_errors)  # type: ignore[attr-defined]
                    if i.out_errors is not None:
                        tx_errors.add_metric(iface, i.out_errors)  # type: ignore[attr-defined]
        return [uptime, cpu, used, total, temperature, rx_errors, tx_errors]
