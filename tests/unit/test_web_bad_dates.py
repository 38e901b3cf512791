"""Dates and durations at the edge of the calendar are bad input (422), never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from controller.context import Context
from controller.settings import Settings
from controller.store.users import add_user
from controller.web.app import create_admin_app
from tests.unit.test_web import PASSWORD, log_in


@pytest.fixture
def client(tmp_path: Path, demo_inventory: Path, demo_secrets: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "data", inventory_dir=demo_inventory,
                        secrets_file=demo_secrets, allowed_hosts="testserver")
    context = Context.open(settings)
    with context.store.session() as session:
        add_user(session, "budi", PASSWORD, "operator", actor="test")
    yield TestClient(create_admin_app(context), raise_server_exceptions=False)
    context.close()


@pytest.mark.parametrize("path", [
    "/api/v1/bandwidth/recommendations?month=9999-12",
    "/api/v1/reports/monthly?month=9999-12",
    "/api/v1/reports/monthly?month=9999-12&format=csv",
    "/api/v1/bandwidth/stats?on=9999-12-31",
    "/api/v1/bandwidth/stats?period=week&on=9999-12-31",
    "/api/v1/bandwidth/stats?period=month&on=9999-12-01",
    "/bandwidth?month=9999-12",
])
def test_the_last_month_of_the_calendar_is_bad_input(client: TestClient, path: str) -> None:
    log_in(client, "budi")
    response = client.get(path)
    assert response.status_code == 422, response.text


def test_accepting_for_the_last_month_of_the_calendar_is_bad_input(client: TestClient) -> None:
    csrf = log_in(client, "budi")
    api = client.post("/api/v1/bandwidth/accept/setda", json={"month": "9999-12"},
                      headers={"x-csrf-token": csrf})
    assert api.status_code == 422, api.text
    page = client.post("/bandwidth/accept/setda", data={"csrf_token": csrf, "month": "9999-12"})
    assert page.status_code == 422, page.text


@pytest.mark.parametrize("minutes", ["inf", "-inf", "1e308", "nan", "Infinity"])
def test_a_voucher_duration_that_is_no_number_is_bad_input(client: TestClient,
                                                          minutes: str) -> None:
    csrf = log_in(client, "budi")
    response = client.post("/hotspots/vouchers", data={
        "csrf_token": csrf, "hotspot": "alun-alun", "count": "1", "duration_min": minutes})
    assert response.status_code == 422, response.text
    assert "numbers only" in response.text
