"""Real RouterOS exports (tests/data/routeros_exports) as lab devices' configurations: `simpul
lab seed` makes a running lab device hold the export, Simpul pushes its template onto it
(`changed`, then `unchanged`), and every line Simpul does not manage is still in the device's
export afterwards, byte for byte once continuations are joined (issue 12, item 6)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.integration.config_lab import ROOT, Lab, start_demo_lab

pytestmark = pytest.mark.integration

CORPUS = ROOT / "tests" / "data" / "routeros_exports"
# The interface of each export that Simpul's template is told to use (vars.lan_interface and
# vars.hotspot_interface): one the router has, as an engineer would set it in the inventory.
INTERFACE = {
    "chr-hotspot-7.20.6.rsc": "ether2",
    "chr-hotspot-two-profiles-7.20.6.rsc": "ether2",
    "chr-ospf-ovpn-7.11.2.rsc": "loopback",
    "chr-vlan-7.14.3.rsc": "ether3",
    "wap-bridge-7.18.2.rsc": "bridge",
}
UNSUPPORTED = {"chr-ospf-7.6.rsc": "RouterOS 7.6 is not supported",
               "cap-ax-lte-7.21.1.rsc": "RouterOS 7.21.1 is not supported"}
DEVICES = ("setda-r1", "alun-alun-gw")  # an office router and a hotspot gateway


def test_the_corpus_is_covered() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.rsc")) == sorted([*INTERFACE, *UNSUPPORTED])


def terse(text: str) -> list[str]:
    """Export text as `/menu verb ...` lines: `\\` continuations joined (the next line's indent
    dropped), comments and blank lines left out; menu lines carried onto their commands."""
    joined = re.sub(r"\\\n\s*", "", text.replace("\r\n", "\n"))
    out: list[str] = []
    path = ""
    for line in joined.split("\n"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        menu = re.match(r"^(/[a-z0-9-]+(?: [a-z0-9-]+)*?)(?: ((?:add|set|remove) .*))?$", line)
        if line.startswith("/") and menu:
            path = menu[1]
            if menu[2] is None:
                continue
            line = menu[2]
        out.append(f"{path} {line}")
    return out


def test_terse_reads_wrapped_and_terse_exports_alike() -> None:
    wrapped = ('/ip pool\nadd name=a ranges=\\\n    10.0.0.2-10.0.0.9\n# comment\n'
               '/port\nset 0 name=s')
    assert terse(wrapped) == ["/ip pool add name=a ranges=10.0.0.2-10.0.0.9",
                              "/port set 0 name=s"]
    assert terse("/ip pool add name=a ranges=10.0.0.2-10.0.0.9") == terse(wrapped)[:1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    tmp = tmp_path_factory.mktemp("config-lab-corpus")
    lab = start_demo_lab(tmp)
    yield lab
    lab.stop()


def _set_vars(lab: Lab, device: str, interface: str) -> None:
    path = lab.root / "inventory" / "devices.yaml"
    data = yaml.safe_load(path.read_text())
    entry = next(d for d in data["devices"] if d["name"] == device)
    entry["vars"] = {**entry.get("vars", {}), "lan_interface": interface,
                     "hotspot_interface": interface}
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _export(lab: Lab, device: str) -> str:
    conn = lab.connect(device)
    try:
        return str(conn.send_command("/export show-sensitive", expect_string=r"\] > ?$",
                                     read_timeout=60))
    finally:
        conn.disconnect()


def _managed_settings(lab: Lab, device: str) -> dict[str, set[str]]:
    """The settings menus and properties Simpul's template for `device` sets."""
    rendered = lab.simpul("config", "render", device)
    assert rendered.returncode == 0, rendered.stderr
    from controller.devices.routeros_files import split

    keys: dict[str, set[str]] = {}
    config, _pages = split(rendered.stdout)  # a hotspot's pages follow as `### file:` sections
    for line in terse(config):
        path, verb, rest = re.match(r"^(/[a-z0-9 -]+?) (add|set) (.*)$", line).groups()  # type: ignore[union-attr]
        if verb == "set" and not rest.startswith("["):
            keys.setdefault(path, set()).update(re.findall(r"(?:^| )([a-z0-9-]+)=", rest))
    return keys


