"""Availability beside the rupiah, against hand-computed values, on SQLite and PostgreSQL:
GET /api/v1/availability, the /bandwidth block (Indonesian and English), the SLA report's
downloads, and the public page's ISP links per month. The runs and the arithmetic are those
of test_accountability_sla (October 2026 in WIB: isp-satu 98.777 %, credit Rp 1.000.000)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from controller.accountability.sla import build_sla_report
from controller.accountability.wall import isp_availability_by_month
from controller.context import Context
from controller.settings import Settings
from controller.store.accountability import AvailabilityRun
from controller.store.users import add_user
from controller.web.app import create_admin_app
from tests.integration.test_accountability_sla import SLA_INVENTORY, october_runs
from tests.unit.test_web import log_in

pytestmark = pytest.mark.integration

PASSWORD = "kata-sandi-rahasia-1"


@pytest.fixture
def ctx(store_url: str, tmp_path: Path, demo_secrets: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("SIMPUL_SECRET_ADMIN_PASSWORD", "rahasia-uji")
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "all.yaml").write_text(SLA_INVENTORY)
    settings = Settings(data_dir=tmp_path / "data", inventory_dir=inventory,
                        secrets_file=demo_secrets, allowed_hosts="testserver",
                        database_url=store_url, down_after_samples=3)
    context = Context.open(settings)
    with context.store.session() as session:
        add_user(session, "siti", PASSWORD, "viewer", actor="test")
        session.execute(insert(AvailabilityRun), october_runs())
    yield context
    context.close()


def test_api_and_bandwidth_page_show_the_months_availability(ctx: Context) -> None:
    client = TestClient(create_admin_app(ctx))
    assert client.get("/api/v1/availability?month=2026-10").status_code == 401
    log_in(client, "siti", PASSWORD)
    got = client.get("/api/v1/availability?month=2026-10").json()
    links = {s["code"]: s for s in got["links"]}
    satu = links["isp-satu"]
    # up 2 617 200 s over a base of 2 649 600 s (unknown 6 h, maintenance 2 h out).
    assert (satu["availability_percent"], satu["up_s"], satu["down_s"], satu["unknown_s"],
            satu["maintenance_s"]) == (98.7772, 2_617_200, 32_400, 21_600, 7_200)
    assert (satu["sla_met"], satu["credit_percent"], satu["credit_idr"], satu["zone"]) == (
        False, 10.0, 1_000_000, "WIB")
    assert [(o["start"], o["end"], o["seconds"]) for o in satu["outages"]] == [
        ("2026-10-01 00:00 WIB", "2026-10-01 01:00 WIB", 3_600),
        ("2026-10-17 17:00 WIB", "2026-10-18 02:00 WIB", 32_400)]
    assert links["isp-dua"]["availability_percent"] is None
    assert links["isp-dua"]["sla_met"] is None and links["isp-dua"]["credit_idr"] == 0
    sites = {s["code"]: s for s in got["sites"]}
    assert (sites["a"]["availability_percent"], sites["a"]["unknown_s"]) == (100.0, 1_800)
    assert (sites["b"]["zone"], sites["b"]["down_s"]) == ("WITA", 3_600)
    assert sites["b"]["outages"][0]["start"] == "2026-10-01 00:00 WITA"
    assert sites["a"]["sla_met"] is None and sites["a"]["credit_idr"] is None
    # Links together: only isp-satu has data. Sites: (2 676 600 + 2 674 800) up over
    # 5 355 000 s = 99.93277 %.
    assert (got["links_percent"], got["sites_percent"], got["credit_idr"]) == (
        98.7772, 99.9328, 1_000_000)
    assert got["down_after_samples"] == 3
    assert client.get("/api/v1/availability?month=2026-13").status_code == 422

    page = client.get("/bandwidth?month=2026-10").text          # Indonesian by default
    assert "Ketersediaan dan SLA ISP" in page
    assert '<b id="links-availability">98,78%</b>' in page
    assert '<b id="sla-credit-idr">Rp 1.000.000</b>' in page
    row = page[page.index('id="availability-link-isp-satu"'):]
    row = row[:row.index("</tr>")]
    assert "98,777%" in row and "Tidak terpenuhi" in row and "<td class=\"num\">360</td>" in row
    assert "<td class=\"num\">540</td>" in row and "Rp 1.000.000" in row and "WIB" in row
    assert 'href="/api/v1/reports/sla?month=2026-10&amp;format=csv"' in page
    client.cookies.set("simpul_lang", "en")
    english = client.get("/bandwidth?month=2026-10").text
    assert "Availability and ISP SLA" in english and ">98.78%<" in english
    assert "Missed" in english

    report = client.get("/api/v1/reports/sla?month=2026-10&format=csv")
    assert 'filename="laporan-sla-2026-10.csv"' in report.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(report.text)))
    assert next(r for r in rows if r["kode"] == "isp-satu")["sla_credit_idr"] == "1000000"


def test_public_aggregate_of_the_isp_links_per_month(ctx: Context) -> None:
    now = datetime(2026, 11, 15, 3, 0, tzinfo=UTC)
    months = dict(isp_availability_by_month(ctx, now))
    assert list(months) == ["2026-11", "2026-10", "2026-09", "2026-08", "2026-07", "2026-06"]
    # November so far: up from 11-01 00:00 WIB to the end of the runs, nothing down.
    assert months["2026-11"] == 100.0
    assert months["2026-10"] == pytest.approx(100 * 2_617_200 / 2_649_600)
    # September (WIB ends 09-30 17:00Z): up 09-29 00:00Z-09-30 16:00Z = 144 000 s, down 3 600.
    assert months["2026-09"] == pytest.approx(100 * 144_000 / 147_600)
    assert months["2026-08"] is None


def test_this_month_so_far_ends_now_not_at_the_months_end(ctx: Context) -> None:
    # November in WIB starts 10-31 17:00Z; "now" 11-03 00:00Z: 198 000 s so far, up until
    # the runs end (11-02 00:00Z, 111 600 s), the last 86 400 s without data; the 27 days
    # still to come are not counted as unknown.
    now = int(datetime(2026, 11, 3, tzinfo=UTC).timestamp())
    with ctx.store.session() as session:
        report = build_sla_report(session, ctx.inventory, "2026-11", 3, until_ts=now)
    a = next(s for s in report.links if s.code == "isp-satu").availability
    assert (a.period_s, a.up_s, a.down_s, a.unknown_s) == (198_000, 111_600, 0, 86_400)
