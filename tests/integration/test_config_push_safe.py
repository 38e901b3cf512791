"""Safe pushes against the lab's simulated devices (#18): a staged push pauses after its first
devices and a new process continues it; an abort stops the devices not yet started; a push to
a protected site (the hospital) waits until a second operator approves it, the wait goes out
through a real Alertmanager to its webhook (a listener on 127.0.N.x), and the list shows it all.
"""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from controller.cli.deploy import ALERTMANAGER_TEMPLATE, render_alertmanager
from controller.context import Context
from controller.settings import Settings
from controller.store.users import add_user
from tests.conftest import free_port
from tests.integration.config_lab import Lab, config_commands, start_demo_lab
from tests.integration.test_alertmanager import Recorder, binary, secrets, wait_ready
from tests.unit.test_web import log_in

pytestmark = pytest.mark.integration
PASSWORD = "kata-sandi-rahasia-1"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    tmp = tmp_path_factory.mktemp("push-safe-lab")
    lab = start_demo_lab(tmp)
    yield lab
    lab.stop()


def _status(lab: Lab, push_id: int) -> tuple[int, dict]:
    done = lab.simpul("config", "push-status", str(push_id), "--json")
    return done.returncode, json.loads(done.stdout)


def _audit(lab: Lab, target: str) -> list[tuple[str, str, str]]:
    db = sqlite3.connect(lab.root / "data" / "simpul.db")
    try:
        return db.execute("SELECT actor, action, result FROM audit_log WHERE target=? "
                          "ORDER BY id", (target,)).fetchall()
    finally:
        db.close()


def test_a_staged_push_pauses_and_another_process_continues_it(lab: Lab) -> None:
    # Devices go in inventory order: bappeda-r1, dinkes-r1, disdik-r1.
    code, rows = lab.json_lines("config", "push", "dinkes-r1", "disdik-r1", "bappeda-r1",
                                "--yes", "--json", "--stage", "1")
    assert code == 0, rows
    assert [(r["device"], r["status"]) for r in rows] == [("bappeda-r1", "changed")]
    assert config_commands(lab, "bappeda-r1")
    assert config_commands(lab, "dinkes-r1") == [] and config_commands(lab, "disdik-r1") == []
    listed = lab.simpul("config", "pushes", "--json")
    push_id = json.loads(listed.stdout.splitlines()[0])["id"]
    # The pause is in the store: the process that pushed has exited, a new one reads it.
    code, status = _status(lab, push_id)
    assert code == 1 and status["state"] == "paused"
    assert [(d["device"], d["status"]) for d in status["devices"]] == [
        ("bappeda-r1", "changed"), ("dinkes-r1", "pending"), ("disdik-r1", "pending")]

    code, rows = lab.json_lines("config", "push-continue", str(push_id), "--json")
    assert code == 0, rows
    assert [(r["device"], r["status"]) for r in rows] == [("dinkes-r1", "changed"),
                                                          ("disdik-r1", "changed")]
    code, status = _status(lab, push_id)
    assert code == 0 and status["state"] == "done"
    again = lab.simpul("config", "push-continue", str(push_id))
    assert again.returncode == 2 and f"push {push_id} is done, not paused" in again.stderr
    steps = [(a, s) for _, a, s in _audit(lab, f"push:{push_id}")]
    assert steps == [("config.push.request", "running"), ("config.push.pause", "ok"),
                     ("config.push.continue", "ok")]


def test_an_abort_stops_the_devices_not_yet_started(lab: Lab) -> None:
    code, rows = lab.json_lines("config", "push", "bapenda-r1", "setwan-r1", "dishub-r1",
                                "--yes", "--json", "--stage", "1")
    assert code == 0 and [r["device"] for r in rows] == ["setwan-r1"], rows
    push_id = json.loads(lab.simpul("config", "pushes", "--json").stdout.splitlines()[0])["id"]
    stopped = lab.simpul("config", "push-abort", str(push_id))
    assert stopped.returncode == 0, stopped.stderr
    assert "aborted: 2 device(s)" in stopped.stdout
    code, status = _status(lab, push_id)
    assert code == 1 and status["state"] == "aborted"
    assert [(d["device"], d["status"]) for d in status["devices"]] == [
        ("setwan-r1", "changed"), ("bapenda-r1", "aborted"), ("dishub-r1", "aborted")]
    refused = lab.simpul("config", "push-continue", str(push_id))
    assert refused.returncode == 2 and "is aborted, not paused" in refused.stderr
    assert config_commands(lab, "bapenda-r1") == [] and config_commands(lab, "dishub-r1") == []


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """A real Alertmanager on 127.0.N.x, rendered from the shipped template, whose webhook
    (and Telegram) is a recording listener beside it."""
    host = f"127.0.{random.randint(100, 250)}.{random.randint(2, 250)}"
    server = ThreadingHTTPServer((host, free_port(host)), Recorder)
    server.received = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://{host}:{server.server_port}"
    config = yaml.safe_load(render_alertmanager(ALERTMANAGER_TEMPLATE.read_text(),
                                                secrets(f"{base}/hook"), telegram_api_url=base))
    for route in [config["route"], *config["route"]["routes"]]:
        route["group_wait"] = "1s"
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    port = free_port(host)
    log = (tmp_path / "am.log").open("wb")
    proc = subprocess.Popen([binary("alertmanager"), f"--config.file={path}",
                             f"--storage.path={tmp_path / 'am-data'}",
                             f"--web.listen-address={host}:{port}", "--cluster.listen-address="],
                            stdout=log, stderr=log)
    url = f"http://{host}:{port}"
    try:
        wait_ready(url, proc, tmp_path / "am.log")
        yield url, server.received  # type: ignore[attr-defined]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        server.shutdown()


