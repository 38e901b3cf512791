"""Four eyes for cuts (#18): a protected site's cut waiting for a second operator goes out on
the alert channel (a real Alertmanager, rendered from the shipped template, whose webhook is
a recording listener), and is resolved once a second operator decides it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from controller.context import Context
from controller.settings import Settings
from controller.store.users import add_user
from controller.web.app import create_admin_app
from tests.integration.test_config_push_safe import alertmanager  # noqa: F401 - fixture
from tests.unit.test_web import PASSWORD, log_in

pytestmark = pytest.mark.integration
ALERT = "SimpulCutAwaitingApproval"


def test_a_waiting_cut_fires_on_the_webhook_and_resolves_when_decided(
        tmp_path: Path, demo_inventory: Path, demo_secrets: Path,
        alertmanager: tuple[str, list[tuple[str, bytes]]]) -> None:  # noqa: F811
    am_url, received = alertmanager
    settings = Settings(data_dir=tmp_path / "data", inventory_dir=demo_inventory,
                        secrets_file=demo_secrets, allowed_hosts="testserver",
                        alertmanager_url=am_url)
    ctx = Context.open(settings)
    with ctx.store.session() as session:
        add_user(session, "budi", PASSWORD, "operator", actor="test")
        add_user(session, "ani", PASSWORD, "operator", actor="test")
    try:
        client = TestClient(create_admin_app(ctx))
        csrf = log_in(client, "budi")
        asked = client.post("/api/v1/bandwidth/accept/bpbd",
                            json={"month": "2026-10", "allocation": "10M/5M"},
                            headers={"X-CSRF-Token": csrf})
        assert asked.status_code == 202, asked.text
        cut = asked.json()["approval"]
        deadline = time.monotonic() + 30
        hooks: list[dict] = []
        while not hooks and time.monotonic() < deadline:
            hooks = [a for path, body in list(received) if path == "/hook"
                     for a in json.loads(body)["alerts"] if a["labels"]["alertname"] == ALERT]
            time.sleep(0.3)
        assert hooks and hooks[0]["status"] == "firing"
        assert hooks[0]["labels"]["approval"] == str(cut) and hooks[0]["labels"]["site"] == "bpbd"
        assert "10M/5M" in hooks[0]["annotations"]["summary"]

        client.cookies.clear()
        ani = log_in(client, "ani")
        done = client.post(f"/api/v1/bandwidth/approvals/{cut}/approve",
                           headers={"X-CSRF-Token": ani})
        assert done.status_code == 200 and done.json()["state"] == "approved", done.text
        active = httpx.get(f"{am_url}/api/v2/alerts", timeout=5).json()
        assert not [a for a in active if a["labels"]["alertname"] == ALERT]
    finally:
        ctx.close()
