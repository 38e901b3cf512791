"""Drift results are stored and exported as simpul_config_drift{device}."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from controller.drift import store_results
from controller.jobs import DeviceResult
from controller.store.audit import record
from controller.store.db import Store, migrate
from exporters.collectors import ConfigCollector


def test_drift_stored_and_exported(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'simpul.db'}"
    migrate(url)
    store = Store(url)
    registry = CollectorRegistry()
    registry.register(ConfigCollector(store))
    store_results(store, [DeviceResult("r1", "changed", "+x"), DeviceResult("r2", "unchanged"),
                          DeviceResult("r3", "failed", error="timeout")])
    with store.session() as session:
        record(session, "cli:ana", "config.push", target="r1", result="rolled_back")
        record(session, "cli:ana", "config.push", target="r2", result="changed")
    assert registry.get_sample_value("simpul_config_drift", {"device": "r1"}) == 1.0
    assert registry.get_sample_value("simpul_config_drift", {"device": "r2"}) == 0.0
    assert registry.get_sample_value("simpul_config_drift", {"device": "r3"}) is None
    assert registry.get_sample_value("simpul_config_push_total",
                                     {"result": "rolled_back"}) == 1.0
    store_results(store, [DeviceResult("r1", "unchanged")])
    assert registry.get_sample_value("simpul_config_drift", {"device": "r1"}) == 0.0
    store.dispose()
