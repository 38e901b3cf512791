"""simpul_hotspot_* metrics, read from the store at scrape time (labels: hotspot names only)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from controller.context import Context


class HotspotFigures(Protocol):
    """The portal's figures room (captive_portal.stats.PortalStats)."""

    def session_counts(self) -> Mapping[str, int]: ...

    def login_totals(self) -> Mapping[tuple[str, str, str], int]: ...

    def traffic_totals(self) -> Mapping[str, tuple[int, int]]: ...


class PortalFigures(Protocol):
    """What the hotspot metrics read from the captive portal (captive_portal's Portal)."""

    @property
    def ctx(self) -> Context: ...

    @property
    def stats(self) -> HotspotFigures: ...


def _open_family() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "simpul_hotspot_open_elapsed_seconds",
        "Seconds since the hotspot's open hours (inventory open_hours, local time) began "
        "today; 0 while closed. Only hotspots with open hours", labels=["hotspot", "site"])


def _families() -> tuple[GaugeMetricFamily, CounterMetricFamily, CounterMetricFamily]:
    """Empty families: open sessions, login attempts, client bytes."""
    return (
        GaugeMetricFamily("simpul_hotspot_sessions", "Open captive-portal sessions",
                          labels=["hotspot"]),
        CounterMetricFamily("simpul_hotspot_logins", "Portal login attempts",
                            labels=["hotspot", "method", "result"]),
        CounterMetricFamily("simpul_hotspot_client_bytes",
                            "Bytes carried for portal clients, from gateway counters",
                            labels=["hotspot", "direction"]),
    )


class PortalCollector(Collector):
    """Open sessions, login attempts and client bytes per hotspot, from the portal's store."""

    def __init__(self, portal: Callable[[], PortalFigures]):
        self._portal = portal

    @staticmethod
    def describe() -> Iterator[Metric]:
        yield from _families()
        yield _open_family()

    def collect(self) -> Iterator[Metric]:
        portal = self._portal()
        sessions, logins, traffic = _families()
        counts = portal.stats.session_counts()
        for name in portal.ctx.inventory.hotspots:
            sessions.add_metric([name], counts.get(name, 0))
        yield sessions
        for (hotspot, method, result), value in sorted(portal.stats.login_totals().items()):
            logins.add_metric([hotspot, method, result], value)
        yield logins
        for hotspot, (up, down) in sorted(portal.stats.traffic_totals().items()):
            traffic.add_metric([hotspot, "up"], up)
            traffic.add_metric([hotspot, "down"], down)
        yield traffic
        yield open_hours_family(portal.ctx, datetime.now(UTC))


def open_hours_family(ctx: Context, now: datetime) -> GaugeMetricFamily:
    """simpul_hotspot_open_elapsed_seconds at `now`, in each hotspot's local time."""
    family = _open_family()
    for name, hotspot in ctx.inventory.hotspots.items():
        site = ctx.inventory.sites.get(hotspot.site)
        if hotspot.open_hours is None or site is None:
            continue
        local = now.astimezone(ZoneInfo(site.timezone))
        second = local.hour * 3600 + local.minute * 60 + local.second
        family.add_metric([name, site.code], hotspot.open_elapsed_s(second))
    return family
