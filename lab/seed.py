"""`simpul lab seed DEVICE FILE`: make a lab device's running configuration a real one.

SEEDERS maps a platform to its seeder, `(device, file, state_dir, vlans) -> None`, which
replaces the device's simulator state with FILE or raises SeedError listing every refusal as
`FILE:LINE: message` (the device's own message). A lab that is running picks the new state up
before its next command (lab.ssh_sim.state.DeviceState.changed_on_disk), so seeding works with
or without `simpul lab up`.

RouterOS: FILE is an /export (wrapped or terse). Its header names the version (`# ... by
RouterOS 7.x`), and `# model =` with the default-name= items names the built-in ports; both
override the inventory's vars for that device in the lab. Each command runs through the strict
simulator; a menu the model lacks is kept verbatim (issue 12: "When seeding, such paths are
kept verbatim"). A real export of a supported version that is refused means the model is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from controller.devices import routeros_model
from controller.inventory import Device
from lab.ssh_sim import load_extensions
from lab.ssh_sim import routeros as ros
from lab.ssh_sim.state import DeviceState


class SeedError(Exception):
    """FILE cannot be the device's configuration; `problems` are `FILE:LINE: message` lines."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


Seeder = Callable[[Device, Path, Path, Path | None], None]

# Built-in ports by `# model =` (the MikroTik product pages' port lists). An export without a
# model line (CHR, a virtual router) has the ports its default-name= items name, at least ether1.
MODEL_PORTS: dict[str, tuple[str, ...]] = {
    # https://mikrotik.com/product/wap_ac : 2 Gigabit Ethernet ports, 2.4 GHz and 5 GHz radios
    "RBwAPG-5HacD2HnD": ("ether1", "ether2", "wlan1", "wlan2"),
    # https://mikrotik.com/product/rb4011igs_rm : 10 Gigabit Ethernet ports, 1 SFP+ cage
    "RB4011iGS+": (*(f"ether{n}" for n in range(1, 11)), "sfp-sfpplus1"),
    # https://mikrotik.com/product/hex_s : 5 Gigabit Ethernet ports, 1 SFP cage
    "E60iUGS": (*(f"ether{n}" for n in range(1, 6)), "sfp1"),
    # https://mikrotik.com/product/ccr2004_1g_12s_2xs : 1 Gigabit Ethernet, 12 SFP+, 2 SFP28
    "CCR2004-1G-12S+2XS": ("ether1", *(f"sfp-sfpplus{n}" for n in range(1, 13)),
                           "sfp28-1", "sfp28-2"),
}

_HEADER_VERSION = re.compile(r"^#.*\bby RouterOS (\S+)")
_DEFAULT_NAME = re.compile(r"\[ find default-name=(\"(?:\\.|[^\"\\])*\"|\S+) \]")


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) of each command, `\\` continuations joined as RouterOS reads
    them (the next line's indent dropped: /export writes a leading space as `\\_`)."""
    out: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, raw in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        line = raw.rstrip() if pending is None else raw.strip()
        start, joined = pending if pending else (number, "")
        joined += line
        if joined.endswith("\\") and not joined.endswith("\\\\"):
            pending = (start, joined[:-1])
            continue
        pending = None
        out.append((start, joined))
    if pending:
        out.append(pending)
    return out


def _split_path(words: list[tuple[str, int]]) -> tuple[str, list[tuple[str, int]]]:
    """A menu line's path and what follows it (terse: `/ip pool add name=x`)."""
    first, col = words[0]
    parts = [(w, col) for w in first.strip("/").split("/") if w]
    rest = list(words[1:])
    while rest and rest[0][0] not in ros.VERBS and "=" not in rest[0][0] \
            and not rest[0][0].startswith("["):
        parts.append(rest.pop(0))
    return "/" + " ".join(w for w, _ in parts), rest


def routeros_state(text: str, label: str) -> dict[str, Any]:
    """The simulator state an export stands for, or SeedError (every problem, FILE:LINE)."""
    lines = text.replace("\r\n", "\n").split("\n")
    version = next((m[1] for m in map(_HEADER_VERSION.match, lines[:3]) if m), None)
    if version is None:
        raise SeedError([f"{label}:1: no '# ... by RouterOS X.Y' header: not a RouterOS "
                         "/export (the header names the version the lab device runs)"])
    unsupported = routeros_model.load().support_error(version)
    if unsupported:
        raise SeedError([f"{label}:1: {unsupported}"])
    header = []
    for line in lines[1:]:
        if not line.startswith("#"):
            break
        header.append(line.rstrip())
    model = next((h.split("=", 1)[1].strip() for h in header if h.startswith("# model =")), "")
    named = [ros.unquote(m) for m in _DEFAULT_NAME.findall(text)]
    ports = list(dict.fromkeys([*MODEL_PORTS.get(model, ()), *named])) or ["ether1"]
    data: dict[str, Any] = {"meta": {"version": version, "ports": ports, "header": header,
                                     "model": model},
                            "single": {}, "list": {}, "verbatim": {}}
    device = ros.RouterOSDevice.from_data("seed", data)
    problems: list[str] = []
    path = ""
    for number, line in logical_lines(text):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            words = ros.tokenize(stripped)
            if stripped.startswith("/"):
                path, words = _split_path(words)
                if not words:
                    continue
            if not path:
                raise ros.RouterOSError("expected command name (line 1 column 1)")
            start = words[0][1] - 1
            body = stripped[start:]
            if ros.handler_for(path) is None:  # a menu the model lacks: kept as written
                data["verbatim"].setdefault(path, []).append(body)
                continue
            cmd = ros.command(body, path, [(w, c - start) for w, c in words])
            cmd.seeding = True
            ros.execute(device, cmd)
        except ros.RouterOSError as exc:
            problems.append(f"{label}:{number}: {exc}")
    if problems:
        raise SeedError(problems)
    return data


def seed_routeros(device: Device, file: Path, state_dir: Path, vlans: Path | None) -> None:
    """Replace a RouterOS lab device's state with the export FILE."""
    if vlans is not None:
        raise SeedError([f"{vlans}: --vlans is for Cisco IOS (its vlan.dat); a RouterOS "
                         "export holds its VLANs itself"])
    load_extensions()
    data = routeros_state(file.read_text(encoding="utf-8"), str(file))
    DeviceState(state_dir, device.name).save(data)


def seed_cisco_ios(device: Device, file: Path, state_dir: Path, vlans: Path | None) -> None:
    """Replace a Cisco IOS lab device's startup and running config with FILE (a 12.2-17.x
    running-config); --vlans gives vlan.dat's VLANs for VTP server or client mode."""
    from lab.ssh_sim.cisco_ios_seed import seed_ios

    vlans_text = vlans.read_text(encoding="utf-8") if vlans is not None else None
    problems = seed_ios(state_dir, device.name, file.read_text(encoding="utf-8"), vlans_text,
                        str(file))
    if problems:
        raise SeedError(problems)


SEEDERS: dict[str, Seeder] = {"mikrotik_routeros": seed_routeros, "cisco_ios": seed_cisco_ios}
