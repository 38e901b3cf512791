"""GET /api/v1/series: a store seeded with known rollups gives the points and the allocation
steps written out by hand below (the office's schedule window changes at 07:30 WIB, and an
allocation change takes force at 07:45 WIB)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from controller.context import Context
from controller.settings import Settings
from controller.store.accountability import AllocationChange
from controller.store.bandwidth import Bandwidth1h, Bandwidth5m
from controller.store.users import add_user
from controller.web.app import create_admin_app
from tests.unit.bandwidth_helpers import OFFICE_SCHEDULE, write_mini
from tests.unit.test_web import PASSWORD, log_in

MONDAY = 1793577600  # 2026-11-02 00:00 UTC = Monday 07:00 WIB
WINDOWS = [{"name": "jam-kerja", "days": ["mon", "tue", "wed", "thu", "fri"],
            "times": ["07:30-16:00"], "allocation": "100%"},
           {"name": "luar-jam-kerja", "days": ["mon", "tue", "wed", "thu", "fri"],
            "times": ["00:00-07:30", "16:00-24:00"], "allocation": "30%"},
           {"name": "akhir-pekan", "days": ["sat", "sun"], "times": ["00:00-24:00"],
            "allocation": "5M/2M"}]


@pytest.fixture
def ctx(tmp_path: Path, demo_secrets: Path, monkeypatch: pytest.MonkeyPatch
        ) -> Iterator[Context]:
    """kantor: 20M/10M from October on, 40M/20M from Monday 07:45 WIB; 30% outside
    07:30-16:00 on weekdays, 5M/2M at weekends."""
    monkeypatch.setenv("SIMPUL_SECRET_ADMIN_PASSWORD", "test-only")
    settings = Settings(data_dir=tmp_path / "data", secrets_file=demo_secrets,
                        inventory_dir=write_mini(tmp_path / "inv", schedule=OFFICE_SCHEDULE),
                        allowed_hosts="testserver")
    context = Context.open(settings)
    with context.store.session() as session:
        add_user(session, "siti", PASSWORD, "viewer", actor="test")
        session.execute(delete(AllocationChange))
        session.add_all([
            AllocationChange(site="kantor", at=MONDAY - 40 * 86400, allocation="20M/10M",
                             schedule=WINDOWS, source="initial", actor="test"),
            AllocationChange(site="kantor", at=MONDAY + 45 * 60, allocation="40M/20M",
                             schedule=WINDOWS, source="accept", actor="test")])
        session.add_all([
            # 00:00 UTC: 37.5 MB in, 7.5 MB out over 300 s = 1 Mbit/s, 200 kbit/s
            Bandwidth5m(site="kantor", ts=MONDAY, in_bytes=37_500_000, out_bytes=7_500_000,
                        covered_s=300.0),
            # 00:05 UTC: half the bucket measured: 3.75 MB over 150 s = 200 kbit/s
            Bandwidth5m(site="kantor", ts=MONDAY + 300, in_bytes=3_750_000, out_bytes=0,
                        covered_s=150.0),
            # a bucket of the 1 h range nobody measured is a gap (00:10); an empty row too
            Bandwidth5m(site="kantor", ts=MONDAY + 900, in_bytes=0, out_bytes=0,
                        covered_s=0.0),
            # the hourly row of Sunday 23:00 UTC (Monday 06:00 WIB): 4.5 GB in an hour
            Bandwidth1h(site="kantor", ts=MONDAY - 3600, in_bytes=4_500_000_000,
                        out_bytes=450_000_000, covered_s=3600.0),
            # a 5-minute row in that hour must not leak into the hourly series
            Bandwidth5m(site="kantor", ts=MONDAY - 3600, in_bytes=1, out_bytes=1,
                        covered_s=300.0),
        ])
    yield context
    context.close()


@pytest.fixture
def client(ctx: Context) -> TestClient:
    test_client = TestClient(create_admin_app(ctx))
    log_in(test_client, "siti")
    return test_client


def test_one_hour_from_five_minute_rollups_with_allocation_steps(client: TestClient) -> None:
    body = client.get("/api/v1/series", params={
        "site": "kantor", "range": "1h", "end": MONDAY + 3599}).json()
    assert body["kind"] == "site" and body["unit"] == "bit/s" and body["step_s"] == 300
    assert (body["start"], body["end"]) == (MONDAY, MONDAY + 3600)
    assert body["zone"] == "WIB" and body["timezone"] == "Asia/Jakarta"
    assert body["t"] == [MONDAY + 300 * i for i in range(12)]
    assert body["in_bps"] == [1_000_000.0, 200_000.0] + [None] * 10
    assert body["out_bps"] == [200_000.0, 0.0] + [None] * 10
    # 07:00 WIB outside office hours: 30% of 20M/10M; 07:30 office hours: 20M/10M;
    # 07:45 the accepted 40M/20M (office hours: 100% of it)
    assert body["allocation"] == [
        {"t": MONDAY, "down_bps": 6_000_000, "up_bps": 3_000_000},
        {"t": MONDAY + 1800, "down_bps": 20_000_000, "up_bps": 10_000_000},
        {"t": MONDAY + 2700, "down_bps": 40_000_000, "up_bps": 20_000_000}]


def test_seven_days_from_hourly_rollups(client: TestClient) -> None:
    body = client.get("/api/v1/series", params={
        "site": "kantor", "range": "7d", "end": MONDAY}).json()
    assert body["step_s"] == 3600 and len(body["t"]) == 7 * 24
    # the range ends with the hour that has begun: Monday 00:00 UTC
    assert body["t"][-1] == MONDAY and body["t"][0] == MONDAY - (7 * 24 - 1) * 3600
    # 4.5 GB * 8 / 3600 s = 10 Mbit/s; 0.45 GB: 1 Mbit/s; the 5-minute row is not read
    assert body["in_bps"][-2:] == [10_000_000.0, None]
    assert body["out_bps"][-2] == 1_000_000.0
    assert sum(v is not None for v in body["in_bps"]) == 1
    # The range starts Monday 26 Oct 01:00 UTC = 08:00 WIB, in office hours (20M); then
    # each weekday 16:00 WIB (09:00 UTC) and 07:30 WIB (00:30 UTC); the weekend from
    # Saturday 00:00 WIB (Friday 17:00 UTC); Monday 00:00 WIB (Sunday 17:00 UTC) 30% again.
    # Hours before Monday 2 Nov 00:00 UTC:
    steps = [(s["t"] - MONDAY) / 3600 for s in body["allocation"]]
    assert steps == [-167, -159, -143.5, -135, -119.5, -111, -95.5, -87, -71.5, -63, -55, -7]
    assert [s["down_bps"] // 1_000_000 for s in body["allocation"]] == [
        20, 6, 20, 6, 20, 6, 20, 6, 20, 6, 5, 6]
    assert body["allocation"][-2]["up_bps"] == 2_000_000


def test_bad_requests(client: TestClient, ctx: Context) -> None:
    assert client.get("/api/v1/series", params={"site": "nope"}).status_code == 404
    assert client.get("/api/v1/series", params={"site": "kantor", "range": "2h"}
                      ).status_code == 422
    anonymous = TestClient(create_admin_app(ctx))
    assert anonymous.get("/api/v1/series", params={"site": "kantor"}).status_code == 401


def test_the_endpoint_is_in_the_openapi_document(client: TestClient) -> None:
    schema = client.get("/api/openapi.json").json()
    assert "/api/v1/series" in schema["paths"]
    assert "SeriesOut" in schema["components"]["schemas"]
