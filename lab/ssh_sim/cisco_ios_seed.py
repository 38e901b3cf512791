"""`simpul lab seed DEVICE FILE` for Cisco IOS: a real running-config becomes the device's state.

Any 12.2 to 17.x running-config (as `show running-config` prints it, an oxidized or RANCID
backup included) is accepted. VLANs go where the VTP mode keeps them: from the config's own
`vlan` lines in transparent and off mode; from `--vlans FILE` (`show vtp status` and/or `show
vlan brief` output) in server and client mode, where running-config has none. The mode comes
from the config's `vtp mode` line, else the VLAN file's or the backup header's "VTP Operating
Mode", else server (IOS's default). Problems come back as `FILE:LINE: message`; nothing is
written then. A running lab picks the new state up on the device's next command.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lab.ssh_sim.cisco_ios import DEFAULT_VLANS, VTP_MODES, vlan_ids
from lab.ssh_sim.state import DeviceState

# Transcript noise around a running-config: the header, `end`, a prompt (with the command).
SKIPPED = re.compile(r"^(Building configuration|Current configuration\s*:|end\s*$|"
                     r"[\w.-]+[#>]\s*((sh|show|more)\b.*)?$)")
TOP_LEVEL = re.compile(r"^[a-z][\w.:/-]*( |$)")
MODE_RE = re.compile(r"VTP Operating Mode\s*:\s*(.+?)\s*$")
DOMAIN_RE = re.compile(r"VTP Domain Name\s*:\s*(\S*)\s*$")
VLAN_ROW = re.compile(r"^(\d{1,4})\s+(\S{1,32})\s+(active|suspended|act/\S+|sus/\S+)(\s.*)?$")


def _mode(text: str) -> str | None:
    lowered = text.lower()
    return next((m for m in ("client", "transparent", "off", "server") if m in lowered), None)


def parse_running(text: str, source: str) -> tuple[dict[str, Any], list[str]]:
    """The config as simulator state (startup blocks, VTP, transparent-mode VLANs, version)."""
    errors: list[str] = []
    blocks: list[list[Any]] = []
    vtp: dict[str, Any] = {}
    header_mode: str | None = None
    vlans: dict[int, str] = {}
    vlan_lines: list[int] = []
    version: str | None = None
    banner_end: str | None = None
    banner_line = 0
    current_vlan: int | None = None
    in_block = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n").rstrip()
        if banner_end is not None:
            blocks[-1][1].append(line)
            if line.endswith(banner_end):
                banner_end = None
            continue
        if any(ord(c) < 32 and c != "\t" for c in line) or "\x7f" in line:
            errors.append(f"{source}:{number}: control characters: not a running-config line")
            continue
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("!"):
            m = MODE_RE.search(stripped)
            if m and header_mode is None:  # an oxidized/RANCID header: `! VTP: ...`
                header_mode = _mode(m[1])
            if not line.startswith(" "):
                current_vlan, in_block = None, False
            continue
        if line[0] in " \t":
            if current_vlan is not None:
                m = re.match(r"^\s+name\s+(\S.*)$", line)
                if m:
                    vlans[current_vlan] = m[1].strip()
                continue
            if not in_block:
                errors.append(f"{source}:{number}: an indented line outside any section")
                continue
            blocks[-1][1].append(line)
            continue
        if SKIPPED.match(line):
            current_vlan, in_block = None, False
            continue
        if not TOP_LEVEL.match(line):
            errors.append(f"{source}:{number}: not an IOS configuration line: {line[:60]!r}")
            continue
        current_vlan, in_block = None, True
        m = re.match(r"^banner \S+ (\^\S|\S)", line)
        if m:
            blocks.append([line, []])
            rest = line[m.end(1):]
            banner_end = None if rest.endswith(m[1]) else m[1]
            banner_line = number
            in_block = False
            continue
        m = re.match(r"^version (\d+)\.(\d+)", line)
        if m:
            version = f"{m[1]}.{m[2]}"
            if not (12, 2) <= (int(m[1]), int(m[2])) < (18, 0):
                errors.append(f"{source}:{number}: IOS {version}: the lab simulates 12.2 to "
                              "17.x")
        m = re.match(r"^vtp (mode|domain|version|password|pruning)\b\s*(.*)$", line)
        if m:
            if m[1] == "mode":
                mode = _mode(m[2])
                if mode is None or m[2].strip() not in VTP_MODES:
                    errors.append(f"{source}:{number}: unknown VTP mode {m[2]!r}")
                vtp["mode"] = mode or "server"
            elif m[1] == "domain":
                vtp["domain"] = m[2].strip()
            in_block = False
            continue
        m = re.match(r"^vlan (\d[\d,-]*)$", line)
        if m:
            ids = vlan_ids(m[1])
            if not ids:
                errors.append(f"{source}:{number}: VLAN ids are 1 to 4094: {m[1]!r}")
                continue
            for vid in ids:
                vlans.setdefault(vid, DEFAULT_VLANS.get(vid, f"VLAN{vid:04d}"))
            vlan_lines.append(number)
            current_vlan = ids[0] if len(ids) == 1 else None
            in_block = False
            continue
        blocks.append([line, []])
    if banner_end is not None:
        errors.append(f"{source}:{banner_line}: banner not closed with {banner_end!r}")
    if not errors and not any(b[0].startswith(("hostname ", "version ", "interface "))
                              for b in blocks):
        errors.append(f"{source}:1: no `version`, `hostname` or `interface` line: not an IOS "
                      "running-config")
    mode = vtp.get("mode") or header_mode or "server"
    if vlan_lines and mode in ("server", "client"):
        errors.append(f"{source}:{vlan_lines[0]}: a `vlan` line in running-config, but the "
                      f"switch is in VTP {mode} mode, where VLANs live in vlan.dat: add "
                      "`vtp mode transparent`, or give the VLANs with --vlans")
    state = {"startup": blocks, "version": version,
             "vtp": {"mode": mode, "domain": vtp.get("domain", ""), "version": 1},
             "vlans": vlans}
    return state, errors


def parse_vlan_file(text: str, source: str) -> tuple[str | None, str | None,
                                                     dict[int, str], list[str]]:
    """`show vtp status` and/or `show vlan brief` output: (mode, domain, vlans, errors)."""
    mode: str | None = None
    domain: str | None = None
    vlans: dict[int, str] = {}
    errors: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or re.match(r"^\S+[#>]", stripped) or set(stripped) <= set("- "):
            continue
        if stripped.startswith("VLAN Name") or line[0] in " \t":
            continue  # the table's header, or a row's wrapped ports
        m = MODE_RE.search(line)
        if m:
            mode = _mode(m[1])
            if mode is None:
                errors.append(f"{source}:{number}: unknown VTP mode {m[1]!r}")
            continue
        m = DOMAIN_RE.search(line)
        if m:
            domain = m[1]
            continue
        if re.match(r"^(VTP|Configuration|Maximum|Number|MD5|Local|Feature|Device ID|"
                    r"Primary|Last|Operating)", stripped):
            continue  # the rest of `show vtp status`
        m = VLAN_ROW.match(line)
        if not m:
            errors.append(f"{source}:{number}: not a `show vlan brief` row: {line[:60]!r}")
            continue
        vid = int(m[1])
        if not 1 <= vid <= 4094:
            errors.append(f"{source}:{number}: VLAN ids are 1 to 4094: {vid}")
            continue
        vlans[vid] = m[2]
    return mode, domain, vlans, errors


def seed_ios(state_dir: Path, device: str, text: str, vlans_text: str | None,
             source: str) -> list[str]:
    """Make `text` (a running-config) the IOS device's startup and running config; returns
    `FILE:LINE: message` lines, empty on success (nothing is written otherwise)."""
    state, errors = parse_running(text, source)
    if vlans_text is not None:
        vlan_source = source + " (--vlans)"
        mode, domain, vlans, vlan_errors = parse_vlan_file(vlans_text, vlan_source)
        errors += vlan_errors
        config_mode = state["vtp"]["mode"]
        if config_mode in ("transparent", "off") and not errors:
            errors.append(f"{vlan_source}:1: the switch is in VTP {config_mode} mode: its "
                          "VLANs are the running-config's `vlan` lines")
        if not errors:
            if mode is not None and not re.search(r"^vtp mode", text, re.M):
                state["vtp"]["mode"] = mode
            if domain:
                state["vtp"]["domain"] = domain
            state["vlans"] = vlans
    if errors:
        return errors
    for vid, name in DEFAULT_VLANS.items():
        state["vlans"].setdefault(vid, name)
    state["vlans"] = {str(k): v for k, v in sorted(state["vlans"].items())}
    DeviceState(state_dir, device).save(state)
    return []
