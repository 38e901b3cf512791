"""simpul_hotspot_* metrics, read from the store at scrape time (labels: hotspot names only)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from captive_portal.service import Portal


class PortalCollector(Collector):
    def __init__(self, portal: Callable[[], Portal]):
        self._portal = portal

    def collect(self) -> Iterator[Metric]:
        portal = self._portal()
        sessions = GaugeMetricFamily("simpul_hotspot_sessions", "Open captive-portal sessions",
                                     labels=["hotspot"])
        counts = portal.session_counts()
        for name in portal.ctx.inventory.hotspots:
            sessions.add_metric([name], counts.get(name, 0))
        yield sessions
        logins = CounterMetricFamily("simpul_hotspot_logins", "Portal login attempts",
                                     labels=["hotspot", "method", "result"])
        for (hotspot, method, result), value in sorted(portal.login_totals().items()):
            logins.add_metric([hotspot, method, result], value)
        yield logins
        traffic = CounterMetricFamily("simpul_hotspot_client_bytes",
                                      "Bytes carried for portal clients, from gateway counters",
                                      labels=["hotspot", "direction"])
        for hotspot, (up, down) in sorted(portal.traffic_totals().items()):
            traffic.add_metric([hotspot, "up"], up)
            traffic.add_metric([hotspot, "down"], down)
        yield traffic
