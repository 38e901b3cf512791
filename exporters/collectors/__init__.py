"""Every Prometheus collector of Simpul (one module per area) and the names they export.

A collector reads plain state at scrape time and never polls. Its `describe()` yields its
families without samples: the registry checks names with it, and `exported_metric_names()`
builds from it the one list that DESIGN.md, deploy/ rules and the dashboard are held to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from prometheus_client.core import Metric

from exporters.collectors.allocation import ScheduledAllocationCollector
from exporters.collectors.config import ConfigCollector
from exporters.collectors.health import HealthCollector
from exporters.collectors.inventory import InventoryCollector, InventoryStateCollector
from exporters.collectors.poll import PollCollector
from exporters.collectors.portal import PortalCollector, PortalFigures
from exporters.collectors.tls import PortalCertificateCollector
from exporters.exposition import Exposition
from exporters.state import latest_readings

if TYPE_CHECKING:
    from controller.context import Context

__all__ = [
    "COLLECTORS", "ConfigCollector", "HealthCollector", "InventoryCollector",
    "InventoryStateCollector",
    "PollCollector", "PortalCertificateCollector", "PortalCollector", "PortalFigures",
    "ScheduledAllocationCollector", "exported_metric_names", "register_collectors", "sample_names",
]

COLLECTORS = (PollCollector, InventoryCollector, ScheduledAllocationCollector,
              InventoryStateCollector, ConfigCollector, PortalCollector,
              PortalCertificateCollector, HealthCollector)

# The samples of a family as PromQL names them (a family without samples has no _created).
_SUFFIXES = {"counter": ("_total",), "info": ("_info",), "summary": ("_sum", "_count"),
             "histogram": ("_bucket", "_sum", "_count")}


def sample_names(family: Metric) -> list[str]:
    """The names PromQL sees for a family: a counter `x` is `x_total`."""
    return [family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",))]


def exported_metric_names() -> frozenset[str]:
    """Every metric name Simpul exports, from the collectors' own descriptions."""
    return frozenset(name for collector in COLLECTORS for family in collector.describe()
                     for name in sample_names(family))


def register_collectors(ctx: Context, portal: Callable[[], PortalFigures],
                        tls_expiry: Callable[[], float | None] | None = None) -> None:
    """Register every collector on the running Context's registry (what /metrics shows);
    `tls_expiry` reads the portal certificate's notAfter."""
    registry = ctx.registry
    registry.register(InventoryCollector(lambda: ctx.inventory))
    registry.register(ScheduledAllocationCollector(lambda: ctx.inventory))
    registry.register(ConfigCollector(ctx.store))
    registry.register(PortalCollector(portal))
    poll = PollCollector(latest_readings(ctx), lambda: ctx.inventory)
    registry.register(poll)
    registry.register(InventoryStateCollector(ctx))
    registry.register(PortalCertificateCollector(tls_expiry))
    health = HealthCollector(latest_readings(ctx), lambda: ctx.inventory)
    registry.register(health)
    ctx.exposition = Exposition(registry, [poll, health])
