"""Accepting a recommendation: a one-line, audited edit of the inventory that shows up as a
queue change in `simpul config diff` against a simulated RouterOS office router."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from controller.bandwidth.accept import AcceptError, accept_allocation
from controller.inventory import load_inventory
from controller.secrets import SecretStore
from controller.store.bandwidth import Bandwidth5m
from controller.store.db import Store, migrate
from controller.store.models import AuditLog
from controller.units import Allocation
from tests.conftest import ROOT, free_port, move_device
from tests.integration.config_lab import simulated
from tests.integration.test_report_monthly import setwan_month_rows

pytestmark = pytest.mark.integration

M = 1_000_000


def simpul(env: dict[str, str], *args: str, check: bool = True
           ) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "controller.cli", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=180)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_accept_edits_one_line_and_audits(demo_inventory: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    migrate(url)
    store = Store(url)
    sites = demo_inventory / "sites.yaml"
    before = sites.read_text()
    done = accept_allocation(demo_inventory, "setwan", Allocation(10 * M, 5 * M), store=store,
                             actor="engineer1", reason="2026-10: p95 13% of allocation")
    after = sites.read_text()
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True)
               if a != b]
    assert changed == [("  allocation: 30M/15M", "  allocation: 10M/5M")]
    assert load_inventory(demo_inventory).sites["setwan"].allocation == Allocation(10 * M, 5 * M)
    assert "-  allocation: 30M/15M\n+  allocation: 10M/5M\n" in done.diff
    with store.session() as session:
        row = session.scalars(select(AuditLog)).one()
    assert (row.actor, row.action, row.target, row.result) == (
        "engineer1", "bandwidth.accept", "site:setwan", "ok")
    assert row.detail == {"from": "30M/15M", "to": "10M/5M", "file": str(sites),
                          "reason": "2026-10: p95 13% of allocation"}
    assert row.diff == done.diff

    # An allocation the uplinks cannot carry in some window: nothing written (the file is not
    # even touched: the edit is tried on a copy), the problem names the real file, audited.
    mtime = sites.stat().st_mtime_ns
    with pytest.raises(AcceptError, match="more than the uplinks") as refused:
        accept_allocation(demo_inventory, "setwan", Allocation(900 * M, 100 * M), store=store,
                          actor="engineer1")
    assert str(demo_inventory) in str(refused.value) and "simpul-accept" not in str(refused.value)
    assert sites.read_text() == after and sites.stat().st_mtime_ns == mtime
    with store.session() as session:
        failed = session.scalars(select(AuditLog).where(AuditLog.result == "failed")).one()
    assert failed.target == "site:setwan"
    store.dispose()


@pytest.fixture
def setwan_sim(demo_inventory: Path, demo_secrets: Path, tmp_path: Path) -> Iterator[Path]:
    """The demo inventory with setwan-r1 moved to a test address, simulated there."""
    address, port = f"127.0.{random.randint(100, 250)}.2", free_port()
    move_device(demo_inventory, "setwan-r1", address, port)
    inventory = load_inventory(demo_inventory)
    with simulated(inventory, SecretStore.load(demo_secrets), tmp_path / "lab", "setwan-r1"):
        yield demo_inventory


def test_accepted_recommendation_is_a_queue_change_in_config_diff(
        setwan_sim: Path, demo_secrets: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'simpul.db'}"
    migrate(url)
    store = Store(url)
    with store.session() as session:
        session.execute(insert(Bandwidth5m), setwan_month_rows())
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")}
    env.update({"SIMPUL_DATA_DIR": str(tmp_path / "data"), "SIMPUL_DATABASE_URL": url,
                "SIMPUL_INVENTORY_DIR": str(setwan_sim), "SIMPUL_SECRETS_FILE": str(demo_secrets)})
    simpul(env, "devices", "trust", "setwan-r1")
    simpul(env, "config", "push", "setwan-r1", "--yes")
    before = simpul(env, "config", "diff", "setwan-r1")
    assert "setwan-r1: unchanged" in before.stdout, before.stdout

    rec = simpul(env, "bandwidth", "recommend", "--month", "2026-10")
    assert "setwan" in rec.stdout and "reduce" in rec.stdout and "10M/5M" in rec.stdout
    accepted = simpul(env, "bandwidth", "accept", "setwan", "--month", "2026-10",
                      "--actor", "engineer1")
    assert "+  allocation: 10M/5M" in accepted.stdout

    after = simpul(env, "config", "diff", "setwan-r1")
    changed = [line for line in after.stdout.splitlines()
               if line.startswith(("+add", "-add"))]
    # Every queue of the office changes (the schedule scales with the allocation), and
    # nothing else does. RouterOS max-limit is upload/download.
    assert len(changed) == 10, after.stdout
    assert ('-add comment="simpul: allocation 30M/15M" max-limit=15M/30M '
            "name=simpul-allocation target=bridge") in changed
    assert ('+add comment="simpul: allocation 10M/5M" max-limit=5M/10M '
            "name=simpul-allocation target=bridge") in changed
    assert ('+add comment="simpul schedule jam-kerja (WIB, 100%)" max-limit=5M/10M '
            "name=simpul-setwan-jam-kerja target=bridge time=7h30m-16h,mon,tue,wed,thu,fri"
            ) in changed
    with store.session() as session:
        row = session.scalars(select(AuditLog).where(
            AuditLog.action == "bandwidth.accept")).one()
    assert row.actor == "engineer1" and row.result == "ok"
    store.dispose()


def test_the_cli_leaves_a_protected_sites_cut_to_a_second_operator(
        demo_inventory: Path, demo_secrets: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'simpul.db'}"
    migrate(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")}
    env.update({"SIMPUL_DATA_DIR": str(tmp_path / "data"), "SIMPUL_DATABASE_URL": url,
                "SIMPUL_INVENTORY_DIR": str(demo_inventory),
                "SIMPUL_SECRETS_FILE": str(demo_secrets)})
    before = (demo_inventory / "sites.yaml").read_text()
    asked = simpul(env, "bandwidth", "accept", "bpbd", "--month", "2026-10",
                   "--allocation", "10M/5M", "--actor", "budi", check=False)
    assert asked.returncode == 3, asked.stdout + asked.stderr
    assert "waits for a second operator's approval as cut #1" in asked.stderr
    assert (demo_inventory / "sites.yaml").read_text() == before
    with sqlite3.connect(tmp_path / "simpul.db") as db:
        assert db.execute("SELECT site, before, after, requested_by, state FROM "
                          "allocation_approvals").fetchall() == [
            ("bpbd", "20M/10M", "10M/5M", "budi", "awaiting_approval")]
