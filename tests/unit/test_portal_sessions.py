"""Sessions without a network: reaper (timeout, quota, idle), reconciler, retention, metrics."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry
from sqlalchemy import select, update

from captive_portal.clock import utcnow
from captive_portal.errors import PortalError
from captive_portal.gateways.base import Client, Grant
from captive_portal.service import Portal
from captive_portal.vouchers import VoucherError
from controller.store.models import AuditLog
from controller.store.portal import PortalSession
from exporters.collectors import PortalCollector
from tests.unit.portal_helpers import Gateways, open_portal

IP, MAC = "10.200.0.40", "02:11:22:33:44:55"
Setup = tuple[Portal, Gateways]


@pytest.fixture
def setup(tmp_path: Path, demo_inventory: Path, demo_secrets: Path) -> tuple[Portal, Gateways]:
    hotspots = yaml.safe_load((demo_inventory / "hotspots.yaml").read_text())
    for hotspot in hotspots["hotspots"]:
        if hotspot["name"] == "taman-kota":
            hotspot["daily_quota"] = {"time": "1h", "bytes": 1000}
            hotspot["session_timeout"] = "2h"
    (demo_inventory / "hotspots.yaml").write_text(yaml.safe_dump(hotspots))
    portal, gateways = open_portal(tmp_path, demo_inventory)
    gateways["taman-kota"].macs[IP] = MAC
    return portal, gateways


def only_session(portal: Portal) -> PortalSession:
    with portal.store.session() as s:
        [row] = list(s.scalars(select(PortalSession)))
        return row


def test_daily_time_quota_caps_the_session_and_timeout_ends_it(setup: Setup) -> None:
    portal, gateways = setup
    view = portal.login.log_in(IP, "click_through", accepted_terms=True)
    assert 3500 < view.seconds_remaining <= 3600  # daily time quota (1h) < session_timeout
    with portal.store.session() as s:
        s.execute(update(PortalSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    report = portal.accounting.account_and_reap()
    assert dict(report.ended) == {"timeout": 1}
    row = only_session(portal)
    assert row.end_reason == "timeout" and row.client_ip is None and row.client_mac is None
    assert gateways["taman-kota"].allowed() == []


def test_byte_quota_from_gateway_counters_ends_session_and_blocks_relogin(setup: Setup) -> None:
    portal, gateways = setup
    portal.login.log_in(IP, "click_through", accepted_terms=True)
    gateway = gateways["taman-kota"]
    gateway.bytes[Client(IP, MAC)] = (300, 400)
    portal.accounting.account_and_reap()
    assert (only_session(portal).bytes_up, only_session(portal).bytes_down) == (300, 400)
    assert portal.stats.traffic_totals()["taman-kota"] == (300, 700 - 300)
    gateway.bytes[Client(IP, MAC)] = (400, 700)
    report = portal.accounting.account_and_reap()
    assert dict(report.ended) == {"quota": 1}
    assert gateway.allowed() == []
    with pytest.raises(PortalError) as refused:
        portal.login.log_in(IP, "click_through", accepted_terms=True)
    assert refused.value.code == "quota_exhausted"


def test_idle_client_is_ended(setup: Setup) -> None:
    portal, gateways = setup
    portal.login.log_in(IP, "click_through", accepted_terms=True)
    with portal.store.session() as s:
        s.execute(update(PortalSession).values(
            last_activity_at=utcnow() - timedelta(minutes=16)))  # idle_timeout 15m
    # A gateway out of reach tells nothing of activity (its clients browse on): not idle yet.
    gateways["taman-kota"].broken = True
    assert dict(portal.accounting.account_and_reap().ended) == {}
    gateways["taman-kota"].broken = False
    assert dict(portal.accounting.account_and_reap().ended) == {"idle": 1}


def test_reconciler_restores_flushed_set_and_drops_strangers(setup: Setup) -> None:
    portal, gateways = setup
    portal.login.log_in(IP, "click_through", accepted_terms=True)
    gateway = gateways["taman-kota"]
    gateway.flush()
    stranger = Client("10.200.0.77", "02:99:99:99:99:99")
    gateway.allow([Grant(stranger, 600)])
    report = portal.reconciler.reconcile()
    assert (report.added, report.removed) == (1, 1)
    assert [a.client for a in gateway.allowed()] == [Client(IP, MAC)]
    assert portal.reconciler.reconcile().added == 0  # converged


def test_unreachable_gateway_is_reported_not_raised(setup: Setup) -> None:
    portal, gateways = setup
    portal.login.log_in(IP, "click_through", accepted_terms=True)
    gateways["taman-kota"].broken = True
    assert portal.reconciler.reconcile().unreachable == ["taman-kota"]
    assert portal.accounting.account_and_reap().unreachable == ["taman-kota"]


def test_engineer_disconnect_is_audited(setup: Setup) -> None:
    portal, gateways = setup
    view = portal.login.log_in(IP, "click_through", accepted_terms=True)
    assert [s.id for s in portal.stats.list_active_sessions("taman-kota")] == [view.id]
    assert portal.accounting.disconnect(view.id, "budi") is True
    assert portal.accounting.disconnect(view.id, "budi") is False
    assert gateways["taman-kota"].allowed() == []
    with portal.store.session() as s:
        entry = s.scalar(select(AuditLog).where(AuditLog.action == "hotspot.disconnect"))
        assert entry is not None and entry.actor == "budi"


def test_retention_deletes_old_ended_sessions(setup: Setup) -> None:
    portal, _ = setup
    view = portal.login.log_in(IP, "click_through", accepted_terms=True)
    portal.accounting.disconnect(view.id, "budi")
    assert portal.accounting.purge_old_records() == 0
    with portal.store.session() as s:
        s.execute(update(PortalSession).values(ended_at=utcnow() - timedelta(days=91)))
    assert portal.accounting.purge_old_records() == 1
    assert portal.stats.list_active_sessions() == []


def test_voucher_batch_validation_names_the_field(setup: Setup) -> None:
    portal, _ = setup
    for kwargs, field in (({"count": 0}, "count"), ({"duration_s": 5}, "duration"),
                          ({"hotspot": "nowhere"}, "hotspot"), ({"batch": "a b"}, "batch")):
        args = {"count": 1, "duration_s": 3600, **kwargs}
        with pytest.raises(VoucherError, match=f"^{field}:"):
            portal.vouchers.create_batch(**args)  # type: ignore[arg-type]
    portal.vouchers.create_batch(count=1, duration_s=3600, batch="b1")
    with pytest.raises(VoucherError, match="already exists"):
        portal.vouchers.create_batch(count=1, duration_s=3600, batch="b1")


def test_metrics_by_name_and_labels_never_carry_client_identity(setup: Setup) -> None:
    portal, gateways = setup
    registry = CollectorRegistry()
    registry.register(PortalCollector(lambda: portal))
    portal.login.log_in(IP, "click_through", accepted_terms=True)
    with pytest.raises(PortalError):
        portal.login.log_in(IP, "click_through", accepted_terms=False)
    gateways["taman-kota"].bytes[Client(IP, MAC)] = (10, 20)
    portal.accounting.account_and_reap()
    assert registry.get_sample_value("simpul_hotspot_sessions", {"hotspot": "taman-kota"}) == 1
    assert registry.get_sample_value("simpul_hotspot_sessions", {"hotspot": "alun-alun"}) == 0
    assert registry.get_sample_value("simpul_hotspot_logins_total", {
        "hotspot": "taman-kota", "method": "click_through", "result": "ok"}) == 1
    assert registry.get_sample_value("simpul_hotspot_logins_total", {
        "hotspot": "taman-kota", "method": "click_through", "result": "terms_not_accepted"}) == 1
    assert registry.get_sample_value("simpul_hotspot_client_bytes_total", {
        "hotspot": "taman-kota", "direction": "down"}) == 20
    from prometheus_client import generate_latest

    exposition = generate_latest(registry).decode()
    assert IP not in exposition and MAC not in exposition


def test_a_client_lookup_uses_an_index_on_every_condition(setup: Setup) -> None:
    """Every page, RFC 8908 answer and login looks a client's session and daily use up. With
    one-column indexes SQLite walked all of a hotspot's sessions and logins slowed as the day's
    sessions grew (bench/portal: p99 from ~30 ms to seconds at 300 logins/s); the plan of each
    lookup must search an index by all its equality conditions."""
    from captive_portal import login

    portal, _ = setup
    # One statement asks both questions (the open session, today's use): each part searches.
    with portal.store.engine.connect() as conn:
        compiled = login._LOOKUP.compile(dialect=conn.dialect)
        values = ("x",) * len(compiled.positiontup or ())
        plan = [str(row[-1]) for row in conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + str(compiled), values)]
    for searched in ("(hotspot=? AND client_ip=?)",
                     "(client_hash=? AND hotspot=? AND started_at>?)"):
        assert any(step.startswith("SEARCH portal_sessions USING") and searched in step
                   for step in plan), plan
