"""`simpul serve` records availability runs live: a real snmpd in a network namespace is the
NOC's border router (ISP link on its data0) and, by a second address, an office's router (its
uplink on data0 too). Taking data0 down makes the ISP link and the site down from interface
state (ifOperStatus); removing the office router's address makes the site down from lost
probes while the ISP link stays up; each recovers when undone. Runs are state changes."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from controller.store.accountability import AvailabilityRun
from controller.store.db import Store
from tests.conftest import free_port
from tests.integration.test_snmp_netns import (  # noqa: F401 (the fixture)
    ROOT,
    SIMPUL,
    SITE,
    Lab,
    netns_lab,
    sh,
    write_secrets,
)

pytestmark = pytest.mark.integration

Run = tuple[str, str, str, int, int]


def write_inventory(directory: Path, border: str, office: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    base = {"platform": "linux", "role": "router", "credentials": "lab", "snmp": "lab-v2c",
            "snmp_port": 161}
    (directory / "inventory.yaml").write_text(yaml.safe_dump({
        "sites": [{**SITE, "code": "noc", "name": "NOC", "kind": "noc"}, SITE],
        "devices": [{**base, "name": "border", "site": "noc", "mgmt_address": border},
                    {**base, "name": "r1", "site": "lab", "mgmt_address": office}],
        "links": [{"name": "isp-lab", "a": {"device": "border", "interface": "data0"},
                   "b": {"provider": "Penyedia Uji"}, "capacity": "100M/100M",
                   "medium": "isp"},
                  {"a": {"device": "r1", "interface": "data0"},
                   "b": {"device": "border", "interface": "lo"}, "capacity": "100M",
                   "medium": "fiber"}],
        "credential_profiles": [{"name": "lab", "username": "u", "password_secret": "lab_pw"}],
        "snmp_profiles": [{"name": "lab-v2c", "version": "v2c",
                           "community_secret": "lab_community"}],
    }))


def runs(store: Store) -> list[Run]:
    with store.session() as session:
        rows = session.execute(select(
            AvailabilityRun.kind, AvailabilityRun.subject, AvailabilityRun.state,
            AvailabilityRun.start_ts, AvailabilityRun.end_ts)
            .order_by(AvailabilityRun.start_ts, AvailabilityRun.id)).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def states(rows: list[Run], kind: str, subject: str) -> list[str]:
    """The subject's run states in order, repeats folded (a gap may start a new run)."""
    out: list[str] = []
    for k, s, state, _a, _b in rows:
        if (k, s) == (kind, subject) and (not out or out[-1] != state):
            out.append(state)
    return out


def wait_for(store: Store, proc: subprocess.Popen[str], check: object,
             timeout: float = 60) -> list[Run]:
    deadline = time.monotonic() + timeout
    rows: list[Run] = []
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            rows = runs(store)
        except Exception:  # the table appears once serve has migrated the store
            rows = []
        if check(rows):  # type: ignore[operator]
            return rows
        time.sleep(0.5)
    raise AssertionError(f"not reached; runs: {rows}")


@pytest.fixture
def serving(netns_lab: Lab, tmp_path: Path) -> Iterator[tuple[Lab, Store, subprocess.Popen[str]]]:  # noqa: F811
    lab = netns_lab
    office = lab.agent_mgmt.rsplit(".", 1)[0] + ".3"
    inventory = tmp_path / "inventory"
    write_inventory(inventory, lab.agent_mgmt, office)
    secrets_file = tmp_path / "secrets.yaml"
    write_secrets(secrets_file, {"lab_pw": "x", "lab_community": lab.community})
    data = tmp_path / "data"
    env = {**os.environ, "SIMPUL_DATA_DIR": str(data), "SIMPUL_SECRETS_FILE": str(secrets_file),
           "SIMPUL_INVENTORY_DIR": str(inventory),
           "SIMPUL_ADMIN_LISTEN": f"127.0.0.1:{free_port()}",
           "SIMPUL_PORTAL_LISTEN": f"127.0.0.1:{free_port()}",
           "SIMPUL_POLL_INTERVAL_S": "1", "SIMPUL_PROBE_INTERVAL_S": "1",
           "SIMPUL_PROBE_COUNT": "2", "SIMPUL_PROBE_TIMEOUT_S": "0.5",
           "SIMPUL_SNMP_TIMEOUT_S": "0.5", "SIMPUL_SNMP_RETRIES": "0",
           "SIMPUL_DOWN_AFTER_SAMPLES": "2", "SIMPUL_DRIFT_INTERVAL_S": "0"}
    proc = subprocess.Popen(["ip", "netns", "exec", lab.mgr, *SIMPUL, "serve"], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            text=True, start_new_session=True)
    store = Store(f"sqlite:///{data / 'simpul.db'}")
    try:
        yield lab, store, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        store.dispose()


def test_interface_down_and_lost_probes_become_down_runs_then_recover(
        serving: tuple[Lab, Store, subprocess.Popen[str]]) -> None:
    lab, store, proc = serving
    office = lab.agent_mgmt.rsplit(".", 1)[0] + ".3"

    def up(kind: str, subject: str) -> object:
        return lambda rows: states(rows, kind, subject) == ["up"]

    wait_for(store, proc, lambda rows: up("link", "isp-lab")(rows) and up("site", "lab")(rows))
    assert {(k, s) for k, s, *_ in runs(store)} == {("link", "isp-lab"), ("site", "lab")}

    # 1. The ISP link's interface (and the office's uplink, the same veth) goes oper-down.
    sh("ip", "link", "set", "data0", "down", ns=lab.agent)
    wait_for(store, proc, lambda rows: states(rows, "link", "isp-lab") == ["up", "down"]
             and states(rows, "site", "lab") == ["up", "down"])
    sh("ip", "link", "set", "data0", "up", ns=lab.agent)
    rows = wait_for(store, proc, lambda rows: states(rows, "link", "isp-lab")
                    == ["up", "down", "up"] and states(rows, "site", "lab") == ["up", "down", "up"])
    down = [r for r in rows if r[:3] == ("link", "isp-lab", "down")]
    assert len(down) == 1 and down[0][4] > down[0][3]
    assert len(rows) <= 8  # state changes, not one row per sample

    # 2. The office router stops answering (its address is gone): every probe is lost.
    sh("ip", "addr", "del", f"{office}/29", "dev", "mg0", ns=lab.agent)
    wait_for(store, proc, lambda rows: states(rows, "site", "lab")[-1] == "down"
             and len(states(rows, "site", "lab")) == 4)
    sh("ip", "addr", "add", f"{office}/29", "dev", "mg0", ns=lab.agent)
    rows = wait_for(store, proc, lambda rows: states(rows, "site", "lab")
                    == ["up", "down", "up", "down", "up"])
    assert states(rows, "link", "isp-lab") == ["up", "down", "up"]  # the border still answered
    site_down = [r for r in rows if r[:3] == ("site", "lab", "down")]
    assert len(site_down) == 2 and all(b > a for *_x, a, b in site_down)