def _wait(client: TestClient, push_id: int) -> dict:
    deadline = time.monotonic() + 120
    while True:
        body: dict = client.get(f"/api/v1/config/pushes/{push_id}").json()
        if body["done"] or body["state"] in ("paused", "awaiting_approval"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.3)


def test_four_eyes_a_protected_site_waits_for_a_second_operator(
        lab: Lab, alertmanager: tuple[str, list[tuple[str, bytes]]]) -> None:
    am_url, received = alertmanager
    settings = Settings(data_dir=lab.root / "data", inventory_dir=lab.root / "inventory",
                        secrets_file=lab.root / "secrets.yaml", allowed_hosts="testserver",
                        alertmanager_url=am_url)
    ctx = Context.open(settings)
    with ctx.store.session() as session:
        add_user(session, "budi", PASSWORD, "operator", actor="test")
        add_user(session, "ani", PASSWORD, "operator", actor="test")
    from controller.web.app import create_admin_app

    try:
        with TestClient(create_admin_app(ctx)) as client:
            csrf = log_in(client, "budi", PASSWORD)
            started = client.post("/api/v1/config/pushes", json={"devices": ["rsud-r1"]},
                                  headers={"X-CSRF-Token": csrf})
            assert started.status_code == 202, started.text
            push = started.json()
            assert push["state"] == "awaiting_approval" and push["protected_sites"] == ["rsud"]
            assert push["results"][0]["status"] == "awaiting_approval"
            time.sleep(1)
            assert config_commands(lab, "rsud-r1") == []  # nothing runs before the approval
            # The wait goes out: Alertmanager holds it and sends it to the webhook.
            deadline = time.monotonic() + 30
            hooks: list[dict] = []
            while not hooks and time.monotonic() < deadline:
                hooks = [a for path, body in list(received) if path == "/hook"
                         for a in json.loads(body)["alerts"]
                         if a["labels"]["alertname"] == "SimpulPushAwaitingApproval"]
                time.sleep(0.3)
            assert hooks and hooks[0]["labels"]["push"] == str(push["id"])
            assert hooks[0]["labels"]["site"] == "rsud" and hooks[0]["status"] == "firing"
            # The requester cannot approve their own push.
            own = client.post(f"/api/v1/config/pushes/{push['id']}/approve",
                              headers={"X-CSRF-Token": csrf})
            assert own.status_code == 403
            assert _wait(client, push["id"])["state"] == "awaiting_approval"

            client.cookies.clear()
            ani_csrf = log_in(client, "ani", PASSWORD)
            assert 'id="approvals-waiting"' in client.get("/").text
            approved = client.post(f"/config/pushes/{push['id']}/approve",
                                   data={"csrf_token": ani_csrf}, follow_redirects=False)
            assert approved.status_code == 303
            body = _wait(client, push["id"])
            assert body["state"] == "done" and body["approved_by"] == "ani", body
            assert [(r["device"], r["status"]) for r in body["results"]] == [
                ("rsud-r1", "changed")]
            assert config_commands(lab, "rsud-r1")
            assert 'id="approvals-waiting"' not in client.get("/").text
            # Resolved in Alertmanager once approved.
            active = httpx.get(f"{am_url}/api/v2/alerts", timeout=5).json()
            assert not [a for a in active
                        if a["labels"]["alertname"] == "SimpulPushAwaitingApproval"]

            # The list shows it first, then the CLI's pushes of the other tests.
            listed = client.get("/api/v1/config/pushes", params={"limit": 3}).json()
            assert listed["items"][0]["id"] == push["id"]
            assert [p["id"] for p in listed["items"]] == sorted(
                (p["id"] for p in listed["items"]), reverse=True)
            page = client.get("/config/pushes").text
            assert f'data-push="{push["id"]}" data-state="done"' in page
    finally:
        ctx.close()
    steps = _audit(lab, f"push:{push['id']}")
    assert steps == [("budi", "config.push.request", "awaiting_approval"),
                     ("budi", "config.push.approve", "refused"),
                     ("ani", "config.push.approve", "ok")]
    assert _audit(lab, "rsud-r1")[-1] == ("budi", "config.push", "changed")


def test_the_cli_leaves_a_protected_push_to_a_second_operator(lab: Lab) -> None:
    done = lab.simpul("config", "push", "bpbd-r1", "--yes", "--json")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "waits for a second operator's approval" in done.stderr
    assert config_commands(lab, "bpbd-r1") == []
