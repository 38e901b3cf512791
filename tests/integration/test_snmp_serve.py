"""`simpul serve` runs the poll and probe loops in the background and /metrics shows their last
readings; scraping /metrics never sends SNMP (the agent's own log says so)."""

from __future__ import annotations

import os
import random
import secrets as pysecrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from lab.snmpd import SnmpdSpec, start_snmpd, stop_snmpd
from tests.conftest import ROOT, free_port
from tests.integration.test_snmp_netns import write_inventory, write_secrets

pytestmark = pytest.mark.integration


def samples(text: str) -> dict[tuple[str, str], float]:
    return {(s.name, s.labels.get("device", "")): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_serve_polls_in_background_and_scrapes_do_not_poll(tmp_path: Path):
    address, port = f"127.{random.randint(100, 250)}.{random.randint(1, 250)}.9", free_port()
    community = pysecrets.token_hex(8)
    agent = start_snmpd(tmp_path / "snmpd", SnmpdSpec(listen=[f"udp:{address}:{port}"],
                                                      communities=[community]))
    inventory = tmp_path / "inventory"
    write_inventory(inventory, [{"name": "r1", "site": "lab", "platform": "linux",
                                 "role": "router", "credentials": "lab", "snmp": "lab-v2c",
                                 "mgmt_address": address, "snmp_port": port}])
    secrets_file = tmp_path / "secrets.yaml"
    write_secrets(secrets_file, {"lab_pw": "x", "lab_community": community,
                                 "lab_auth": "a" * 8, "lab_priv": "p" * 8})
    admin = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "SIMPUL_DATA_DIR": str(tmp_path / "data"),
           "SIMPUL_SECRETS_FILE": str(secrets_file), "SIMPUL_INVENTORY_DIR": str(inventory),
           "SIMPUL_ADMIN_LISTEN": admin, "SIMPUL_PORTAL_LISTEN": f"127.0.0.1:{free_port()}",
           "SIMPUL_POLL_INTERVAL_S": "3600", "SIMPUL_PROBE_INTERVAL_S": "3600"}
    proc = subprocess.Popen([sys.executable, "-m", "controller.cli", "serve"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    log = tmp_path / "snmpd" / "snmpd.log"
    try:
        deadline = time.monotonic() + 60
        seen: dict[tuple[str, str], float] = {}
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                seen = samples(httpx.get(f"http://{admin}/metrics", timeout=5).text)
            except httpx.HTTPError:
                pass
            if ("simpul_device_up", "r1") in seen and ("simpul_probe_loss_ratio", "r1") in seen:
                break
            time.sleep(0.3)
        assert seen.get(("simpul_device_up", "r1")) == 1, seen
        assert seen[("simpul_interface_receive_bytes_total", "r1")] > 0  # lo's counter
        assert seen[("simpul_probe_loss_ratio", "r1")] == 0
        assert ("simpul_snmp_poll_duration_seconds", "") in seen

        requests_before = log.read_text().count("Connection from")
        assert requests_before > 0
        for _ in range(5):
            assert httpx.get(f"http://{admin}/metrics", timeout=5).status_code == 200
        time.sleep(0.5)
        assert log.read_text().count("Connection from") == requests_before
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        stop_snmpd(agent)
