"""A config push survives its controller: kept in the store, a crash mid-push leaves it marked
interrupted (devices not pushed named, to push again) instead of vanishing."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import paramiko
import pytest

from controller.auth import create_api_token, token_expiry
from controller.devices.host_keys import known_hosts_path, pin_host_key
from controller.store.db import Store, migrate
from controller.store.users import add_user
from tests.conftest import ROOT, free_port, move_device
from tests.integration.test_serve import wait_healthy

pytestmark = pytest.mark.integration


@pytest.fixture
def black_hole() -> Iterator[tuple[str, int]]:
    """A TCP listener that accepts and never speaks: an SSH login to it hangs (a device that
    stalls mid-push), so the push is surely still running when the controller dies."""
    address = f"127.0.{random.randint(100, 250)}.{random.randint(2, 250)}"
    server = socket.socket()
    server.bind((address, 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield address, server.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    server.close()


def start_serve(env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "controller.cli", "serve", "--only", "admin"],
                            cwd=ROOT, env=env, stdout=log.open("a"), stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


def test_a_push_cut_by_a_crash_shows_interrupted_after_restart(
        tmp_path: Path, demo_inventory: Path, demo_secrets: Path,
        black_hole: tuple[str, int]) -> None:
    move_device(demo_inventory, "setwan-r1", *black_hole)

    url = f"sqlite:///{tmp_path / 'data' / 'simpul.db'}"
    (tmp_path / "data").mkdir()
    # Its host key was trusted before it went silent, so the push gets as far as the handshake.
    pin_host_key(known_hosts_path(tmp_path / "data"), "setwan-r1", *black_hole,
                 paramiko.ECDSAKey.generate())
    migrate(url)
    store = Store(url)
    with store.session() as session:
        user = add_user(session, "budi", "kata-sandi-rahasia-1", "operator", actor="test")
        token = create_api_token(session, user, "push-test", actor="test",
                                 expires_at=token_expiry(1))
    store.dispose()
    admin = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "SIMPUL_DATA_DIR": str(tmp_path / "data"),
           "SIMPUL_SECRETS_FILE": str(demo_secrets), "SIMPUL_INVENTORY_DIR": str(demo_inventory),
           "SIMPUL_ADMIN_LISTEN": admin, "SIMPUL_PUSH_STALE_AFTER_S": "4",
           "SIMPUL_DRIFT_INTERVAL_S": "0"}
    headers = {"Authorization": f"Bearer {token}"}
    log = tmp_path / "serve.log"

    proc = start_serve(env, log)
    try:
        wait_healthy(f"http://{admin}/healthz", proc)
        started = httpx.post(f"http://{admin}/api/v1/config/pushes", headers=headers,
                             json={"devices": ["setwan-r1"]}, timeout=10)
        assert started.status_code == 202, started.text
        push = started.json()
        assert not push["done"] and push["results"][0]["status"] == "pending"
        time.sleep(1)  # the push is inside the SSH login to the silent device
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # a crash, not a clean stop
        proc.wait(timeout=10)

    proc = start_serve(env, log)
    try:
        wait_healthy(f"http://{admin}/healthz", proc)
        deadline = time.monotonic() + 30
        while True:
            seen = httpx.get(f"http://{admin}/api/v1/config/pushes/{push['id']}",
                             headers=headers, timeout=10)
            assert seen.status_code == 200, seen.text  # the push outlived its process
            body = seen.json()
            if body["interrupted"] or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert body["interrupted"] and body["done"] and body["finished_at"] is None
        assert [(r["device"], r["status"]) for r in body["results"]] == [
            ("setwan-r1", "interrupted")]
        assert body["counts"] == {"interrupted": 1}
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)
