"""simpul_config_drift{device} and simpul_config_push_total{result}, read from the store at
scrape time (drift rows written by controller.drift, pushes by the audit log)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from controller.store.db import Store
from controller.store.models import AuditLog, ConfigDrift

log = logging.getLogger("simpul.drift")


def _families() -> tuple[GaugeMetricFamily, CounterMetricFamily]:
    return (
        GaugeMetricFamily("simpul_config_drift",
                          "1 if the device's running config differs from its intent",
                          labels=["device"]),
        CounterMetricFamily("simpul_config_push", "Config pushes by result", labels=["result"]),
    )


class ConfigCollector(Collector):
    """simpul_config_drift{device} and simpul_config_push_total{result}, read from the store."""

    def __init__(self, store: Store):
        self.store = store

    @staticmethod
    def describe() -> Iterator[Metric]:
        yield from _families()

    def collect(self) -> Iterator[Metric]:
        drift, pushes = _families()
        try:
            with self.store.session() as session:
                rows = session.execute(select(ConfigDrift.device, ConfigDrift.status)).all()
                counts = session.execute(
                    select(AuditLog.result, func.count()).where(AuditLog.action == "config.push")
                    .group_by(AuditLog.result)).all()
        except Exception:  # noqa: BLE001 - a scrape must not fail on a busy store
            log.exception("config metrics unavailable")
            return
        for device, status in rows:
            if status in ("in_sync", "drifted"):
                drift.add_metric([device], 1.0 if status == "drifted" else 0.0)
        for result, count in counts:
            pushes.add_metric([result], float(count))
        yield drift
        yield pushes
