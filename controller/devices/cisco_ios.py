"""Cisco IOS / IOS-XE: `show running-config` (and the VLAN database) against the intent.

Only what the intent owns is touched. A line is added when the intent has it and the device
does not; a line is negated only when Simpul pushed it before (the pushed record kept beside the
backups, controller/devices/pushed.py) and the intent no longer has it. Lines that merely share
a keyword with the intent (another `logging host`, an `aaa authentication login VTY` list, a
VLAN) are never touched. Defaults IOS hides are normalised before comparing, and VLANs are read
where the VTP mode keeps them: `show vlan brief` in server and client mode (vlan.dat), the
running-config in transparent and off mode.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from controller.devices.base import DeviceError, DeviceTarget, IntentError, Plan, netmiko_connect
from controller.devices.pushed import RecordedLine, parse_record

VOLATILE = re.compile(
    r"^(Building configuration|Current configuration\s*:|! Last configuration change|"
    r"! NVRAM config last updated|! No configuration change since|ntp clock-period|end$|!)")
VLAN_DB_MARKER = "! simpul: VLAN database"
CONFIG_PROMPT = r"\)#\s*$"
# Lines IOS accepts but never shows in running-config: not compared, sent with every change.
WRITE_ONLY = re.compile(r"^snmp-server user ")
# How IOS refuses a command. Sources: Cisco NetAcad ITN 2.1.4.4 "Command Syntax Check" (the
# `% Ambiguous command`, `% Incomplete command` and `% Invalid input detected at '^' marker.`
# forms); ansible-collections/cisco.ios plugins/terminal/ios.py `terminal_stderr_re` (% Error,
# Bad secret, Bad mask, overlaps with, Command authorization failed, Command Rejected, not
# found); the Catalyst VTP client refusal, which has no `%` at all. Any other line starting
# with `%` is a refusal too, except a warning and a syslog message (%FACILITY-SEV-MNEMONIC:).
ERROR_FORMS = re.compile(
    r"^% ?(Invalid input|Incomplete command|Ambiguous command|Unknown command|Error|"
    r"Bad secret)|Bad passwords|Bad mask|% ?\S+ ?overlaps with|Command authorization failed|"
    r"Command Rejected|^% ?\S.* not found|"
    r"^VTP VLAN configuration not allowed when device is in (CLIENT|client) mode|"
    r"^%(?! ?Warning)(?![A-Z0-9_]+-\d+-[A-Z0-9_]+:)", re.M | re.I)
# Defaults IOS does not show in running-config (so "absent" means "set to this"):
# `logging trap informational` (Cisco "show logging" sample: "Trap logging: level
# informational" with no `logging trap` line; Cisco IOS in a Nutshell, logging trap), and
# `logging history warnings` (Cisco IOS in a Nutshell, logging history: "Default Warnings (4)").
HIDDEN_DEFAULTS = {"logging trap": "informational", "logging history": "warnings"}
RESERVED_VLANS = {1, 1002, 1003, 1004, 1005}  # always in vlan.dat, never Simpul's
# Commands that hold one value: a new line replaces the old one, so the old is never negated.
# (keyword words, how many words make the key)
SINGLE_VALUED = (
    ("hostname", 1), ("clock timezone", 2), ("logging trap", 2), ("logging history", 2),
    ("logging source-interface", 2), ("snmp-server location", 2), ("snmp-server contact", 2),
    ("aaa authentication login", 4), ("aaa authentication enable", 4),
    ("aaa authorization exec", 4), ("aaa accounting exec", 4), ("aaa new-model", 2),
    ("ip domain name", 3), ("ip default-gateway", 2), ("ntp source", 2), ("enable secret", 2),
    ("description", 1), ("name", 1), ("ip address", 2), ("switchport mode", 2),
    ("switchport access vlan", 3), ("switchport trunk native vlan", 4),
    ("switchport trunk allowed vlan", 4), ("shutdown", 1), ("exec-timeout", 1),
    ("transport input", 2), ("login", 1), ("mtu", 1), ("speed", 1), ("duplex", 1),
)
INTERFACE_NAMES = {"gi": "GigabitEthernet", "te": "TenGigabitEthernet", "fa": "FastEthernet",
                   "vl": "Vlan", "lo": "Loopback", "po": "Port-channel", "tw": "TwoGigabitEthernet",
                   "fo": "FortyGigabitEthernet", "hu": "HundredGigE", "et": "Ethernet"}


def canonical(line: str) -> str:
    """One line as IOS means it, for comparing: single spaces, the forms IOS shows."""
    indent = len(line) - len(line.lstrip(" "))
    text = " ".join(line.split())
    # 12.x shows `logging A.B.C.D`; 12.4T and later `logging host A.B.C.D` (corpus README).
    text = re.sub(r"^logging (?=\d+\.\d+\.\d+\.\d+(\s|$))", "logging host ", text)
    # IOS 15 shows `ip domain name`/`ip domain lookup` for the older hyphenated forms.
    text = re.sub(r"^(no )?ip domain-(name|lookup)\b", r"\1ip domain \2", text)
    return " " * indent + text


def _key(line: str) -> str | None:
    text = " ".join(line.split()).removeprefix("no ")
    for words, count in SINGLE_VALUED:
        if text == words or text.startswith(words + " "):
            return " ".join(text.split()[:count])
    return None


def _is_default(line: str) -> bool:
    key = _key(line)
    return key in HIDDEN_DEFAULTS and line.strip() == f"{key} {HIDDEN_DEFAULTS[key]}"


def _vlan_ids(spec: str) -> list[int] | None:
    ids: list[int] = []
    for part in spec.split(","):
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            return None
        ids += list(range(int(low), int(high or low) + 1))
    return ids


def interface_name(name: str) -> str:
    """`Gi1/0/1` as IOS shows it (`GigabitEthernet1/0/1`); unknown forms unchanged."""
    m = re.match(r"^([A-Za-z-]+)\s*(\d[\d/.:]*)$", name)
    if not m:
        return name
    kind = m[1]
    for short, full in INTERFACE_NAMES.items():
        if kind.lower().startswith(short) and full.lower().startswith(kind.lower()):
            return full + m[2]
    return name


@dataclass
class IOSConfig:
    """A config as lists: global lines, sections (header -> child lines) and VLANs."""

    lines: list[str] = field(default_factory=list)
    sections: dict[str, list[str]] = field(default_factory=dict)
    vlans: dict[int, str | None] = field(default_factory=dict)  # id -> name (None: default)
    vtp_mode: str = "none"  # server | client | transparent | off | none (no VTP seen)
    banners: list[str] = field(default_factory=list)


def parse(text: str) -> IOSConfig:
    """Parse a running-config (or an intent); the VLAN database block from `fetch` included."""
    config = IOSConfig()
    header: str | None = None
    in_db = False
    banner_end: str | None = None
    explicit_vtp = None
    for raw in text.splitlines():
        line = raw.rstrip()
        if banner_end is not None:
            config.banners[-1] += "\n" + line
            if line.endswith(banner_end):
                banner_end = None
            continue
        if line.startswith(VLAN_DB_MARKER):
            in_db, header = True, None
            m = re.search(r"\((\w+) mode", line)
            config.vtp_mode = m[1].lower() if m else "server"
            continue
        if not line.strip() or line.strip().startswith("!") or VOLATILE.match(line):
            continue
        if line.startswith(" ") or line.startswith("\t"):
            if header is None:
                continue
            if header.startswith("vlan "):
                m = re.match(r"^\s+name\s+(.+)$", line)
                vlan = int(header.split()[1])
                if m:
                    config.vlans[vlan] = m[1].strip()
            else:
                config.sections[header].append(line.rstrip())
            continue
        m = re.match(r"^banner \S+ (\^\S|\S)", line)
        if m:
            config.banners.append(line)
            rest = line[m.end(1):]
            banner_end = None if rest.endswith(m[1]) else m[1]
            header = None
            continue
        m = re.match(r"^vlan (\d[\d,-]*)$", line)
        ids = _vlan_ids(m[1]) if m else None
        if ids is not None:
            for vlan in ids:
                config.vlans.setdefault(vlan, None)
            header = f"vlan {ids[0]}" if len(ids) == 1 else None
            continue
        if in_db:
            header = None
            continue
        m = re.match(r"^vtp mode (\w+)", line)
        if m:
            explicit_vtp = m[1].lower()
        if line.startswith("interface "):
            line = "interface " + interface_name(line[len("interface "):].strip())
        header = line
        config.sections.setdefault(line, [])
        config.lines.append(line)
    if explicit_vtp and config.vtp_mode == "none":
        config.vtp_mode = explicit_vtp
    # A header line without children is a global line; one with children is a section.
    config.lines = [x for x in config.lines if not config.sections.get(x)]
    config.sections = {h: c for h, c in config.sections.items() if c or h.startswith(
        ("interface ", "line "))}
    for h in list(config.sections):
        if h in config.lines and not config.sections[h]:
            config.lines.remove(h)
    return config


def parse_vlan_brief(text: str) -> dict[int, str | None]:
    """`show vlan brief`: `VLAN Name Status Ports` rows (ports may wrap onto more lines)."""
    vlans: dict[int, str | None] = {}
    for line in text.splitlines():
        m = re.match(r"^(\d{1,4})\s+(\S.*?)\s+(active|suspended|act/\S+|sus/\S+)(\s|$)", line)
        if m:
            vlan, name = int(m[1]), m[2]
            vlans[vlan] = None if name == f"VLAN{vlan:04d}" else name
    return vlans


def vtp_mode_of(text: str) -> str:
    """The mode from `show vtp status` (VTP 1/2 and 3 layouts), or `none` without VTP."""
    m = re.search(r"^\s*VTP Operating Mode\s*:\s*(.+)$", text, re.M)
    if not m:
        return "none"
    mode = m[1].lower()
    for name in ("client", "transparent", "off", "server"):
        if name in mode:
            return name
    return "none"


def vlan_db_text(mode: str, vlans: dict[int, str | None]) -> str:
    out = [f"{VLAN_DB_MARKER} ({mode} mode, from show vlan brief; not in running-config)"]
    for vlan in sorted(vlans):
        out.append(f"vlan {vlan}")
        if vlans[vlan]:
            out.append(f" name {vlans[vlan]}")
    return "\n".join(out) + "\n"


class _Record:
    """The pushed record, split like a config: global lines and section children."""

    def __init__(self, lines: list[RecordedLine]):
        self.lines: list[RecordedLine] = []
        self.sections: dict[str, list[RecordedLine]] = {}
        self.vlans: set[int] = set()
        header: str | None = None
        for item in lines:
            if item.text.startswith(" "):
                if header is not None:
                    self.sections.setdefault(header, []).append(item)
                continue
            ids = _vlan_ids(item.text[5:]) if re.match(r"^vlan \d", item.text) else None
            if ids is not None:
                self.vlans.update(ids)
                header = None
                continue
            text = item.text
            if text.startswith("interface "):
                text = "interface " + interface_name(text[len("interface "):].strip())
            header = text
            self.lines.append(RecordedLine(text, item.digest))
        self.lines = [x for x in self.lines if x.text not in self.sections]


def _owned(recorded: Iterable[RecordedLine], running: list[str],
           keep: Iterable[str]) -> list[str]:
    """Running lines Simpul pushed (per the record) that the intent no longer has."""
    wanted = {canonical(x) for x in keep}
    wanted_keys = {_key(x) for x in keep} - {None}
    found = []
    for item in recorded:
        for line in running:
            if canonical(line) in wanted or line in found:
                continue
            if _key(line) is not None and _key(line) in wanted_keys:
                continue  # the intent's own line replaces it
            if item.matches(line) or (item.digest is None
                                      and canonical(item.text) == canonical(line)):
                found.append(line)
    return found


def _missing(wanted: list[str], have: list[str]) -> list[str]:
    present = {canonical(x) for x in have}
    keys = {_key(x): x for x in have}
    return [x for x in wanted if canonical(x) not in present
            and not (_is_default(x) and _key(x) not in keys)]


def _replaced(line: str, have: list[str]) -> str | None:
    key = _key(line)
    return next((x for x in have if key is not None and _key(x) == key), None)


def plan_change(intent: str, running: str, pushed: str | None = None) -> Plan:
    """The plan from `running` to `intent`, negating only recorded lines (see module doc)."""
    want, have = parse(intent), parse(running)
    record = _Record(parse_record(pushed))
    adds: list[str] = []
    negations: list[str] = []
    diff: list[str] = []
    # Global lines.
    for line in _missing(want.lines, have.lines):
        adds.append(line)
        old = _replaced(line, have.lines)
        diff += ([f"- {old}"] if old else []) + [f"+ {line}"]
    for line in _owned(reversed(record.lines), have.lines, want.lines):
        negations.append("no " + line.strip())
        diff.append(f"- {line}")
    # Sections (interfaces, lines, ...): children only; a section is never removed whole.
    for header in list(want.sections) + [h for h in record.sections if h not in want.sections]:
        wanted = want.sections.get(header, [])
        current = have.sections.get(header)
        added = _missing(wanted, current or [])
        stale = _owned(record.sections.get(header, []), current or [], wanted)
        if not added and not stale:
            continue
        if current is None and header not in want.sections:
            continue
        commands = [header, *[" no " + x.strip() for x in stale], *added, " exit"]
        adds += commands
        diff += [f"  {header}", *[f"- {x}" for x in stale], *[f"+ {x}" for x in added]]
    # VLANs, where the VTP mode keeps them.
    vlan_adds, vlan_negations, vlan_diff = _plan_vlans(want, have, record)
    adds += vlan_adds
    negations = vlan_negations + negations
    diff += vlan_diff
    return Plan(diff="\n".join(diff) + "\n" if diff else "", actions=adds + negations)


def _plan_vlans(want: IOSConfig, have: IOSConfig,
                record: _Record) -> tuple[list[str], list[str], list[str]]:
    adds: list[str] = []
    negations: list[str] = []
    diff: list[str] = []
    for vlan, name in sorted(want.vlans.items()):
        if vlan in have.vlans and (name is None or have.vlans[vlan] == name):
            continue
        if have.vtp_mode == "client":
            raise IntentError(
                f"the switch is a VTP client: VLAN {vlan}{' ' + name if name else ''} must be "
                "made on the VTP server of its domain (a VTP client refuses VLAN changes)")
        adds += [f"vlan {vlan}", *([f" name {name}"] if name else []), " exit"]
        if vlan in have.vlans:
            diff += [f"  vlan {vlan}", f"- name {have.vlans[vlan] or f'VLAN{vlan:04d}'}",
                     f"+ name {name}"]
        else:
            diff += [f"+ vlan {vlan}", *([f"+  name {name}"] if name else [])]
    for vlan in sorted(record.vlans - set(want.vlans) - RESERVED_VLANS):
        if vlan not in have.vlans:
            continue
        if have.vtp_mode == "client":
            raise IntentError(f"the switch is a VTP client: VLAN {vlan} must be removed on "
                              "the VTP server of its domain")
        negations.append(f"no vlan {vlan}")
        diff.append(f"- vlan {vlan}")
    return adds, negations, diff


def plan_rollback(backup: str, current: str) -> Plan:
    """Bring `current` back to `backup`: undo every difference (the push's own changes)."""
    old, now = parse(backup), parse(current)
    adds: list[str] = []
    negations: list[str] = []
    for line in _missing(old.lines, now.lines):
        adds.append(line)
    for line in now.lines:
        if canonical(line) not in {canonical(x) for x in old.lines} \
                and _replaced(line, old.lines) is None:
            negations.append("no " + line)
    for header in sorted(set(old.sections) | set(now.sections)):
        before, after = old.sections.get(header, []), now.sections.get(header)
        added = _missing(before, after or [])
        removed = [x for x in after or [] if canonical(x) not in {canonical(y) for y in before}
                   and _replaced(x, before) is None]
        if header not in old.sections and not header.startswith("interface "):
            negations.append("no " + header)
            continue
        if added or removed:
            adds += [header, *[" no " + x.strip() for x in removed], *added, " exit"]
    if now.vtp_mode != "client":
        for vlan, name in sorted(old.vlans.items()):
            if now.vlans.get(vlan, -1) != name:
                adds += [f"vlan {vlan}", *([f" name {name}"] if name else []), " exit"]
        for vlan in sorted(set(now.vlans) - set(old.vlans) - RESERVED_VLANS):
            negations.append(f"no vlan {vlan}")
    actions = adds + negations
    return Plan(diff="\n".join(actions) + "\n" if actions else "", actions=actions)


class CiscoIOS:
    name = "cisco_ios"
    keeps_pushed_record = True  # controller/jobs.py passes `pushed` and writes the record

    def connect(self, target: DeviceTarget) -> Any:
        conn = netmiko_connect(target, "cisco_ios")
        if target.secret and not conn.check_enable_mode():
            conn.enable()
        return conn

    def normalise(self, raw: str) -> str:
        lines = raw.replace("\r\n", "\n").replace("\r", "").split("\n")
        kept = [line.rstrip() for line in lines if line.strip() and not VOLATILE.match(line)]
        return "\n".join(kept) + "\n"

    def fetch(self, conn: Any, intent: str) -> str:
        running = self.normalise(conn.send_command("show running-config", read_timeout=60))
        mode = vtp_mode_of(conn.send_command("show vtp status"))
        if mode in ("server", "client"):
            running += vlan_db_text(mode, parse_vlan_brief(conn.send_command("show vlan brief")))
        return running

    def pushed_record(self, intent: str) -> list[str]:
        """The intent's lines to record after a successful push (write-only lines too)."""
        return [line.rstrip() for line in intent.splitlines() if line.strip()]

    def plan(self, intent: str, running: str, pushed: str | None = None) -> Plan:
        lines = intent.splitlines()
        write_only = [line for line in lines if WRITE_ONLY.match(line)]
        shown = "\n".join(line for line in lines if not WRITE_ONLY.match(line)) + "\n"
        plan = plan_change(shown, running, pushed)
        if plan.actions and write_only:
            plan.actions += write_only
            plan.diff += "".join(f"+ {line}  (IOS never shows it: sent with every change)\n"
                                 for line in write_only)
        return plan

    def rollback_plan(self, backup: str, current: str) -> Plan:
        return plan_rollback(backup, current)

    def apply(self, conn: Any, plan: Plan) -> None:
        conn.config_mode()
        try:
            for command in plan.actions:
                output = conn.send_command(command.strip(), expect_string=CONFIG_PROMPT,
                                           strip_prompt=False, read_timeout=30)
                lines = [line for line in output.replace("\r", "").split("\n")
                         if line.strip() and not re.search(CONFIG_PROMPT, line)
                         and line.strip() != command.strip()]
                if ERROR_FORMS.search("\n".join(line.strip() for line in lines)):
                    raise DeviceError("\n".join([command.strip(), *lines]))
        finally:
            conn.exit_config_mode()
            conn.set_base_prompt()  # `hostname` renames the prompt

    def save(self, conn: Any) -> None:
        output = conn.save_config()
        if "[OK]" not in output:
            raise DeviceError(f"write memory: {output.strip()}")