def _kept(line: str, managed: dict[str, set[str]]) -> str | None:
    """The part of an export line Simpul must leave alone: the line itself, or for a settings
    menu Simpul sets, the properties it does not set (None: nothing left)."""
    path, verb, rest = re.match(r"^(/[a-z0-9 -]+?) (add|set) (.*)$", line).groups()  # type: ignore[union-attr]
    if verb != "set" or path not in managed or rest.startswith("["):
        return line
    words = [w for w in re.findall(r'(?:[^\s"]|"(?:\\.|[^"\\])*")+', rest)
             if w.split("=", 1)[0] not in managed[path]]
    return f"{path} set {' '.join(words)}" if words else None


@pytest.mark.parametrize("name", sorted(INTERFACE))
def test_seed_push_twice_and_every_unmanaged_line_stays(lab: Lab, name: str) -> None:
    """Both devices hold the export and are pushed together (one push per step: the CLI's
    start-up is most of a step's time)."""
    export = CORPUS / name
    version = re.search(r"by RouterOS (\S+)", export.read_text())[1]  # type: ignore[index]
    for device in DEVICES:
        seeded = lab.simpul("lab", "seed", device, str(export))
        assert seeded.returncode == 0, seeded.stdout + seeded.stderr
        before = _export(lab, device)  # the running lab picked the new state up
        assert f"by RouterOS {version}" in before.splitlines()[0], device
        _set_vars(lab, device, INTERFACE[name])

    def push(status: str) -> None:
        code, rows = lab.json_lines("config", "push", *DEVICES, "--yes", "--json")
        assert code == 0, rows
        assert {row["device"]: row["status"] for row in rows} == dict.fromkeys(DEVICES, status)
        if status == "unchanged":
            assert all(row["diff"] == "" for row in rows), rows

    push("changed")
    push("unchanged")
    # Drift on Simpul's own items (a firewall rule disabled by hand): the push replaces them,
    # and must still leave everything else alone.
    for device in DEVICES:
        conn = lab.connect(device)
        try:
            conn.send_command('/ip firewall filter set [ find comment~"^simpul" ] disabled=yes',
                              expect_string=r"\] > ?$")
        finally:
            conn.disconnect()
    push("changed")

    for device in DEVICES:
        managed = _managed_settings(lab, device)
        wanted = Counter(kept for line in terse(export.read_text())
                         if (kept := _kept(line, managed)) is not None)
        found = Counter(kept for line in terse(_export(lab, device))
                        if (kept := _kept(line, managed)) is not None)
        assert sum(wanted.values()) >= 10
        assert wanted - found == Counter(), (device, sorted(wanted - found))


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_an_unsupported_version_is_refused_and_changes_nothing(lab: Lab, name: str) -> None:
    device = "setwan-r1"
    before = _export(lab, device)
    done = lab.simpul("lab", "seed", device, str(CORPUS / name))
    assert done.returncode == 1
    assert f"{CORPUS / name}:1: {UNSUPPORTED[name]}" in done.stderr, done.stderr
    assert terse(_export(lab, device)) == terse(before)


def test_a_refused_line_is_named_with_routeros_message(lab: Lab, tmp_path: Path) -> None:
    bad = tmp_path / "bad.rsc"
    bad.write_text((CORPUS / "wap-bridge-7.18.2.rsc").read_text().replace(
        "add bridge=bridge interface=ether2", "add bridge=bridge interface=ether2 colour=red"))
    done = lab.simpul("lab", "seed", "setwan-r1", str(bad))
    assert done.returncode == 1
    assert f"{bad}:15: expected end of command (line 1 column 36)" in done.stderr, done.stderr
