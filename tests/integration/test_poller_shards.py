"""Scale-out: two `simpul serve --only poller --shard i/2` processes share the network by site.

Each serves /metrics on its own listener; together they poll every device exactly once (a real
snmpd answers for all of them), and each polls just the devices of the sites its shard owns.
"""

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
import yaml
from prometheus_client.parser import text_string_to_metric_families

from controller.shard import Shard
from lab.snmpd import SnmpdSpec, start_snmpd, stop_snmpd
from tests.conftest import ROOT, free_port
from tests.integration.test_snmp_netns import SITE, write_secrets

pytestmark = pytest.mark.integration
SITES = [f"kantor{n}" for n in range(1, 7)]


def devices_up(admin: str) -> set[str]:
    text = httpx.get(f"http://{admin}/metrics", timeout=5).text
    return {s.labels["device"] for f in text_string_to_metric_families(text)
            for s in f.samples if s.name == "simpul_device_up" and s.value == 1}


def test_two_poller_shards_poll_every_device_once(tmp_path: Path) -> None:
    prefix = f"127.{random.randint(100, 250)}.{random.randint(1, 250)}"
    port, community = free_port(), pysecrets.token_hex(8)
    addresses = {site: f"{prefix}.{n}" for n, site in enumerate(SITES, start=1)}
    agent = start_snmpd(tmp_path / "snmpd", SnmpdSpec(
        listen=[f"udp:{a}:{port}" for a in addresses.values()], communities=[community]))
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "inventory.yaml").write_text(yaml.safe_dump({
        "sites": [{**SITE, "code": site, "name": f"Kantor {site}"} for site in SITES],
        "devices": [{"name": f"{site}-r1", "site": site, "platform": "linux", "role": "router",
                     "credentials": "lab", "snmp": "lab-v2c", "mgmt_address": address,
                     "snmp_port": port} for site, address in addresses.items()],
        "credential_profiles": [{"name": "lab", "username": "u", "password_secret": "lab_pw"}],
        "snmp_profiles": [{"name": "lab-v2c", "version": "v2c",
                           "community_secret": "lab_community"}],
    }))
    secrets_file = tmp_path / "secrets.yaml"
    write_secrets(secrets_file, {"lab_pw": "x", "lab_community": community})
    procs: dict[str, subprocess.Popen[str]] = {}
    listeners: dict[str, str] = {}
    try:
        for shard in ("1/2", "2/2"):
            listeners[shard] = f"127.0.0.1:{free_port()}"
            env = {**os.environ, "SIMPUL_DATA_DIR": str(tmp_path / "data"),
                   "SIMPUL_SECRETS_FILE": str(secrets_file),
                   "SIMPUL_INVENTORY_DIR": str(inventory),
                   "SIMPUL_ADMIN_LISTEN": listeners[shard], "SIMPUL_POLL_INTERVAL_S": "3600",
                   "SIMPUL_PROBE_INTERVAL_S": "0", "SIMPUL_DRIFT_INTERVAL_S": "0"}
            procs[shard] = subprocess.Popen(
                [sys.executable, "-m", "controller.cli", "serve", "--only", "poller",
                 "--shard", shard], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                stderr=(tmp_path / f"shard{shard[0]}.log").open("w"), text=True,
                start_new_session=True)
        expected = {shard: {f"{site}-r1" for site in SITES if Shard.parse(shard).owns(site)}
                    for shard in listeners}
        assert all(expected.values()), expected  # both shards own some of these sites
        seen: dict[str, set[str]] = {shard: set() for shard in listeners}
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and seen != expected:
            for shard, admin in listeners.items():
                assert procs[shard].poll() is None, (tmp_path / f"shard{shard[0]}.log").read_text()
                try:
                    seen[shard] = devices_up(admin)
                except httpx.HTTPError:
                    pass
            time.sleep(0.5)
        assert seen == expected
        assert seen["1/2"].isdisjoint(seen["2/2"])
        assert seen["1/2"] | seen["2/2"] == {f"{site}-r1" for site in SITES}
        health = httpx.get(f"http://{listeners['2/2']}/healthz", timeout=5).json()
        assert health == {"status": "ok", "listener": "poller", "shard": "2/2"}
        # Nothing of the admin side on a poller's listener.
        assert httpx.get(f"http://{listeners['1/2']}/api/v1/sites", timeout=5).status_code == 404
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
        for proc in procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        stop_snmpd(agent)
