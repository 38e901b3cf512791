"""The same report and recommendations in the engineers' app: roles, formats, clear errors,
and accepting a recommendation over the API (operator, CSRF, audited)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from controller.context import Context
from controller.settings import Settings
from controller.store.bandwidth import Bandwidth5m
from controller.store.users import add_user
from controller.web.app import create_admin_app
from tests.integration.test_report_monthly import setwan_month_rows
from tests.unit.test_web import log_in as web_log_in

pytestmark = pytest.mark.integration

PASSWORD = "kata-sandi-rahasia-1"


@pytest.fixture
def client(tmp_path: Path, demo_inventory: Path, demo_secrets: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "data", inventory_dir=demo_inventory,
                        secrets_file=demo_secrets, allowed_hosts="testserver")
    ctx = Context.open(settings)
    with ctx.store.session() as session:
        for name, role in (("budi", "operator"), ("siti", "viewer")):
            add_user(session, name, PASSWORD, role, actor="test")
        session.execute(insert(Bandwidth5m), setwan_month_rows())
    yield TestClient(create_admin_app(ctx))
    ctx.close()


def log_in(client: TestClient, username: str) -> str:
    return web_log_in(client, username, PASSWORD)


def test_monthly_report_in_every_format_for_a_viewer(client: TestClient) -> None:
    assert client.get("/api/v1/reports/monthly?month=2026-10").status_code == 401
    log_in(client, "siti")
    html = client.get("/api/v1/reports/monthly?month=2026-10")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "Sekretariat DPRD" in html.text and "461,9 GB" in html.text
    got = client.get("/api/v1/reports/monthly?month=2026-10&format=csv")
    assert 'filename="laporan-bandwidth-2026-10.csv"' in got.headers["content-disposition"]
    rows = {r["kode_situs"]: r for r in csv.DictReader(io.StringIO(got.text))}
    assert rows["setwan"]["volume_unduh_byte"] == "461925000000"
    pdf = client.get("/api/v1/reports/monthly?month=2026-10&format=pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content[:5] == b"%PDF-"
    own = client.get("/api/v1/reports/monthly?month=2026-10&site=setwan&format=csv")
    assert 'filename="laporan-bandwidth-2026-10-setwan.csv"' in own.headers[
        "content-disposition"]
    assert client.get("/api/v1/reports/monthly?month=2026-10&site=nope").status_code == 404
    bad = client.get("/api/v1/reports/monthly?month=oktober")
    assert bad.status_code == 422 and "query.month" in bad.text
    stats = client.get("/api/v1/bandwidth/stats?period=month&on=2026-10-15&kind=sopd").json()
    setwan = next(s for s in stats if s["site"] == "setwan")
    assert setwan["down"]["p95_bps"] == 4_000_000 and setwan["under_used"] is True
    plan = client.get("/api/v1/bandwidth/recommendations?month=2026-10").json()
    # p95 +25 % is 5M/2M; setwan's floor 2M/1M must hold in its 20 % weekend window: 10M/5M.
    setwan_plan = next(r for r in plan["recommendations"] if r["site"] == "setwan")
    assert {k: setwan_plan[k] for k in ("action", "current", "proposed")} == {
        "action": "reduce", "current": "30M/15M", "proposed": "10M/5M"}
    assert plan["freed"] == "20M/10M"


def test_accept_over_the_api_needs_an_operator_and_csrf(client: TestClient,
                                                         demo_inventory: Path) -> None:
    sites = demo_inventory / "sites.yaml"
    before = sites.read_text()
    csrf = log_in(client, "siti")
    denied = client.post("/api/v1/bandwidth/accept/setwan", json={"month": "2026-10"},
                         headers={"x-csrf-token": csrf})
    assert denied.status_code == 403 and sites.read_text() == before
    client.cookies.clear()
    csrf = log_in(client, "budi")
    no_csrf = client.post("/api/v1/bandwidth/accept/setwan", json={"month": "2026-10"})
    assert no_csrf.status_code == 403 and sites.read_text() == before
    done = client.post("/api/v1/bandwidth/accept/setwan", json={"month": "2026-10"},
                       headers={"x-csrf-token": csrf})
    assert done.status_code == 200, done.text
    assert done.json()["after"] == "10M/5M"
    assert "  allocation: 10M/5M\n" in sites.read_text()
    sites_now = client.get("/api/v1/sites/setwan").json()
    assert sites_now["allocation_down_bps"] == 10_000_000
    keep = client.post("/api/v1/bandwidth/accept/setda", json={"month": "2026-10"},
                       headers={"x-csrf-token": csrf})
    assert keep.status_code == 409 and "no change recommended" in keep.text
