"""simpul_portal_tls_cert_expiry_timestamp_seconds: when the portal's HTTPS certificate ends,
read from its file at scrape time (so a renewal shows at once, and a failed one alerts)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


def _family() -> GaugeMetricFamily:
    return GaugeMetricFamily("simpul_portal_tls_cert_expiry_timestamp_seconds",
                             "notAfter of the portal's HTTPS certificate (Unix time)")


class PortalCertificateCollector(Collector):
    """The expiry of SIMPUL_PORTAL_TLS_CERT; no sample when none is configured or readable."""

    def __init__(self, expiry: Callable[[], float | None] | None):
        self._expiry = expiry

    @staticmethod
    def describe() -> Iterator[Metric]:
        yield _family()

    def collect(self) -> Iterator[Metric]:
        family = _family()
        value = self._expiry() if self._expiry is not None else None
        if value is not None:
            family.add_metric([], value)
        yield family
