"""Prometheus collectors: they read the latest state at scrape time and never trigger polling."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from controller.inventory import Inventory


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
