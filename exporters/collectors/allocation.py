"""simpul_site_allocation_in_force_bits_per_second: the allocation a site's schedule gives it
right now (office hours, after hours, weekend, holiday), read at scrape time."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from controller.inventory import Inventory
from controller.schedules import holiday_dates, window_at


class ScheduledAllocationCollector(Collector):
    def __init__(self, inventory: Callable[[], Inventory],
                 clock: Callable[[], float] = time.time):
        self._inventory = inventory
        self._clock = clock

    @staticmethod
    def describe() -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "simpul_site_allocation_in_force_bits_per_second",
            "Bandwidth allocated to a site now, by its schedule window ('' = its own)",
            labels=["site", "direction", "window"])

    def collect(self) -> Iterator[Metric]:
        (gauge,) = self.describe()
        inventory = self._inventory()
        holidays = holiday_dates(inventory)
        now = self._clock()
        for site in inventory.sites.values():
            window = window_at(site, now, holidays)
            alloc = site.allocation_during(window)
            name = window.name if window else ""
            gauge.add_metric([site.code, "down", name], alloc.down_bps)
            gauge.add_metric([site.code, "up", name], alloc.up_bps)
        yield gauge
