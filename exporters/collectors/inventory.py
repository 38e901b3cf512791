"""Metrics of the inventory in force: each site's allocation, and whether the last reload
(the inventory watcher) was refused and when the inventory in force was loaded."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from controller.inventory import Inventory

if TYPE_CHECKING:
    from controller.context import Context


def _allocation_family() -> GaugeMetricFamily:
    return GaugeMetricFamily("simpul_site_allocation_bits_per_second",
                             "Bandwidth allocated to a site by the inventory",
                             labels=["site", "direction"])


class InventoryCollector(Collector):
    """simpul_site_allocation_bits_per_second{site, direction}, from the inventory."""

    def __init__(self, inventory: Callable[[], Inventory]):
        self._inventory = inventory

    @staticmethod
    def describe() -> Iterator[Metric]:
        yield _allocation_family()

    def collect(self) -> Iterator[Metric]:
        allocation = _allocation_family()
        for site in self._inventory().sites.values():
            allocation.add_metric([site.code, "down"], site.allocation.down_bps)
            allocation.add_metric([site.code, "up"], site.allocation.up_bps)
        yield allocation


def _state_families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
    return (
        GaugeMetricFamily(
            "simpul_inventory_problems",
            "Problems found by the last inventory reload (0: the files on disk are in force)"),
        GaugeMetricFamily("simpul_inventory_loaded_timestamp_seconds",
                          "When the inventory in force was loaded (Unix time)"),
    )


class InventoryStateCollector(Collector):
    """simpul_inventory_problems and simpul_inventory_loaded_timestamp_seconds."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    @staticmethod
    def describe() -> Iterator[Metric]:
        yield from _state_families()

    def collect(self) -> Iterator[Metric]:
        problems, loaded = _state_families()
        problems.add_metric([], len(self.ctx.inventory_problems))
        loaded.add_metric([], self.ctx.inventory_loaded_at)
        yield problems
        yield loaded
