"""Chaos: the disk under SQLite fills while `simpul serve` runs. Writes (a citizen's login, an
engineer's audited login) fail with a clear 503, never a trace; reads (pages, /healthz,
/metrics, the RFC 8908 API) keep working; once space returns, writes work again.

The data dir is a small tmpfs the test mounts and removes; the inventory is the demo regency
moved to a loopback block of the test's own; the portal runs without gateways (memory)."""

from __future__ import annotations

import errno
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lab.relocate import parse_block, relocate
from tests.conftest import ROOT, free_port, require_root

pytestmark = pytest.mark.integration

TMPFS_SIZE = "24m"


def fill(directory: Path) -> Path:
    """Write a file into `directory` until its file system refuses another byte."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as handle:
        for chunk in (1 << 20, 4096, 1):
            block = b"\0" * chunk
            while True:
                try:
                    handle.write(block)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    return filler


def wait_for(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, "serve exited: " + log.read_text()
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer: " + log.read_text())


@pytest.fixture
def served(tmp_path: Path, demo_secrets: Path) -> Iterator[tuple[str, str, Path]]:
    require_root()
    data = tmp_path / "data"
    data.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0700", "simpul-test",
                    str(data)], check=True)
    inventory = tmp_path / "inventory"
    relocate(ROOT / "inventory", inventory, parse_block(f"127.0.{random.randint(100, 250)}.0/24"),
             ssh_port=free_port(), snmp_port=free_port())
    admin, portal = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")},
           "SIMPUL_DATA_DIR": str(data), "SIMPUL_INVENTORY_DIR": str(inventory),
           "SIMPUL_SECRETS_FILE": str(demo_secrets), "SIMPUL_ADMIN_LISTEN": admin,
           "SIMPUL_PORTAL_LISTEN": portal, "SIMPUL_PORTAL_URL": f"http://{portal}",
           "SIMPUL_PORTAL_GATEWAY": "memory", "SIMPUL_PORTAL_DEMO_HOTSPOT": "pasar-besar",
           "SIMPUL_PROBE_INTERVAL_S": "0", "SIMPUL_POLL_INTERVAL_S": "3600",
           "SIMPUL_INVENTORY_WATCH_INTERVAL_S": "0"}
    log = tmp_path / "serve.log"
    proc = None
    try:
        added = subprocess.run([sys.executable, "-m", "controller.cli", "users", "add", "budi",
                                "--role", "operator", "--password-stdin"], cwd=ROOT, env=env,
                               input="kata-sandi-panjang-1\n", capture_output=True, text=True,
                               timeout=120, check=False)
        assert added.returncode == 0, added.stderr
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "controller.cli", "serve"], cwd=ROOT,
                                    env=env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        wait_for(f"http://{portal}/healthz", proc, log)
        wait_for(f"http://{admin}/healthz", proc, log)
        yield f"http://{admin}", f"http://{portal}", data
        assert proc.poll() is None, "serve died: " + log.read_text()
        assert "Traceback" not in log.read_text()
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        subprocess.run(["umount", "-l", str(data)], check=False)


def sessions(data: Path) -> int:
    with sqlite3.connect(f"file:{data / 'simpul.db'}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT count(*) FROM portal_sessions").fetchone()[0])


def engineer_login(admin: str, password: str) -> httpx.Response:
    """An engineer's login (audited, so it writes), through the login form and its cookie."""
    with httpx.Client(base_url=admin, timeout=30) as web:
        form = web.get("/login")
        assert form.status_code == 200
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        return web.post("/login", data={"username": "budi", "password": password,
                                        "csrf_token": token.group(1)})


def test_full_disk_refuses_writes_cleanly_serves_reads_and_recovers(
        served: tuple[str, str, Path]) -> None:
    admin, portal, data = served
    citizen = httpx.Client(base_url=portal, timeout=30)
    second = httpx.Client(base_url=portal, timeout=30,
                          transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    assert citizen.post("/login/click", data={"accept": "yes"}).status_code == 303
    assert sessions(data) == 1

    # Empty the write-ahead log, so the next write must grow a file, then fill the disk.
    with sqlite3.connect(data / "simpul.db") as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    filler = fill(data)
    try:
        refused = second.post("/login/click", data={"accept": "yes"})
        assert refused.status_code == 503
        assert refused.headers["Retry-After"].isdigit()
        assert "Layanan sedang tidak dapat menyimpan data" in refused.text  # Indonesian first
        assert "Traceback" not in refused.text and "OperationalError" not in refused.text
        english = second.post("/login/click?lang=en", data={"accept": "yes"})
        assert english.status_code == 503
        assert "The service cannot save data right now" in english.text

        audited = engineer_login(admin, "salah")
        assert audited.status_code == 503
        assert "disk is full" in audited.text and "Traceback" not in audited.text

        # Reads go on: pages, health, metrics, and the first citizen's open session.
        assert second.get("/login").status_code == 200
        assert citizen.get("/api/captive").json()["captive"] is False
        assert httpx.get(f"{portal}/healthz", timeout=30).status_code == 200
        assert httpx.get(f"{admin}/healthz", timeout=30).status_code == 200
        metrics = httpx.get(f"{admin}/metrics", timeout=30)
        assert metrics.status_code == 200 and "simpul_hotspot_sessions" in metrics.text
        assert sessions(data) == 1
    finally:
        filler.unlink()

    # Space is back: the same writes now succeed.
    assert second.post("/login/click", data={"accept": "yes"}).status_code == 303
    assert sessions(data) == 2
    assert engineer_login(admin, "salah").status_code == 401
    assert engineer_login(admin, "kata-sandi-panjang-1").status_code == 303
