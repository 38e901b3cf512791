"""GET /api/v1/series for an ISP link and a device interface, and the graph page, through the
web app on SQLite and PostgreSQL: a store seeded with known interface rollups gives the points
and steps written out by hand below."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from controller.context import Context
from controller.settings import Settings
from controller.store.bandwidth import Interface1h, Interface5m
from controller.store.users import add_user
from tests.unit import test_series_api
from tests.unit.bandwidth_helpers import write_mini
from tests.unit.test_web import PASSWORD

client = test_series_api.client  # a fixture: siti logged in, on this module's ctx
MONDAY = 1793577600  # 2026-11-02 00:00 UTC = Monday 07:00 WIB
CONTRACT = """contracts:
- name: kontrak-uji
  provider: ISP Uji
  link: isp
  capacity: 80M/40M
  monthly_price_idr: 10000000
  sla: 99.5%
"""


@pytest.fixture
def ctx(tmp_path: Path, demo_secrets: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
        ) -> Iterator[Context]:
    """The mini regency (noc-r1 ether1 is the ISP link `isp`, under a contract committing
    80M/40M) with interface rollups of noc-r1 ether1 and kantor-r1 ether1."""
    monkeypatch.setenv("SIMPUL_SECRET_ADMIN_PASSWORD", "test-only")
    inventory = write_mini(tmp_path / "inv")
    (inventory / "contracts.yaml").write_text(CONTRACT)
    settings = Settings(data_dir=tmp_path / "data", secrets_file=demo_secrets,
                        database_url=store_url, inventory_dir=inventory,
                        allowed_hosts="testserver")
    context = Context.open(settings)
    with context.store.session() as session:
        add_user(session, "siti", PASSWORD, "viewer", actor="test")
        session.add_all([
            # the ISP link: 75 MB in, 7.5 MB out over 300 s = 2 Mbit/s, 200 kbit/s
            Interface5m(device="noc-r1", interface="ether1", ts=MONDAY, in_bytes=75_000_000,
                        out_bytes=7_500_000, covered_s=300.0, speed_bps=10**9),
            # kantor-r1 ether1 at 100 Mbit/s: 37.5 MB in, 3.75 MB out = 1 Mbit/s, 100 kbit/s
            Interface5m(device="kantor-r1", interface="ether1", ts=MONDAY, in_bytes=37_500_000,
                        out_bytes=3_750_000, covered_s=300.0, speed_bps=100_000_000),
            # 00:05 nothing (a gap); 00:10 at 1 Gbit/s, half covered: 3.75 MB / 150 s = 200k
            Interface5m(device="kantor-r1", interface="ether1", ts=MONDAY + 600,
                        in_bytes=3_750_000, out_bytes=0, covered_s=150.0, speed_bps=10**9),
            # Sunday 23:00 UTC: 4.5 GB in an hour = 10 Mbit/s, at 100 Mbit/s
            Interface1h(device="kantor-r1", interface="ether1", ts=MONDAY - 3600,
                        in_bytes=4_500_000_000, out_bytes=450_000_000, covered_s=3600.0,
                        speed_bps=100_000_000),
        ])
    yield context
    context.close()


def get(client: TestClient, **params: object) -> dict:  # type: ignore[type-arg]
    response = client.get("/api/v1/series", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_an_interface_hour_with_its_speed_as_steps(client: TestClient) -> None:
    body = get(client, kind="interface", device="kantor-r1", interface="ether1", range="1h",
               end=MONDAY + 3599)
    assert (body["kind"], body["key"], body["interface"], body["limit"]) == (
        "interface", "kantor-r1", "ether1", "speed")
    assert body["zone"] == "WIB" and body["unit"] == "bit/s" and body["step_s"] == 300
    assert body["t"] == [MONDAY + 300 * i for i in range(12)]
    assert body["in_bps"] == [1_000_000.0, None, 200_000.0] + [None] * 9
    assert body["out_bps"] == [100_000.0, None, 0.0] + [None] * 9
    assert body["allocation"] == [
        {"t": MONDAY, "down_bps": 100_000_000, "up_bps": 100_000_000},
        {"t": MONDAY + 600, "down_bps": 1_000_000_000, "up_bps": 1_000_000_000}]


def test_an_interface_week_from_hourly_rows(client: TestClient) -> None:
    body = get(client, kind="interface", device="kantor-r1", interface="ether1", range="7d",
               end=MONDAY)
    assert body["step_s"] == 3600 and body["t"][-1] == MONDAY
    assert body["in_bps"][-2:] == [10_000_000.0, None]   # the 5-minute rows are not read
    assert body["out_bps"][-2] == 1_000_000.0
    # the one speed known holds from the range's start: 7 days before Monday 01:00 UTC
    assert body["allocation"] == [{"t": MONDAY + 3600 - 7 * 86400, "down_bps": 100_000_000,
                                   "up_bps": 100_000_000}]


def test_an_isp_link_against_its_contract(client: TestClient) -> None:
    body = get(client, kind="isp_link", link="isp", range="1h", end=MONDAY + 3599)
    assert (body["key"], body["interface"], body["limit"]) == ("isp", "ether1", "committed")
    assert body["label"] == "ISP Uji: isp"
    assert body["in_bps"][:2] == [2_000_000.0, None] and body["out_bps"][0] == 200_000.0
    assert body["allocation"] == [{"t": MONDAY, "down_bps": 80_000_000,
                                   "up_bps": 40_000_000}]


def test_bad_requests_name_what_is_wrong(client: TestClient) -> None:
    cases = [({"kind": "interface", "device": "kantor-r1"}, 404, "'interface'"),
             ({"kind": "isp_link"}, 404, "'link'"),
             ({"kind": "interface", "device": "nope", "interface": "ether1"}, 404, "nope"),
             ({"kind": "interface", "device": "kantor-r1", "interface": "ether77"}, 404,
              "ether77"),
             ({"kind": "isp_link", "link": "nope"}, 404, "nope"),
             ({"kind": "router"}, 422, "")]
    for params, status, named in cases:
        response = client.get("/api/v1/series", params=params)
        assert response.status_code == status, (params, response.text)
        assert named in response.text
    assert get(client, site="kantor", range="1h")["kind"] == "site"  # the old form still works


def test_graph_pages_and_the_links_to_them(client: TestClient) -> None:
    page = client.get("/graph", params={"kind": "interface", "device": "kantor-r1",
                                        "interface": "ether1", "range": "7d"})
    assert page.status_code == 200
    text = page.text
    # Bahasa Indonesia by default: In/Out/Speed, the zone named in the table's time column
    assert 'data-label-in="Masuk"' in text and 'data-label-out="Keluar"' in text
    assert "Kecepatan (Masuk)" in text and "Waktu (WIB)" in text
    assert 'data-src="/api/v1/series?kind=interface&amp;device=kantor-r1&amp;interface=ether1"' \
        in text
    assert 'href="?kind=interface&amp;device=kantor-r1&amp;interface=ether1&amp;range=30d' in text
    isp = client.get("/graph", params={"kind": "isp_link", "link": "isp"})
    assert isp.status_code == 200 and "Komitmen (kontrak)" in isp.text
    assert "80 Mbit/s / 40 Mbit/s" in isp.text
    assert client.get("/graph", params={"kind": "isp_link", "link": "x"}).status_code == 404
    device = client.get("/devices/kantor-r1").text
    assert '<a href="/graph?kind=interface&amp;device=kantor-r1&amp;interface=ether1">' in device
    noc = client.get("/sites/noc").text
    assert '<a href="/graph?kind=isp_link&amp;link=isp">isp</a>' in noc
