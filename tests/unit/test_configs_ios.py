"""Cisco IOS: the plan touches only what Simpul owns, VTP modes, hidden defaults, IOS's own
messages; the driver against the simulator in process (no SSH), the seeder's errors.

Expected lines here come from IOS's behaviour as documented (sources in controller/devices/
cisco_ios.py and lab/ssh_sim/cisco_ios.py), never from the planner itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from controller.backups import BackupRepo
from controller.devices.base import DeviceError, IntentError, Plan
from controller.devices.cisco_ios import ERROR_FORMS, CiscoIOS
from lab.ssh_sim.cisco_ios import IOSCli, IOSDevice
from lab.ssh_sim.cisco_ios_seed import seed_ios
from lab.ssh_sim.state import DeviceState, read_command_log

CORPUS = Path(__file__).resolve().parents[1] / "data" / "ios_configs"
IOS = CiscoIOS()


class Conn:
    """What the driver uses of a netmiko session, straight onto a simulated CLI."""

    def __init__(self, cli: IOSCli):
        self.cli = cli

    def send_command(self, command: str, **_: Any) -> str:
        return self.cli.handle_line(command)

    def config_mode(self) -> None:
        self.cli.handle_line("configure terminal")

    def exit_config_mode(self) -> None:
        self.cli.handle_line("end")

    def set_base_prompt(self) -> None:
        pass

    def save_config(self) -> str:
        return self.cli.handle_line("write memory")


def _device(tmp: Path, text: str, vlans: str | None = None) -> tuple[IOSDevice, Conn]:
    assert seed_ios(tmp, "sw", text, vlans, "test.cfg") == []
    device = IOSDevice("sw", DeviceState(tmp, "sw"), "simpul", "pw", None)
    cli = IOSCli(device, "simpul")
    cli.mode = "priv"
    return device, Conn(cli)


def _push(conn: Conn, intent: str, pushed: str | None = None) -> Plan:
    plan = IOS.plan(intent, IOS.fetch(conn, intent), pushed=pushed)
    IOS.apply(conn, plan)
    return plan


def _sent(tmp: Path) -> list[str]:
    return read_command_log(tmp, "sw")


SWITCH = """version 15.2
hostname access1
aaa new-model
aaa authentication login default local
aaa authentication login VTY group tacacs+ local
logging host 192.0.2.9
snmp-server community publicRO RO
ntp server 192.0.2.123
interface GigabitEthernet0/1
 description uplink
interface GigabitEthernet0/2
line vty 0 4
 login authentication VTY
end
"""
INTENT = ("hostname access1\nlogging trap informational\nlogging host 10.10.0.5\n"
          "aaa new-model\naaa authentication login default local\nntp server 10.10.0.1\n"
          "vlan 10\n name MGMT\ninterface GigabitEthernet0/2\n description to office\n")


def test_foreign_lines_are_never_negated(tmp_path: Path) -> None:
    """The issue's lock-out and outage: a shared keyword is not ownership."""
    _, conn = _device(tmp_path, SWITCH)
    plan = _push(conn, INTENT)
    assert not [a for a in plan.actions if a.strip().startswith("no ")], plan.actions
    running = IOS.fetch(conn, INTENT)
    for foreign in ("aaa authentication login VTY group tacacs+ local",
                    "logging host 192.0.2.9", "snmp-server community publicRO RO",
                    "ntp server 192.0.2.123", " description uplink"):
        assert foreign in running.splitlines()
    assert IOS.plan(INTENT, running).empty


def test_only_lines_simpul_pushed_are_negated(tmp_path: Path) -> None:
    device, conn = _device(tmp_path, SWITCH)
    device.vtp["mode"] = "transparent"
    _push(conn, INTENT + "vlan 99\n name OLD\n")
    pushed = INTENT + "vlan 99\n name OLD\nntp server 192.0.2.123\n"
    plan = IOS.plan(INTENT, IOS.fetch(conn, INTENT), pushed=pushed)
    assert sorted(a for a in plan.actions if a.startswith("no ")) == [
        "no ntp server 192.0.2.123", "no vlan 99"]
    IOS.apply(conn, plan)
    assert IOS.plan(INTENT, IOS.fetch(conn, INTENT), pushed=pushed).empty


