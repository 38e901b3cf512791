"""A running `simpul serve` follows inventory edits: valid ones take effect, broken ones are
refused with path:line and the last good inventory stays in force; SIGHUP reloads at once."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from controller.store.db import Store
from controller.store.models import AuditLog
from tests.conftest import ROOT, free_port
from tests.integration.test_serve import interrupt, wait_healthy

pytestmark = pytest.mark.integration

DINKES = 'simpul_site_allocation_bits_per_second{direction="down",site="dinkes"}'


def metric(admin: str, name: str) -> float | None:
    for line in httpx.get(admin + "/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def wait_for(check: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"not seen within {timeout_s:.0f} s: {what}")


def start(tmp_path: Path, demo_secrets: Path, watch_interval: str
          ) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    inventory = tmp_path / "inventory"
    shutil.copytree(ROOT / "inventory", inventory)
    env = {**os.environ, "SIMPUL_DATA_DIR": str(tmp_path / "data"),
           "SIMPUL_SECRETS_FILE": str(demo_secrets), "SIMPUL_INVENTORY_DIR": str(inventory),
           "SIMPUL_ADMIN_LISTEN": f"127.0.0.1:{free_port()}",
           "SIMPUL_INVENTORY_WATCH_INTERVAL_S": watch_interval}
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "controller.cli", "serve", "--only", "admin"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    admin = "http://" + env["SIMPUL_ADMIN_LISTEN"]
    try:
        wait_healthy(admin + "/healthz", proc)
        yield proc, admin, inventory
    finally:
        interrupt(proc)
        log.close()


@pytest.fixture
def watched(tmp_path: Path, demo_secrets: Path) -> Iterator[tuple[subprocess.Popen[str], str,
                                                                   Path]]:
    yield from start(tmp_path, demo_secrets, "0.3")


@pytest.fixture
def hup_only(tmp_path: Path, demo_secrets: Path) -> Iterator[tuple[subprocess.Popen[str], str,
                                                                    Path]]:
    yield from start(tmp_path, demo_secrets, "0")


def test_edits_take_effect_and_broken_ones_are_refused(
        watched: tuple[subprocess.Popen[str], str, Path], tmp_path: Path) -> None:
    _, admin, inventory = watched
    sites = inventory / "sites.yaml"
    original = sites.read_text()
    assert metric(admin, DINKES) == 50e6 and metric(admin, "simpul_inventory_problems") == 0

    sites.write_text(original.replace("  allocation: 50M/25M", "  allocation: 80M/40M", 1))
    wait_for(lambda: metric(admin, DINKES) == 80e6, "dinkes allocation 80M after the edit")

    broken = original.replace("  allocation: 50M/25M", "  allocation: banyak", 1)
    line = broken.splitlines().index("  allocation: banyak") + 1
    sites.write_text(broken)
    wait_for(lambda: (metric(admin, "simpul_inventory_problems") or 0) >= 1,
             "the broken edit counted as a problem")
    assert metric(admin, DINKES) == 80e6  # the last good inventory stays in force
    wait_for(lambda: f"sites.yaml:{line}:" in (tmp_path / "serve.log").read_text(),
             f"the log names sites.yaml:{line}")

    sites.write_text(original)
    wait_for(lambda: metric(admin, DINKES) == 50e6, "dinkes back to 50M once fixed")
    assert metric(admin, "simpul_inventory_problems") == 0

    store = Store(f"sqlite:///{tmp_path / 'data' / 'simpul.db'}")
    with store.session() as session:
        rows = session.scalars(select(AuditLog).where(AuditLog.action == "inventory.reload")
                               .order_by(AuditLog.id)).all()
        results = [r.result for r in rows]
        failed = [r for r in rows if r.result == "failed"]
        assert failed and any(f"sites.yaml:{line}:" in p for p in failed[0].detail["problems"])
    store.dispose()
    assert results[0] == "ok" and "failed" in results and results[-1] == "ok"


def test_sighup_reloads_at_once_without_a_watch_interval(
        hup_only: tuple[subprocess.Popen[str], str, Path]) -> None:
    proc, admin, inventory = hup_only
    sites = inventory / "sites.yaml"
    sites.write_text(sites.read_text().replace("  allocation: 50M/25M", "  allocation: 70M/35M",
                                               1))
    assert metric(admin, DINKES) == 50e6  # no watch interval: nothing reloads by itself
    os.kill(proc.pid, signal.SIGHUP)
    wait_for(lambda: metric(admin, DINKES) == 70e6, "dinkes 70M after SIGHUP")
