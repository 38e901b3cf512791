"""Pushes as jobs in PostgreSQL (procrastinate), run by `serve --only worker` processes, against
the lab's simulated devices: queue and wait, one device's pushes in turn, SQLite refuses to
queue, and a worker SIGKILLed mid-push whose devices another worker resumes or rolls back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from tests.integration.config_lab import ROOT, Lab, config_commands, start_demo_lab

pytestmark = pytest.mark.integration

ENDED = {"changed", "unchanged", "rolled_back"}
WAIT_S = 240  # generous: a bound on a hang, never a measure


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = start_demo_lab(tmp_path_factory.mktemp("jobs-lab"))
    yield lab
    lab.stop()


@pytest.fixture(scope="module")
def pg_env(lab: Lab, postgres_url: str) -> dict[str, str]:
    """The lab's settings on the test's PostgreSQL, migrated by `simpul db upgrade` (twice:
    it must be idempotent, the job library's schema included)."""
    env = {"SIMPUL_DATABASE_URL": postgres_url, "SIMPUL_DRIFT_INTERVAL_S": "0",
           "SIMPUL_SCHEDULE_PUSH": "false", "SIMPUL_PORTAL_GATEWAY": "memory"}
    for _ in range(2):
        done = lab.simpul("db", "upgrade", env=env)
        assert done.returncode == 0, done.stderr
    with psycopg.connect(_conninfo(postgres_url)) as conn:
        assert conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone() == (
            "procrastinate_jobs",)
    return env


def _conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _devices(lab: Lab) -> list[str]:
    """The lab's SSH-simulated devices outside protected sites (those wait for a 2nd operator)."""
    from controller.inventory import check_inventory

    inventory, _ = check_inventory(Path(lab.env["SIMPUL_INVENTORY_DIR"]))
    return [d.name for d in inventory.devices.values()
            if d.platform != "linux" and not inventory.sites[d.site].protected]


def _worker(lab: Lab, env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
    log = open(lab.root / f"{name}.log", "ab")  # noqa: SIM115 - the child's for its lifetime
    return subprocess.Popen([sys.executable, "-m", "controller.cli", "serve", "--only", "worker"],
                            cwd=ROOT, env={**lab.env, **env, "SIMPUL_LOG_LEVEL": "info"},
                            stdout=log, stderr=log, start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _enqueue(lab: Lab, env: dict[str, str], devices: list[str]) -> int:
    done = lab.simpul("config", "push", *devices, "--yes", "--enqueue", "--json", env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout  # exactly one line, {"id": N}
    body = json.loads(lines[0])
    assert list(body) == ["id"] and isinstance(body["id"], int)
    return int(body["id"])


def _wait(lab: Lab, env: dict[str, str], push_id: int) -> tuple[int, dict]:
    done = subprocess.run([sys.executable, "-m", "controller.cli", "config", "push-status",
                           str(push_id), "--wait", "--json"], cwd=ROOT, env={**lab.env, **env},
                          capture_output=True, text=True, timeout=WAIT_S)
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout.splitlines()[-1])


def test_enqueue_returns_at_once_and_push_status_waits_for_the_workers(
        lab: Lab, pg_env: dict[str, str]) -> None:
    devices = _devices(lab)[:2]
    push_id = _enqueue(lab, pg_env, devices)  # no worker yet: it waits in the queue
    code, status = _wait_briefly(lab, pg_env, push_id)
    assert status["state"] == "running"
    assert [d["status"] for d in status["devices"]] == ["pending", "pending"]
    assert code == 1  # not (yet) all changed or unchanged
    worker = _worker(lab, pg_env, "worker-enqueue")
    try:
        code, status = _wait(lab, pg_env, push_id)
    finally:
        _stop(worker)
    assert status == {"id": push_id, "state": "done",
                      "devices": [{"device": d, "status": "changed", "error": None}
                                  for d in devices]}
    assert code == 0
    assert config_commands(lab, devices[0])  # the device really was configured


def _wait_briefly(lab: Lab, env: dict[str, str], push_id: int) -> tuple[int, dict]:
    done = lab.simpul("config", "push-status", str(push_id), "--json", env=env)
    return done.returncode, json.loads(done.stdout)


def test_two_pushes_to_one_device_run_one_after_the_other(
        lab: Lab, pg_env: dict[str, str], postgres_url: str) -> None:
    device = _devices(lab)[2]
    first = _enqueue(lab, pg_env, [device])
    second = _enqueue(lab, pg_env, [device])
    worker = _worker(lab, {**pg_env, "SIMPUL_PUSH_CONCURRENCY": "4"}, "worker-serial")
    try:
        results = [_wait(lab, pg_env, push_id)[1] for push_id in (first, second)]
    finally:
        _stop(worker)
    # The first changed the device; the second, run after it, found nothing left to do.
    assert [r["devices"][0]["status"] for r in results] == ["changed", "unchanged"]
    with psycopg.connect(_conninfo(postgres_url)) as conn:
        spans = conn.execute(
            "SELECT j.id, min(e.at) FILTER (WHERE e.type = 'started'),"
            "       max(e.at) FILTER (WHERE e.type IN ('succeeded', 'failed'))"
            " FROM procrastinate_jobs j JOIN procrastinate_events e ON e.job_id = j.id"
            " WHERE j.lock = %s GROUP BY j.id ORDER BY j.id", (f"device:{device}",)).fetchall()
    assert len(spans) == 2
    (_, start1, end1), (_, start2, end2) = spans
    assert start1 < end1 <= start2 < end2  # never both at once, and in the order queued


def test_sqlite_refuses_enqueue_and_changes_nothing(lab: Lab) -> None:
    device = _devices(lab)[3]
    before = config_commands(lab, device)
    done = lab.simpul("config", "push", device, "--yes", "--enqueue", "--json")
    assert done.returncode == 2
    assert "--enqueue needs PostgreSQL" in done.stderr and done.stdout == ""
    assert config_commands(lab, device) == before
    listed = lab.simpul("config", "pushes", "--json")
    assert listed.returncode == 0 and listed.stdout == ""  # no push recorded
    worker = lab.simpul("serve", "--only", "worker")
    assert worker.returncode == 2 and "needs PostgreSQL" in worker.stderr


def _running_configs(lab: Lab, names: list[str]) -> dict[str, str]:
    """Each device's running config as the controller reads it (one SSH session each)."""
    from controller.inventory import load_inventory
    from controller.jobs import ConfigJobs
    from controller.secrets import SecretStore

    secrets = SecretStore.load(Path(lab.env["SIMPUL_SECRETS_FILE"]))
    inventory = load_inventory(Path(lab.env["SIMPUL_INVENTORY_DIR"]), secrets)
    jobs = ConfigJobs(inventory, secrets, lab.root / "data")

    def fetch(name: str) -> str:
        device = inventory.devices[name]
        platform, conn = jobs._session(device)
        try:
            return str(platform.fetch(conn, jobs.render(device)))
        finally:
            conn.disconnect()

    with ThreadPoolExecutor(8) as pool:
        return dict(zip(names, pool.map(fetch, names), strict=True))


def _statuses(postgres_url: str, push_id: int) -> dict[str, str]:
    with psycopg.connect(_conninfo(postgres_url)) as conn:
        return dict(conn.execute("SELECT device, status FROM config_push_devices WHERE "
                                 "push_id = %s", (push_id,)).fetchall())


def test_a_worker_killed_mid_push_leaves_no_device_half_configured(
        lab: Lab, pg_env: dict[str, str], postgres_url: str) -> None:
    devices = _devices(lab)[4:24]
    assert len(devices) == 20
    before = _running_configs(lab, devices)
    slow = {**pg_env, "SIMPUL_PUSH_CONCURRENCY": "3"}  # devices in waves: surely mid-push
    worker = _worker(lab, slow, "worker-killed")
    try:
        push_id = _enqueue(lab, pg_env, devices)
        deadline = time.monotonic() + WAIT_S
        # Kill it once some device is done, some waits, and one is inside its apply (the push
        # keeps that device's backup beside its lock until it is saved or rolled back).
        applying: list[Path] = []
        while not applying:
            seen = _statuses(postgres_url, push_id)
            values = list(seen.values())
            if "changed" in values and "pending" in values:
                applying = list((lab.root / "data" / "locks").glob("*.before"))
            assert "pending" in values or "running" in values, f"push ended first: {seen}"
            assert time.monotonic() < deadline, seen
            time.sleep(0.01)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # a crash: no clean stop, no rollback of its own
        worker.wait(timeout=10)
    cut = _statuses(postgres_url, push_id)
    assert "running" in cut.values()  # its jobs were left in flight

    # Not too short: on a starved host the rescuer's own heartbeat may lag a few seconds, and
    # its own jobs must not look stalled.
    rescuer = _worker(lab, {**slow, "SIMPUL_JOB_STALLED_AFTER_S": "8"}, "worker-rescuer")
    try:
        code, status = _wait(lab, pg_env, push_id)  # nobody continues it but the workers
        assert status["state"] == "done", status
        assert {d["status"] for d in status["devices"]} <= ENDED, status
        assert code == (0 if {d["status"] for d in status["devices"]} <= {
            "changed", "unchanged"} else 1)
        after = _running_configs(lab, devices)
        in_sync = lab.json_lines("config", "diff", *devices, "--json", env=pg_env)[1]
        intended = {r["device"] for r in in_sync if r["status"] == "unchanged"}
        for device in devices:  # either as before the push, or as intended: never between
            assert after[device] == before[device] or device in intended, device
        again = _enqueue(lab, pg_env, devices)
        code, status = _wait(lab, pg_env, again)
    finally:
        _stop(rescuer)
    assert code == 0 and {d["status"] for d in status["devices"]} == {"unchanged"}, status
