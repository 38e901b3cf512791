"""The base of collectors whose families change once per poll cycle (and inventory reload)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from controller.inventory import Inventory
from exporters.state import CycleReadings, LatestReadings


class PerCycleCollector(Collector):
    """Builds its families from the latest cycle and the inventory, once per pair of them:
    both are replaced, never changed, so identity says when to build anew. Scrapes come more
    often than cycles; exporters.exposition also keeps the rendered text per cycle."""

    def __init__(self, latest: LatestReadings, inventory: Callable[[], Inventory]):
        self._latest = latest
        self._inventory = inventory
        self._cached: tuple[CycleReadings | None, Inventory | None, list[Metric]] = (
            None, None, [])

    @staticmethod
    def cycle_families_described() -> Iterator[Metric]:
        """The families `cycle_families` builds, without samples."""
        raise NotImplementedError

    def _build(self, cycle: CycleReadings | None, inventory: Inventory) -> list[Metric]:
        raise NotImplementedError

    def cycle_families(self) -> tuple[tuple[CycleReadings | None, Inventory], list[Metric]]:
        """The cycle's families and the cycle and inventory objects they were built from."""
        cycle, inventory = self._latest.cycle, self._inventory()
        cached_cycle, cached_inventory, families = self._cached
        if cycle is None or cycle is not cached_cycle or inventory is not cached_inventory:
            families = self._build(cycle, inventory)
            self._cached = (cycle, inventory, families)
        return (cycle, inventory), families
