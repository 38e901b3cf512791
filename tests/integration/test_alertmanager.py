"""deploy/alertmanager: the template rendered from secrets passes `amtool check-config`, routes
the shipped rules, and a real Alertmanager (Debian 12's 0.25, on loopback) inhibits a down
site's device alerts, notifies Telegram (a fake Bot API on loopback) and the webhook, and
answers the API the wall reads.

The fake Bot API answers sendMessage as https://core.telegram.org/bots/api#sendmessage
documents: {"ok": true, "result": <Message>}, a Message having message_id, date and chat."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml

from controller.accountability.alerts import alertmanager_alerts
from controller.cli.deploy import ALERTMANAGER_TEMPLATE, RenderError, render_alertmanager
from controller.secrets import SecretStore
from tests.conftest import free_port

pytestmark = pytest.mark.integration
BOT_TOKEN = "123456789:AAF-test_token-for-loopback"
CHAT_ID = -1001234567890


def binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(f"prometheus-{name}")
    if found is None:
        pytest.skip(f"{name} not installed (Debian prometheus-alertmanager; ./test installs it)")
    return found


class Recorder(BaseHTTPRequestHandler):
    """Records POSTs; answers as the Telegram Bot API's sendMessage (or any webhook) does."""

    received: list[tuple[str, bytes]]

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.server.received.append((self.path, body))  # type: ignore[attr-defined]
        answer = json.dumps({"ok": True, "result": {
            "message_id": len(self.server.received),  # type: ignore[attr-defined]
            "date": int(time.time()), "chat": {"id": CHAT_ID, "type": "supergroup"}}}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Recorder)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", server.received  # type: ignore[attr-defined]
    finally:
        server.shutdown()


def secrets(webhook: str) -> SecretStore:
    return SecretStore({"telegram_bot_token": BOT_TOKEN, "telegram_chat_id": str(CHAT_ID),
                        "alertmanager_webhook_url": webhook}, {})


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary("amtool"), *args], capture_output=True, text=True, timeout=60)


def test_the_template_renders_to_a_config_amtool_accepts(tmp_path: Path) -> None:
    template = ALERTMANAGER_TEMPLATE.read_text()
    assert BOT_TOKEN not in template and "@TELEGRAM_BOT_TOKEN@" in template
    unrendered = amtool("check-config", str(ALERTMANAGER_TEMPLATE))
    assert unrendered.returncode != 0  # the placeholder chat id is refused: render it first
    config = tmp_path / "alertmanager.yml"
    config.write_text(render_alertmanager(template, secrets("https://hooks.example.test/am")))
    out = amtool("check-config", str(config))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 inhibit rules" in out.stdout and "2 receivers" in out.stdout
    # Routes: outages go to Telegram and the webhook; every shipped alert reaches Telegram.
    rules = yaml.safe_load((ALERTMANAGER_TEMPLATE.parents[1] / "prometheus" /
                            "simpul-rules.yml").read_text())
    names = [r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r]
    assert {"SimpulSiteDown", "SimpulIspSlaBurn", "SimpulHotspotNoLogins"} <= set(names)
    for name in names:
        routed = amtool("config", "routes", "test", f"--config.file={config}",
                        f"alertname={name}", "site=dinkes")
        assert routed.stdout.split() == ["webhook,telegram-noc"], (name, routed.stdout)


def test_a_bad_secret_is_named_and_nothing_is_written() -> None:
    bad = SecretStore({"telegram_bot_token": BOT_TOKEN, "telegram_chat_id": "grup-noc",
                       "alertmanager_webhook_url": "https://x.test"}, {})
    with pytest.raises(RenderError, match="telegram_chat_id: 'grup-noc' is not an integer"):
        render_alertmanager(ALERTMANAGER_TEMPLATE.read_text(), bad)
    with pytest.raises(RenderError, match="telegram_bot_token"):
        render_alertmanager(ALERTMANAGER_TEMPLATE.read_text(), SecretStore({}, {}))


def _fast(text: str) -> str:
    """The rendered config with group waits of one second, so the test waits seconds."""
    config = yaml.safe_load(text)
    for route in [config["route"], *config["route"]["routes"]]:
        route["group_wait"] = "1s"
    return yaml.safe_dump(config)


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until Alertmanager at `url` says it is ready (its log in the message if it died)."""
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "alertmanager did not start"
        time.sleep(0.2)


def test_a_real_alertmanager_inhibits_notifies_and_answers_the_wall(
        tmp_path: Path, recorder: tuple[str, list[tuple[str, bytes]]]) -> None:
    base, received = recorder
    config = tmp_path / "alertmanager.yml"
    config.write_text(_fast(render_alertmanager(ALERTMANAGER_TEMPLATE.read_text(),
                                                secrets(f"{base}/hook"), telegram_api_url=base)))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "am.log").open("wb")
    proc = subprocess.Popen(
        [binary("alertmanager"), f"--config.file={config}",
         f"--storage.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
         "--cluster.listen-address="],  # no gossip port: loopback only, nothing else bound
        stdout=log, stderr=log)
    try:
        wait_ready(url, proc, tmp_path / "am.log")
        now = datetime.now(UTC)
        alerts = [
            {"labels": {"alertname": "SimpulSiteDown", "site": "dinkes", "severity": "critical"},
             "annotations": {"summary": "Site dinkes is down"}},
            {"labels": {"alertname": "SimpulDeviceDown", "site": "dinkes", "device": "dinkes-r1",
                        "severity": "critical"}, "annotations": {"summary": "dinkes-r1 down"}},
            {"labels": {"alertname": "SimpulDeviceDown", "site": "bappeda",
                        "device": "bappeda-r1", "severity": "critical"},
             "annotations": {"summary": "bappeda-r1 down"}},
        ]
        for alert in alerts:
            alert["startsAt"] = now.isoformat()
            alert["endsAt"] = (now + timedelta(minutes=10)).isoformat()
        assert httpx.post(f"{url}/api/v2/alerts", json=alerts, timeout=5).status_code == 200
        seen: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = alertmanager_alerts(url)
            seen = sorted(a.summary for a in found)
            paths = {path for path, _ in received}
            if seen and {f"/bot{BOT_TOKEN}/sendMessage", "/hook"} <= paths:
                break
            time.sleep(0.5)
        # dinkes-r1 is inhibited by its site being down; bappeda-r1 is not.
        assert seen == ["Site dinkes is down", "bappeda-r1 down"]
        assert [a.severity for a in alertmanager_alerts(url)] == ["critical", "critical"]
        telegram = [body for path, body in received if path == f"/bot{BOT_TOKEN}/sendMessage"]
        hooks = [json.loads(body) for path, body in received if path == "/hook"]
        assert telegram and str(CHAT_ID).encode() in telegram[0]
        names = {a["labels"]["alertname"] + "/" + a["labels"].get("device", "-")
                 for hook in hooks for a in hook["alerts"]}
        assert "SimpulSiteDown/-" in names and "SimpulDeviceDown/dinkes-r1" not in names
    finally:
        proc.terminate()
        proc.wait(timeout=20)
