"""Config engine against the lab: netmiko's real RouterOS and IOS drivers, the ssh_sim devices.

render -> diff -> push -> push again (unchanged, no config commands), rollback with the
device's own error text, a template error that sends nothing, backups and drift.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.integration.config_lab import ROOT, Lab, config_commands, start_demo_lab

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    tmp = tmp_path_factory.mktemp("config-lab")
    lab = start_demo_lab(tmp)
    yield lab
    lab.stop()


def _export(lab: Lab, device: str) -> str:
    """The device's config as netmiko sees it, without the export's timestamp header."""
    conn = lab.connect(device)
    try:
        text = conn.send_command("/export show-sensitive", expect_string=r"\] > ?$")
    finally:
        conn.disconnect()
    return "\n".join(line for line in text.splitlines()
                     if not line.startswith("#") and "] >" not in line)


def _templates_with(lab: Lab, name: str, template: str, lines: str) -> Path:
    """A copy of templates/ (for SIMPUL_TEMPLATES_DIR) where `template` ends with `lines`."""
    templates = lab.root / name
    shutil.copytree(ROOT / "templates", templates)
    path = templates / template
    path.write_text(path.read_text().rstrip("\n") + "\n" + lines)
    return templates


def _audit_rows(lab: Lab, device: str) -> list[tuple[str, str]]:
    db = sqlite3.connect(lab.root / "data" / "simpul.db")
    try:
        return db.execute("SELECT actor, result FROM audit_log WHERE action='config.push' "
                          "AND target=? ORDER BY id", (device,)).fetchall()
    finally:
        db.close()


def test_routeros_push_then_unchanged(lab: Lab) -> None:
    done = lab.simpul("config", "render", "setda-r1")
    assert done.returncode == 0, done.stderr
    assert "set name=setda-r1" in done.stdout
    code, rows = lab.json_lines("config", "diff", "setda-r1", "--json")
    assert code == 0 and rows[0]["status"] == "changed"
    assert "+set name=setda-r1" in rows[0]["diff"]

    code, rows = lab.json_lines("config", "push", "setda-r1", "--yes", "--json")
    assert code == 0, rows
    assert rows == [{"device": "setda-r1", "status": "changed", "diff": rows[0]["diff"],
                     "error": None}]
    assert "simpul-allocation" in rows[0]["diff"]
    sent_first = len(config_commands(lab, "setda-r1"))
    assert sent_first > 5

    code, rows = lab.json_lines("config", "push", "setda-r1", "--yes", "--json")
    assert code == 0 and rows[0]["status"] == "unchanged" and rows[0]["diff"] == ""
    assert len(config_commands(lab, "setda-r1")) == sent_first  # nothing sent the 2nd time

    history = lab.simpul("config", "history", "setda-r1").stdout.splitlines()
    assert len(history) == 2, history  # "before push" and "push"; the 2nd push commits nothing
    assert "push" in history[0] and "before push" in history[1]
    backup = lab.simpul("config", "history", "setda-r1", "--show", history[0].split()[0]).stdout
    assert "set name=setda-r1" in backup
    secrets = yaml.safe_load((lab.root / "secrets.yaml").read_text())
    assert secrets["snmp_community"] not in backup and "********" in backup
    assert [r[1] for r in _audit_rows(lab, "setda-r1")] == ["changed", "unchanged"]


def test_ios_push_then_unchanged_and_saved(lab: Lab) -> None:
    code, rows = lab.json_lines("config", "push", "noc-core", "--yes", "--json")
    assert code == 0 and rows[0]["status"] == "changed", rows
    assert "+ hostname noc-core" in rows[0]["diff"]
    code, rows = lab.json_lines("config", "push", "noc-core", "--yes", "--json")
    assert code == 0 and rows[0]["status"] == "unchanged", rows
    state = (lab.state_dir / "ssh_sim" / "noc-core.json").read_text()
    assert "hostname noc-core" in state  # written to startup-config by `write mem`


def test_rejected_command_rolls_back_to_the_backup(lab: Lab) -> None:
    templates = _templates_with(lab, "bad-templates", "mikrotik_routeros/office_router.j2",
                                "add comment=simpul-bad max-limit=lots name=simpul-bad "
                                "target={{ vars.lan_interface }}\n")
    before = _export(lab, "bappeda-r1")
    code, rows = lab.json_lines("config", "push", "bappeda-r1", "--yes", "--json",
                                env={"SIMPUL_TEMPLATES_DIR": str(templates)})
    assert code == 1
    assert rows[0]["status"] == "rolled_back"
    assert "value of max-limit out of range" in rows[0]["error"]  # the device's own words
    assert "max-limit=lots" in rows[0]["error"]
    assert _export(lab, "bappeda-r1") == before
    assert [r[1] for r in _audit_rows(lab, "bappeda-r1")] == ["rolled_back"]
    # the device is back on its backup, which still lacks the intent: drifted, at once
    assert _drift_state(lab, "bappeda-r1")[0] == "drifted"


def test_template_error_sends_nothing(lab: Lab) -> None:
    templates = lab.root / "broken-templates"
    shutil.copytree(ROOT / "templates", templates)
    office = templates / "mikrotik_routeros" / "office_router.j2"
    office.write_text(office.read_text() + "{{ vars.undefined_thing }}\n")
    line = len(office.read_text().splitlines())
    before = config_commands(lab, "setwan-r1")
    code, rows = lab.json_lines("config", "push", "setwan-r1", "--yes", "--json",
                                env={"SIMPUL_TEMPLATES_DIR": str(templates)})
    assert code == 1 and rows[0]["status"] == "failed"
    assert f"office_router.j2:{line}: device 'setwan-r1'" in rows[0]["error"]
    assert "undefined_thing" in rows[0]["error"]
    assert config_commands(lab, "setwan-r1") == before


def test_push_refuses_without_tty_or_yes(lab: Lab) -> None:
    done = lab.simpul("config", "push", "dinkes-r1")
    assert done.returncode == 2 and "--yes" in done.stderr
    assert config_commands(lab, "dinkes-r1") == []


def test_drift_detected_and_stored(lab: Lab) -> None:
    code, rows = lab.json_lines("config", "push", "disdik-r1", "--yes", "--json")
    assert rows[0]["status"] == "changed"
    code, rows = lab.json_lines("config", "drift", "disdik-r1", "--json")
    assert code == 0 and rows[0]["status"] == "unchanged"
    # an engineer changes the router by hand
    conn = lab.connect("disdik-r1")
    conn.send_command('/queue simple set [ find name=simpul-allocation ] max-limit=1M/1M',
                      expect_string=r"\] > ?$")
    conn.disconnect()
    code, rows = lab.json_lines("config", "drift", "disdik-r1", "--json")
    assert rows[0]["status"] == "changed" and "max-limit=1M/1M" in rows[0]["diff"]
    assert _drift_state(lab, "disdik-r1") == ("drifted", rows[0]["diff"])
    # a push records the drift state its own verify step saw: in sync without waiting for
    # the next drift round (#18: the device page, /api/v1/drift and the metric read this)
    code, rows = lab.json_lines("config", "push", "disdik-r1", "--yes", "--json")
    assert rows[0]["status"] == "changed"
    assert _drift_state(lab, "disdik-r1") == ("in_sync", None)


def _drift_state(lab: Lab, device: str) -> tuple[str, str | None]:
    db = sqlite3.connect(lab.root / "data" / "simpul.db")
    try:
        return db.execute("SELECT status, diff FROM config_drift WHERE device=?",
                          (device,)).fetchone()
    finally:
        db.close()


def test_ios_rejected_command_rolls_back(lab: Lab) -> None:
    templates = _templates_with(lab, "bad-ios-templates", "cisco_ios/distribution.j2",
                                "ntp server not-an-address\n")
    code, rows = lab.json_lines("config", "diff", "noc-dist", "--json")
    assert rows[0]["status"] == "changed"
    code, rows = lab.json_lines("config", "push", "noc-dist", "--yes", "--json",
                                env={"SIMPUL_TEMPLATES_DIR": str(templates)})
    assert code == 1 and rows[0]["status"] == "rolled_back", rows
    assert "% Invalid input detected at '^' marker." in rows[0]["error"]
    assert "ntp server not-an-address" in rows[0]["error"]
    # nothing of the failed push is left: the real intent still shows the whole change
    code, rows = lab.json_lines("config", "diff", "noc-dist", "--json")
    assert rows[0]["status"] == "changed" and "+ hostname noc-dist" in rows[0]["diff"]


def _ios_running(lab: Lab, device: str) -> list[str]:
    """The switch's running-config as an engineer reads it, as a sorted list of its commands
    (each with its sub-commands): IOS prints them in an order of its own, which the simulator
    does not keep, and the change timestamps differ."""
    from netmiko import ConnectHandler

    secrets = yaml.safe_load((lab.root / "secrets.yaml").read_text())
    devices = yaml.safe_load((lab.root / "inventory" / "devices.yaml").read_text())["devices"]
    entry = next(d for d in devices if d["name"] == device)
    port = yaml.safe_load((lab.root / "inventory" / "defaults.yaml").read_text())[
        "defaults"]["devices"]["mgmt_port"]
    conn = ConnectHandler(device_type="cisco_ios", host=entry["mgmt_address"], port=port,
                          username="simpul", password=secrets["cisco_admin_password"],
                          secret=secrets["cisco_enable_secret"])
    try:
        conn.enable()
        text = conn.send_command("show running-config")
    finally:
        conn.disconnect()
    blocks: list[str] = []
    for line in text.splitlines():
        if line.startswith(("!", "Building configuration", "Current configuration")) \
                or not line.strip():
            continue
        if line.startswith(" ") and blocks:
            blocks[-1] += "\n" + line
        else:
            blocks.append(line)
    return sorted(blocks)


def test_an_abbreviated_interface_is_read_as_ios_shows_it(lab: Lab) -> None:
    """IOS accepts `interface Gi1/0/20` and shows it as GigabitEthernet1/0/20: the plan reads
    the intent as IOS will show it, so the push verifies and the next one is unchanged."""
    templates = _templates_with(lab, "abbreviated-templates", "cisco_ios/core.j2",
                                "interface Gi1/0/20\n description simpul: verify test\n")
    before = _ios_running(lab, "noc-core")
    assert "interface GigabitEthernet1/0/20" in before  # no description yet
    env = {"SIMPUL_TEMPLATES_DIR": str(templates)}
    code, rows = lab.json_lines("config", "push", "noc-core", "--yes", "--json", env=env)
    assert code == 0 and rows[0]["status"] == "changed", rows
    assert ("interface GigabitEthernet1/0/20\n description simpul: verify test"
            in _ios_running(lab, "noc-core"))
    code, rows = lab.json_lines("config", "push", "noc-core", "--yes", "--json", env=env)
    assert code == 0 and rows[0]["status"] == "unchanged", rows