def test_hidden_default_is_not_drift(tmp_path: Path) -> None:
    """`logging trap informational` is IOS's default: running-config never shows it."""
    _, conn = _device(tmp_path, SWITCH.replace("end\n", "logging trap warnings\nend\n"))
    _push(conn, INTENT)
    running = IOS.fetch(conn, INTENT)
    assert not [line for line in running.splitlines() if line.startswith("logging trap")]
    assert IOS.plan(INTENT, running).empty


def test_server_mode_vlans_live_in_vlan_dat(tmp_path: Path) -> None:
    cfg = (CORPUS / "ios152-c3560cx-dsw1.cfg").read_text()
    device, conn = _device(tmp_path, cfg, (CORPUS / "ios152-c3560cx-dsw1.vlans").read_text())
    assert device.vtp["mode"] == "server"  # from the backup's own `show vtp status` header
    _push(conn, "vlan 10\n name MGMT\nvlan 40\n name HOTSPOT-PUBLIK\n")
    conn.cli.handle_line("end")
    running = conn.send_command("show running-config")
    assert "\nvlan 40" not in running and "name MGMT" not in running
    brief = conn.send_command("show vlan brief")
    assert "10   MGMT                             active" in brief
    assert "40   HOTSPOT-PUBLIK                   active" in brief
    assert "400  VLAN0400                         active" in brief  # the switch's own VLAN
    assert IOS.plan("vlan 10\n name MGMT\nvlan 40\n name HOTSPOT-PUBLIK\n",
                    IOS.fetch(conn, "")).empty


def test_transparent_mode_vlans_are_in_running_config(tmp_path: Path) -> None:
    _, conn = _device(tmp_path, "version 12.2\nhostname dls2\nvtp domain CISCO\n"
                      "vtp mode transparent\nvlan 10,200\n!\nvlan 300\n name VOICE\n"
                      "interface FastEthernet0/1\nend\n")
    running = conn.send_command("show running-config")
    assert "vtp mode transparent" in running and "vlan 10,200" in running
    _push(conn, "vlan 10\n name MGMT\n")
    conn.cli.handle_line("end")
    running = conn.send_command("show running-config")
    assert "vlan 10\n name MGMT" in running and "vlan 200" in running
    assert "vlan 300\n name VOICE" in running


def test_vtp_client_refuses_vlans_and_the_plan_says_so(tmp_path: Path) -> None:
    vlans = "VTP Operating Mode              : Client\n" + (
        CORPUS / "ios150-c2960g-switch.vlans").read_text()
    _, conn = _device(tmp_path, (CORPUS / "ios150-c2960g-switch.cfg").read_text(), vlans)
    assert "VTP Operating Mode                : Client" in conn.send_command("show vtp status")
    with pytest.raises(IntentError, match="VTP client"):
        IOS.plan("vlan 10\n name MGMT\n", IOS.fetch(conn, ""))
    # The refusal has no `%`; the driver still reads it as one.
    with pytest.raises(DeviceError, match="not allowed when device is in CLIENT mode"):
        IOS.apply(conn, Plan("", ["vlan 99", " exit"]))


@pytest.mark.parametrize(("line", "answer"), [
    ("snmp-server community", "% Incomplete command."),
    ("s", '% Ambiguous command:  "s"'),
    ("ntp server not-an-address", "% Invalid input detected at '^' marker."),
    ("interface GigabitEthernet9/9", "% Invalid input detected at '^' marker."),
    ("no vlan 1", "%Default VLAN 1 may not be deleted."),
])
def test_simulator_answers_like_ios(tmp_path: Path, line: str, answer: str) -> None:
    _, conn = _device(tmp_path, SWITCH)
    conn.config_mode()
    assert answer in conn.send_command(line)


def test_caret_sits_under_the_bad_word(tmp_path: Path) -> None:
    _, conn = _device(tmp_path, SWITCH)
    conn.config_mode()
    out = conn.send_command("ntp server not-an-address")
    prompt = "access1(config)#"
    assert out.splitlines()[0] == " " * (len(prompt) + len("ntp server ")) + "^"


