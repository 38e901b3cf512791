"""The portal's tables on SQLite and a real PostgreSQL: logins, vouchers, codes, accounting."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from captive_portal.errors import PortalError
from captive_portal.gateways.base import Client
from captive_portal.gateways.memory import MemoryGateway
from captive_portal.service import Portal
from captive_portal.sms import OutboxSender
from controller.context import Context
from controller.settings import Settings
from exporters.collectors import PortalCollector
from tests.conftest import pasar_besar_over_ssh

pytestmark = pytest.mark.integration


def test_portal_flows_on_each_database(store_url: str, tmp_path: Path, demo_inventory: Path,
                                       demo_secrets: Path) -> None:
    # Pasar Besar's three login modes over the SSH adapter: the demo runs it over RADIUS,
    # whose sessions the reconciler leaves to the NAS's accounting (test_radius_reconcile).
    pasar_besar_over_ssh(demo_inventory)
    ctx = Context.open(Settings(data_dir=tmp_path / "data", inventory_dir=demo_inventory,
                                database_url=store_url, portal_url="http://portal.test"))
    gateway = MemoryGateway()
    gateway.macs.update({"10.200.12.5": "02:00:00:00:12:05", "10.200.12.6": "02:00:00:00:12:06",
                         "10.200.12.7": "02:00:00:00:12:07"})
    portal = Portal(ctx, gateway_factory=lambda h: gateway,
                    sms_sender=OutboxSender(tmp_path / "outbox.jsonl"))
    try:
        batch = portal.vouchers.create_batch(count=2, duration_s=600, uses=1,
                                            hotspot="pasar-besar", actor="budi")
        first = portal.login.log_in("10.200.12.5", "voucher", voucher_code=batch.codes[0])
        assert 500 < first.seconds_remaining <= 600
        with pytest.raises(PortalError, match="voucher_used"):
            portal.login.log_in("10.200.12.6", "voucher", voucher_code=batch.codes[0])
        portal.login.request_otp("10.200.12.6", "081377778888")
        text = json.loads((tmp_path / "outbox.jsonl").read_text().splitlines()[-1])["text"]
        code = re.search(r"\b(\d{6})\b", text).group(1)  # type: ignore[union-attr]
        portal.login.log_in("10.200.12.6", "phone_otp", phone="081377778888", code=code)
        portal.login.log_in("10.200.12.7", "click_through", accepted_terms=True)
        gateway.bytes[Client("10.200.12.5", "02:00:00:00:12:05")] = (1000, 5000)
        assert portal.accounting.account_and_reap().accounted == 3
        gateway.flush()
        assert portal.reconciler.reconcile().added == 3
        assert portal.accounting.disconnect(first.id, "budi")
        registry = CollectorRegistry()
        registry.register(PortalCollector(lambda: portal))
        assert registry.get_sample_value("simpul_hotspot_sessions",
                                         {"hotspot": "pasar-besar"}) == 2
        assert registry.get_sample_value("simpul_hotspot_client_bytes_total",
                                         {"hotspot": "pasar-besar", "direction": "down"}) == 5000
        assert registry.get_sample_value("simpul_hotspot_logins_total", {
            "hotspot": "pasar-besar", "method": "voucher", "result": "voucher_used"}) == 1
        stats = portal.stats.login_stats(days=1)
        assert sum(r["count"] for r in stats if r["result"] == "ok") == 3
    finally:
        portal.close()
        ctx.close()
