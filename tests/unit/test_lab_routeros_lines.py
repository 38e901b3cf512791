"""Several commands on one RouterOS console line, as the push sends them (issue #17).

MikroTik's scripting manual, "Line structure" (https://help.mikrotik.com/docs/display/ROS/
Scripting): `;` ends a command as a newline does, and command lines run one by one until the
end or until a runtime error. The simulator parses the whole line first (a syntax error runs
nothing) and stops at the first refused command.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.devices.mikrotik_routeros import LINE_LIMIT, batch_lines
from lab.ssh_sim.routeros import RouterOSCli, RouterOSDevice
from lab.ssh_sim.state import DeviceState


def _router(tmp_path: Path) -> RouterOSCli:
    return RouterOSCli(RouterOSDevice("r1", DeviceState(tmp_path, "r1"), "7.14.3"), "admin")


def _identity(cli: RouterOSCli) -> str:
    return cli.handle_line("/system identity print")


def _snmp_enabled(cli: RouterOSCli) -> bool:
    return "enabled: yes" in cli.handle_line("/snmp print")


def test_commands_separated_by_semicolons_all_run_in_order(tmp_path: Path) -> None:
    cli = _router(tmp_path)
    assert cli.handle_line("/system identity set name=a; /snmp set enabled=yes; "
                           "/system identity set name=b") == ""
    assert _identity(cli) == "name: b" and _snmp_enabled(cli)


def test_a_semicolon_inside_quotes_is_text(tmp_path: Path) -> None:
    cli = _router(tmp_path)
    assert cli.handle_line('/system identity set name="x;y"; /snmp set enabled=yes') == ""
    assert _identity(cli) == "name: x;y" and _snmp_enabled(cli)


def test_a_syntax_error_anywhere_runs_nothing_and_counts_columns_in_the_line(
        tmp_path: Path) -> None:
    cli = _router(tmp_path)
    answer = cli.handle_line("/system identity set name=c; /ip dns sett servers=1.1.1.1")
    assert answer == "bad command name sett (line 1 column 38)"
    assert _identity(cli) == "name: MikroTik"


def test_a_refused_command_ends_the_line_and_keeps_what_ran_before(tmp_path: Path) -> None:
    cli = _router(tmp_path)
    answer = cli.handle_line("/system identity set name=a; /ip dns set servers=bogus; "
                             "/snmp set enabled=yes")
    assert answer == "invalid value for argument servers"
    assert _identity(cli) == "name: a" and not _snmp_enabled(cli)


def test_a_batch_of_input_writes_the_state_file_once_at_its_end(tmp_path: Path) -> None:
    cli = _router(tmp_path)
    state = cli.device.state
    before = state.path.read_text()
    with cli.batch():
        cli.handle_line("/system identity set name=a")
        cli.handle_line("/snmp set enabled=yes")
        assert state.path.read_text() == before
    after = state.path.read_text()
    assert '"name": "a"' in after and after != before
    cli.handle_line("/system identity set name=b")  # outside a batch: at once
    assert '"name": "b"' in state.path.read_text()


def test_batch_lines_join_commands_in_order_within_the_limit() -> None:
    commands = [f"/ip firewall filter add chain=input comment=simpul-{i}" for i in range(30)]
    lines = batch_lines(commands)
    assert all(len(line) <= LINE_LIMIT for line in lines) and len(lines) > 1
    assert "; ".join(lines).split("; ") == commands
    long = "/system identity set name=" + "x" * LINE_LIMIT
    assert batch_lines(["/snmp set enabled=yes", long, "/snmp set enabled=no"]) == [
        "/snmp set enabled=yes", long, "/snmp set enabled=no"]


class _Console:
    """A netmiko-like session on the simulator: each sent line is answered, prompt last."""

    def __init__(self, cli: RouterOSCli):
        self.cli, self.sent, self.base_prompt = cli, [], "[admin@MikroTik]"

    def send_command(self, line: str, **_: object) -> str:
        self.sent.append(line)
        return f"{self.cli.handle_line(line)}\n{self.cli.prompt()}"

    def set_base_prompt(self) -> str:
        raise AssertionError("the prompt is read from the last answer")


def test_the_verify_export_rides_on_the_last_line_and_only_runs_after_every_command(
        tmp_path: Path) -> None:
    from controller.devices.base import DeviceError, Plan
    from controller.devices.mikrotik_routeros import MikrotikRouterOS

    platform, cli = MikrotikRouterOS(), _router(tmp_path)
    console = _Console(cli)
    good = Plan("", ["/system identity set name=r9", "/snmp set enabled=yes"])
    after = platform.apply_and_fetch(console, good, "")
    assert len(console.sent) == 1 and console.sent[0].endswith("; /export show-sensitive")
    assert "set name=r9" in after and after == platform.normalise(
        cli.handle_line("/export show-sensitive"))
    assert console.base_prompt == "[admin@r9]"
    bad = Plan("", ["/system identity set name=r8", "/ip dns set servers=bogus",
                    "/snmp set enabled=no"])
    with pytest.raises(DeviceError, match="invalid value for argument servers"):
        platform.apply_and_fetch(console, bad, "")
    assert _identity(cli) == "name: r8" and _snmp_enabled(cli)