@pytest.mark.parametrize("output", [
    "% Invalid input detected at '^' marker.", "% Incomplete command.",
    '% Ambiguous command:  "lo"', "VTP VLAN configuration not allowed when device is in "
    "CLIENT mode.", "%Default VLAN 1 may not be deleted.", "% Bad mask /33 for address",
    "% 10.0.0.0 overlaps with GigabitEthernet0/1", "Command authorization failed.",
    "% Error in authentication.",
])
def test_refusals_are_recognised(output: str) -> None:
    assert ERROR_FORMS.search(output)


@pytest.mark.parametrize("output", [
    "Setting device to VTP Transparent mode for VLANS.",
    "Changing VTP domain name from NULL to CISCO",
    "%SYS-5-CONFIG_I: Configured from console by console",
    "% Warning: the command has been deprecated", "",
])
def test_informational_output_is_not_a_refusal(output: str) -> None:
    assert not ERROR_FORMS.search(output)


def test_record_masks_secrets_and_owns_only_its_own_community(tmp_path: Path) -> None:
    repo = BackupRepo(tmp_path / "backups")
    old = "snmp-server community Old-S3cret RO"
    repo.save_pushed("sw", ["hostname sw", old], secrets=["Old-S3cret"])
    stored = (tmp_path / "backups" / "sw.intent").read_text()
    assert "Old-S3cret" not in stored and "snmp-server community ******** RO" in stored
    assert repo.save_pushed("sw", ["hostname sw", old], secrets=["Old-S3cret"]) is None
    running = f"hostname sw\n{old}\nsnmp-server community someone-else RO\n"
    intent = "hostname sw\nsnmp-server community N3w-S3cret RO\n"
    plan = IOS.plan(intent, running, pushed=repo.pushed("sw"))
    assert [a for a in plan.actions if a.startswith("no ")] == [f"no {old}"]


def test_seed_is_picked_up_on_the_next_command(tmp_path: Path) -> None:
    _, conn = _device(tmp_path, SWITCH)
    assert "hostname access1" in conn.send_command("show running-config")
    assert seed_ios(tmp_path, "sw", SWITCH.replace("access1", "renamed"), None, "x") == []
    assert "hostname renamed" in conn.send_command("show running-config")


@pytest.mark.parametrize(("text", "vlans", "error"), [
    ("```\nhostname a\n```\n", None, "x.cfg:1: not an IOS configuration line"),
    (" description orphan\nhostname a\n", None, "x.cfg:1: an indented line outside"),
    ("hostname a\nbanner motd ^C\nno end\n", None, "x.cfg:2: banner not closed with '^C'"),
    ("version 12.1\nhostname a\n", None, "x.cfg:1: IOS 12.1: the lab simulates 12.2 to 17.x"),
    ("hostname a\nvlan 10\n name X\n", None, "x.cfg:2: a `vlan` line in running-config"),
    ("hostname a\nvtp mode transparent\nvlan 5000\n", None, "x.cfg:3: VLAN ids are 1 to"),
    ("hostname a\n", "VLAN Name Status Ports\n10 MGMT up\n",
     "x.cfg (--vlans):2: not a `show vlan brief` row"),
    ("hostname a\nvtp mode transparent\n", "10   MGMT   active\n",
     "x.cfg (--vlans):1: the switch is in VTP transparent mode"),
])
def test_seed_errors_name_the_place_and_write_nothing(tmp_path: Path, text: str,
                                                      vlans: str | None, error: str) -> None:
    errors = seed_ios(tmp_path, "sw", text, vlans, "x.cfg")
    assert any(e.startswith(error) for e in errors), errors
    assert not (tmp_path / "ssh_sim" / "sw.json").exists()


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*.cfg")))
def test_every_corpus_config_seeds(tmp_path: Path, name: str) -> None:
    cfg = CORPUS / name
    vlans = cfg.with_suffix(".vlans")
    errors = seed_ios(tmp_path, "sw", cfg.read_text(),
                      vlans.read_text() if vlans.exists() else None, name)
    assert errors == []
    device = IOSDevice("sw", DeviceState(tmp_path, "sw"), "simpul", "pw", None)
    assert device.hostname() != "Router"
    assert _sent(tmp_path) == []
