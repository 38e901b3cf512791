"""`simpul lab seed` for RouterOS, and the export forms of built-in items it relies on:
`set [ find default=yes ]`, `set [ find default-name=ether1 ]`, `set 0`, `set telnet` (as real
exports print them: tests/data/routeros_exports), read back by the strict simulator and by the
driver; a running simulator picks a seeded state up."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.devices import routeros_model
from controller.devices.mikrotik_routeros import MikrotikRouterOS, parse
from controller.inventory import Device
from lab.seed import SEEDERS, SeedError, logical_lines, routeros_state
from lab.ssh_sim import load_extensions
from lab.ssh_sim.routeros import RouterOSCli, RouterOSDevice
from lab.ssh_sim.state import DeviceState

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "routeros_exports"

EXPORT = """\
# 2025-03-23 16:04:06 by RouterOS 7.18.2
# software id = 5FN3-HYNE
#
# model = RBwAPG-5HacD2HnD
# serial number = HD7083WGBY9
/interface ethernet
set [ find default-name=ether1 ] comment=WAN name=wan
/ip hotspot profile
set [ find default=yes ] html-directory=hotspot
add dns-name=wifi.example.id hotspot-address=10.5.50.1 name=hsprof1
/port
set 0 name=serial0
/ip service
set telnet disabled=yes
/container config
set registry-url=https://registry-1.docker.io tmpdir=disk1/pull
/ip address add address=10.5.50.1/24 interface=ether2 network=10.5.50.0
"""


def _device(tmp_path: Path, version: str = "7.10.2") -> Device:
    return Device(name="r1", site="s", platform="mikrotik_routeros", role="office_router",
                  mgmt_address="127.0.0.1", credentials="c", vars={"routeros_version": version})


def _seed(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "r1.rsc"
    file.write_text(text)
    SEEDERS["mikrotik_routeros"](_device(tmp_path), file, tmp_path, None)
    return file


def _cli(tmp_path: Path) -> RouterOSCli:
    load_extensions()
    return RouterOSCli(RouterOSDevice("r1", DeviceState(tmp_path, "r1"), "7.10.2"), "admin")


def _body(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("#")]


def test_export_prints_built_in_items_as_routeros_does(tmp_path: Path) -> None:
    _seed(tmp_path, EXPORT)
    cli = _cli(tmp_path)
    out = cli.handle_line("/export")
    assert out.splitlines()[0].endswith(" by RouterOS 7.18.2")  # the export's, not 7.10.2
    assert "# model = RBwAPG-5HacD2HnD" in out
    body = _body(out)
    for menu, lines in [
        ("/interface ethernet", ["set [ find default-name=ether1 ] comment=WAN name=wan"]),
        ("/ip hotspot profile", ["set [ find default=yes ] html-directory=hotspot",
                                 "add dns-name=wifi.example.id hotspot-address=10.5.50.1 "
                                 "name=hsprof1"]),
        ("/port", ["set 0 name=serial0"]),
        ("/ip service", ["set telnet disabled=yes"]),
        ("/container config", ["set registry-url=https://registry-1.docker.io "
                               "tmpdir=disk1/pull"]),
    ]:
        start = body.index(menu)
        assert body[start + 1:start + 1 + len(lines)] == lines, (menu, body)
    terse = cli.handle_line("/export terse")
    assert "/interface ethernet set [ find default-name=ether1 ] comment=WAN name=wan" in (
        terse.splitlines())


def test_the_simulator_reads_the_built_in_forms(tmp_path: Path) -> None:
    _seed(tmp_path, EXPORT)
    cli = _cli(tmp_path)
    assert cli.handle_line("/ip hotspot profile set [ find default=yes ] login-by=http-pap") == ""
    assert cli.handle_line("/interface ethernet set [ find default-name=ether1 ] "
                           "comment=uplink") == ""
    assert cli.handle_line("/ip service set telnet disabled=no") == ""
    body = _body(cli.handle_line("/export"))
    assert "set [ find default=yes ] html-directory=hotspot login-by=http-pap" in body
    assert "set [ find default-name=ether1 ] comment=uplink name=wan" in body
    assert "/ip service" not in body  # telnet back at its default: nothing to print
    # A renamed port is known by its new name only; ether2 (wAP ac) is untouched.
    assert cli.handle_line("/ip address add address=10.9.0.1/24 interface=ether1") == (
        "input does not match any value of interface")
    assert cli.handle_line("/ip address add address=10.9.0.1/24 interface=wan") == ""
    # Ports come from `# model = RBwAPG-5HacD2HnD`: a wAP ac has two.
    assert cli.handle_line("/ip address add address=10.8.0.1/24 interface=ether3") == (
        "input does not match any value of interface")


def test_a_port_cannot_be_removed(tmp_path: Path) -> None:
    _seed(tmp_path, EXPORT)
    cli = _cli(tmp_path)
    assert cli.handle_line("/interface ethernet remove [ find default-name=ether1 ]") == (
        "failure: cannot remove hardware device")
    assert "name=wan" in cli.handle_line("/export")


def test_a_running_simulator_picks_a_seeded_state_up(tmp_path: Path) -> None:
    cli = _cli(tmp_path)  # the lab is up: the device has its default state
    assert cli.handle_line("/export").splitlines()[0].endswith(" by RouterOS 7.10.2")
    _seed(tmp_path, EXPORT)
    out = cli.handle_line("/export")
    assert out.splitlines()[0].endswith(" by RouterOS 7.18.2")
    assert "set [ find default-name=ether1 ] comment=WAN name=wan" in out
    assert "defconf" not in out


def test_refusals_name_file_and_line_with_routeros_message(tmp_path: Path) -> None:
    bad = EXPORT.replace("comment=WAN name=wan", "comment=WAN colour=red").replace(
        "interface=ether2", "interface=ether9")
    with pytest.raises(SeedError) as caught:
        routeros_state(bad, "r1.rsc")
    assert caught.value.problems == [
        "r1.rsc:7: expected end of command (line 1 column 46)",
        "r1.rsc:17: input does not match any value of interface"]
    with pytest.raises(SeedError) as caught:
        routeros_state(EXPORT.replace("by RouterOS 7.18.2", "by RouterOS 7.6"), "r1.rsc")
    assert caught.value.problems[0].startswith("r1.rsc:1: RouterOS 7.6 is not supported")
    with pytest.raises(SeedError) as caught:
        routeros_state("/ip pool\nadd name=a\n", "r1.rsc")
    assert caught.value.problems[0].startswith("r1.rsc:1: no '# ... by RouterOS X.Y' header")


def test_a_refused_seed_changes_nothing_and_vlans_is_for_ios(tmp_path: Path) -> None:
    cli = _cli(tmp_path)
    before = _body(cli.handle_line("/export"))
    with pytest.raises(SeedError):
        _seed(tmp_path, EXPORT.replace("name=wan", "nmae=wan"))
    with pytest.raises(SeedError, match="--vlans is for Cisco IOS"):
        SEEDERS["mikrotik_routeros"](_device(tmp_path), CORPUS / "wap-bridge-7.18.2.rsc",
                                     tmp_path, tmp_path / "vlan.dat")
    assert _body(cli.handle_line("/export")) == before


def test_continuations_join_as_routeros_reads_them() -> None:
    text = 'add name=a \\\n    ranges=\\\n    10.0.0.2\n# c\nset note="x\\\n    \\_y"'
    assert logical_lines(text) == [(1, "add name=a ranges=10.0.0.2"), (4, "# c"),
                                   (5, 'set note="x\\_y"')]


def test_every_supported_corpus_export_seeds_and_unsupported_ones_are_refused() -> None:
    model = routeros_model.load()
    for file in sorted(CORPUS.glob("*.rsc")):
        text = file.read_text()
        version = text.split("by RouterOS ", 1)[1].split()[0]
        if model.support_error(version):
            with pytest.raises(SeedError, match="is not supported"):
                routeros_state(text, file.name)
        else:
            routeros_state(text, file.name)


def test_the_driver_reads_built_in_items_of_real_exports() -> None:
    running = MikrotikRouterOS().normalise(EXPORT)
    config = parse(running)
    assert config.settings[("/port", "0")] == {"name": "serial0"}
    assert config.settings[("/ip service", "telnet")] == {"disabled": "yes"}
    assert config.settings[("/ip hotspot profile", "find default=yes")] == {
        "html-directory": "hotspot"}
    assert config.version == "7.18.2"


def test_the_overlay_corrects_what_real_exports_show() -> None:
    model = routeros_model.load()
    ethernet = model.menu("/interface ethernet").fields((7, 14))  # type: ignore[union-attr]
    assert ethernet is not None and "disable-running-check" in ethernet
    hotspot = model.menu("/ip hotspot").fields((7, 20))  # type: ignore[union-attr]
    assert hotspot is not None and hotspot["disabled"].default == "yes"
    assert model.menu("/routing ospf area").prints_defaults  # type: ignore[union-attr]


def test_menus_the_model_lacks_are_kept_verbatim_and_name_their_interfaces(
        tmp_path: Path) -> None:
    export = EXPORT.replace("/port\n", "/interface lte\nset [ find default-name=lte1 ] "
                            "allow-roaming=no band=\"\" name=lte-wan\n/port\n") + (
        "/ip firewall nat\nadd action=masquerade chain=srcnat out-interface=lte-wan\n")
    _seed(tmp_path, export)
    cli = _cli(tmp_path)
    body = _body(cli.handle_line("/export"))
    start = body.index("/interface lte")
    assert body[start + 1] == ('set [ find default-name=lte1 ] allow-roaming=no band="" '
                               'name=lte-wan')
    assert cli.handle_line("/interface lte print") == "bad command name print (line 1 column 16)"


def test_hotspot_ip_binding_is_checked_against_the_overlay(tmp_path: Path) -> None:
    cli = _cli(tmp_path)
    assert cli.handle_line("/ip hotspot ip-binding add comment=phone "
                           "mac-address=1C:5C:F2:42:E2:81 type=bypassed") == ""
    assert cli.handle_line("/ip hotspot ip-binding add mac-address=1C:5C:F2:42:E2:82 "
                           "type=allowed") == "input does not match any value of type"
    assert "add comment=phone mac-address=1C:5C:F2:42:E2:81 type=bypassed" in _body(
        cli.handle_line("/export"))


def test_a_hotspot_added_without_disabled_no_is_drift() -> None:
    """/ip hotspot add without disabled=no makes a disabled server (real exports print
    `disabled=no`): the driver must not take a missing disabled= for the enabled default."""
    driver = MikrotikRouterOS()
    intent = ("/ip hotspot\nadd disabled=no interface=ether2 name=simpul-a "
              "profile=default\n")
    running = driver.normalise("# 2026-01-03 12:54:04 by RouterOS 7.20.6\n/ip hotspot\n"
                               "add interface=ether2 name=simpul-a profile=default\n")
    plan = driver.plan(intent, running)
    assert plan.actions == ["/ip hotspot set [ find name=simpul-a ] disabled=no"]
    enabled = driver.normalise("# 2026-01-03 12:54:04 by RouterOS 7.20.6\n/ip hotspot\n"
                               "add disabled=no interface=ether2 name=simpul-a profile=default\n")
    assert driver.plan(intent, enabled).actions == []


def test_pcq_rates_take_routeros_units(tmp_path: Path) -> None:
    cli = _cli(tmp_path)
    assert cli.handle_line("/queue type add kind=pcq name=dl pcq-classifier=dst-address "
                           "pcq-rate=100M") == ""
    assert cli.handle_line("/queue type add kind=pcq name=ul pcq-rate=fast") == (
        "invalid value for argument pcq-rate")
    assert "add kind=pcq name=dl pcq-classifier=dst-address pcq-rate=100M" in _body(
        cli.handle_line("/export"))
