"""A Cisco IOS / IOS-XE CLI, close enough for netmiko's `cisco_ios` driver and as strict as IOS.

User and privileged exec, `enable` with its password, `configure terminal` with interface,
vlan and line sub-modes (a global command in a sub-mode drops back to global config, as on
IOS), `no` forms, abbreviated keywords, `show running-config`, `show vtp status`, `show vlan
brief`, `write memory`. What it takes from IOS itself (sources in README "IOS corpus" and here):

- error messages: `% Invalid input detected at '^' marker.` with the caret under the bad word,
  `% Incomplete command.`, `% Ambiguous command:  "<input>"` (Cisco NetAcad ITN 2.1.4.4 "Command
  Syntax Check"; "Command Syntax Check", ahmadihabibi.wordpress.com, 2011);
- defaults are not shown: `logging trap informational` (Cisco "show logging" sample: trap level
  informational with no `logging trap` line), `logging history warnings` (Cisco IOS in a
  Nutshell), SNMPv3 users, a VLAN's default name `VLANnnnn`;
- VLANs live where the VTP mode keeps them: in server and client mode in vlan.dat (shown by
  `show vlan brief`, never in running-config: the oxidized backups of a C2960/C3560CX/C3750
  in server mode in tests/data/ios_configs have no `vlan` lines); in transparent and off mode
  in running-config too, with `vtp domain`/`vtp mode` lines (Catalyst 3750-X/3560-X config
  guide, "Configuring VTP": transparent mode changes are saved in the running configuration);
  a VTP client refuses VLAN changes with "VTP VLAN configuration not allowed when device is in
  CLIENT mode." (no `%`); `vtp mode` answers "Setting device to VTP <Mode> mode for VLANS.";
- 12.x shows a syslog host as `logging A.B.C.D`, 15.x and later as `logging host A.B.C.D`
  (the corpus: 12.0/12.1/12.4 vs 15.0/15.2/15.4 backups);
- physical interfaces exist or not (IOS lists every one in running-config); only logical ones
  (Vlan, Loopback, Port-channel, Tunnel) are created by `interface`.

A changed state file (`simpul lab seed`, lab/ssh_sim/cisco_ios_seed.py) is picked up on the
next command, as if the device had been reloaded with that configuration.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import threading
from datetime import UTC, datetime
from typing import Any

from lab.ssh_sim.state import DeviceState

Block = list[Any]  # [line, [child lines]]

GLOBAL_WORDS = {
    "hostname", "ntp", "logging", "snmp-server", "aaa", "username", "enable", "service", "ip",
    "ipv6", "vlan", "interface", "line", "banner", "clock", "spanning-tree", "vtp", "archive",
    "boot", "tacacs", "radius", "cdp", "lldp", "errdisable", "version", "no", "end", "exit",
    "do", "vrf", "router", "access-list", "default",
}
SUB_WORDS = {
    "interface": {"description", "switchport", "shutdown", "ip", "ipv6", "no", "channel-group",
                  "speed", "duplex", "mtu", "spanning-tree", "storm-control", "load-interval",
                  "cdp", "lldp", "exit", "end", "do", "negotiation", "media-type"},
    "vlan": {"name", "state", "shutdown", "no", "exit", "end", "do"},
    "line": {"transport", "login", "exec-timeout", "logging", "access-class", "privilege",
             "password", "session-timeout", "no", "length", "width", "exit", "end", "do",
             "authorization", "exec"},
}
EXEC_WORDS = {"show", "configure", "write", "copy", "enable", "disable", "exit", "logout",
              "quit", "terminal", "ping", "traceroute", "reload", "clear", "debug", "undebug",
              "dir", "more", "ssh", "telnet"}
SUB_MODE_NAME = {"interface": "config-if", "vlan": "config-vlan", "line": "config-line"}
# A new line with one of these prefixes replaces the existing line with the same prefix.
SINGLE_VALUED = [
    "hostname", "snmp-server location", "snmp-server contact", "logging trap",
    "logging history", "logging buffered", "logging source-interface", "clock timezone",
    "ip domain name", "ip domain-name", "enable secret", "service timestamps debug",
    "service timestamps log", "ntp source", "ip default-gateway", "banner motd",
    "description", "ip address", "switchport mode", "switchport access vlan",
    "switchport trunk allowed vlan", "switchport trunk native vlan", "mtu", "speed", "duplex",
    "name", "exec-timeout", "transport input", "logging synchronous", "login",
]
SHOWN_WHEN_OFF = {"aaa new-model", "ip routing", "ip domain-lookup"}
# Keyed lines: the first N words name the entry (a method list, a community, a user).
KEYED = {"username": 2, "snmp-server community": 3, "snmp-server group": 3,
         "snmp-server user": 3, "snmp-server view": 4, "aaa authentication login": 4,
         "aaa authentication enable": 4, "aaa authorization exec": 4,
         "aaa authorization network": 4, "aaa accounting exec": 4,
         "aaa accounting system": 4}
HIDDEN_DEFAULTS = {"logging trap informational", "logging history warnings"}
LOG_LEVELS = ("emergencies", "alerts", "critical", "errors", "warnings", "notifications",
              "informational", "debugging")
PHYSICAL = ("GigabitEthernet", "TenGigabitEthernet", "FastEthernet", "Ethernet",
            "TwoGigabitEthernet", "FortyGigabitEthernet", "HundredGigE", "Serial", "ATM",
            "Dialer", "Virtual-Template", "Null")
LOGICAL = ("Vlan", "Loopback", "Port-channel", "Tunnel")
INTERFACE_RE = re.compile(r"^(" + "|".join(PHYSICAL + LOGICAL) + r")(\d+(/\d+){0,3}(\.\d+)?)$")
DEFAULT_VLANS = {1: "default", 1002: "fddi-default", 1003: "token-ring-default",
                 1004: "fddinet-default", 1005: "trnet-default"}
VTP_MODES = ("server", "client", "transparent", "off")


class IOSError(Exception):
    """`column` is the 0-based column in the command where IOS puts its '^' marker."""

    def __init__(self, column: int | None, message: str = "% Invalid input detected at '^' "
                 "marker."):
        self.column = column
        super().__init__(message)


class IOSOutput(Exception):  # noqa: N818 - not a failure: IOS's own answer, no caret
    """A refusal IOS prints as plain text (e.g. the VTP client's VLAN refusal)."""


def fake_hash(secret: str) -> str:
    digest = hashlib.sha256(("simpul-lab:" + secret).encode()).hexdigest()
    return "$9$" + digest[:14] + "$" + digest[14:57]


def default_config(name: str, username: str, password: str, enable: str | None) -> list[Block]:
    blocks: list[Block] = [
        ["version 15.2", []], ["service timestamps debug datetime msec", []],
        ["service timestamps log datetime msec", []], ["service password-encryption", []],
        ["hostname Switch", []], ["boot-start-marker", []], ["boot-end-marker", []],
    ]
    if enable:
        blocks.append([f"enable secret 9 {fake_hash(enable)}", []])
    blocks += [
        [f"username {username} privilege 15 secret 9 {fake_hash(password)}", []],
        ["no aaa new-model", []], ["ip cef", []],
        ["vlan internal allocation policy ascending", []],
    ]
    for slot in range(1, 5):
        blocks.append([f"interface TenGigabitEthernet1/0/{slot}", []])
    # A 48-port switch, as a regency's distribution switch is (Catalyst 3850-48T/9300-48T:
    # GigabitEthernet1/0/1-48); the demo's noc-dist uses 36 of them.
    for port in range(1, 49):
        blocks.append([f"interface GigabitEthernet1/0/{port}", []])
    blocks += [["interface Vlan1", [" no ip address", " shutdown"]],
               ["line con 0", [" logging synchronous"]],
               ["line vty 0 4", [" login local", " transport input ssh"]]]
    return blocks


def version_of(blocks: list[Block]) -> str:
    for line, _ in blocks:
        if line.startswith("version "):
            return str(line.split()[1])
    return "15.2"


def _major(version: str) -> float:
    m = re.match(r"^(\d+)\.(\d+)", version)
    return float(f"{m[1]}.{m[2]}") if m else 15.2


def vlan_list(ids: list[int]) -> str:
    """`10,20,30-32`: IOS's compact form of a VLAN list (runs of three or more as ranges)."""
    out: list[str] = []
    run: list[int] = []
    for vlan in sorted(ids) + [-2]:
        if run and vlan == run[-1] + 1:
            run.append(vlan)
            continue
        if run:
            out.append(f"{run[0]}-{run[-1]}" if len(run) >= 3 else ",".join(map(str, run)))
        run = [vlan]
    return ",".join(out)


class IOSDevice:
    """One simulated switch: running and startup configuration and its VLAN database (the
    part of vlan.dat the CLI shows), shared by its SSH sessions."""

    def __init__(self, name: str, state: DeviceState, username: str, password: str,
                 enable: str | None):
        self.name = name
        self.state = state
        self.enable_secret = enable
        self.lock = threading.RLock()
        self.startup: list[Block] = []
        self.running: list[Block] = []
        self.vtp: dict[str, Any] = {}
        self.vlans: dict[int, str] = {}
        self._stamp: int | None = None
        loaded = state.load()
        if loaded is None:
            self._load({"startup": default_config(name, username, password, enable)})
            self.persist()
        else:
            self._load(loaded)
            self._stamp = self._state_stamp()
        self.changed_at = datetime.now(UTC)
        self.changed_by = "console"

    def _load(self, data: dict[str, Any]) -> None:
        self.startup = [[b[0], list(b[1])] for b in data["startup"]]
        self.running = [[b[0], list(b[1])] for b in self.startup]
        self.vtp = dict(data.get("vtp") or {"mode": "server", "domain": "", "version": 1})
        vlans = data.get("vlans")
        self.vlans = {int(k): str(v) for k, v in vlans.items()} if vlans else dict(DEFAULT_VLANS)
        self.version = str(data.get("version") or version_of(self.startup))

    def _state_stamp(self) -> int | None:
        try:
            return os.stat(self.state.path).st_mtime_ns
        except FileNotFoundError:
            return None

    def refresh(self) -> bool:
        """Pick up a state file someone else wrote (a seed): True if it was reloaded."""
        stamp = self._state_stamp()
        if stamp is None or stamp == self._stamp:
            return False
        loaded = self.state.load()
        if loaded is None:
            return False
        self._load(loaded)
        self._stamp = stamp
        self.changed_at, self.changed_by = datetime.now(UTC), "console"
        return True

    def persist(self) -> None:
        self.state.save({"startup": self.startup, "vtp": self.vtp, "version": self.version,
                         "vlans": {str(k): v for k, v in sorted(self.vlans.items())}})
        self._stamp = self._state_stamp()

    def hostname(self) -> str:
        for line, _ in self.running:
            if line.startswith("hostname "):
                return str(line.split(" ", 1)[1])
        return "Router"

    def find(self, line: str) -> Block | None:
        for block in self.running:
            if block[0] == line:
                return block
        return None

    def _shown(self, blocks: list[Block]) -> list[Block]:
        """What running-config prints: defaults, SNMPv3 users hidden; VTP lines and VLANs in
        transparent and off mode; `logging host` in the release's own form."""
        out: list[Block] = []
        old_logging = _major(self.version) < 15.0
        for line, children in blocks:
            if line.startswith("snmp-server user ") or line in HIDDEN_DEFAULTS:
                continue
            if old_logging and re.match(r"^logging host \d+\.\d+\.\d+\.\d+$", line):
                line = "logging " + line.split()[2]
            out.append([line, children])
        if self.vtp.get("mode") in ("transparent", "off"):
            vtp: list[Block] = []
            if self.vtp.get("domain"):
                vtp.append([f"vtp domain {self.vtp['domain']}", []])
            vtp.append([f"vtp mode {self.vtp['mode']}", []])
            named = [[f"vlan {vid}", [f" name {name}"]] for vid, name in sorted(self.vlans.items())
                     if vid not in DEFAULT_VLANS and name != f"VLAN{vid:04d}"]
            plain = [vid for vid, name in self.vlans.items()
                     if vid not in DEFAULT_VLANS and name == f"VLAN{vid:04d}"]
            vlans: list[Block] = ([[f"vlan {vlan_list(plain)}", []]] if plain else []) + named
            at = next((i for i, b in enumerate(out) if b[0].startswith("interface ")), len(out))
            out[at:at] = vtp + vlans
        return out

    def render(self, blocks: list[Block]) -> str:
        out: list[str] = []
        previous_had_children = True
        for line, children in blocks:
            if children or previous_had_children or line.startswith(("interface ", "vlan ",
                                                                      "line ")):
                out.append("!")
            out.append(line)
            out.extend(children)
            previous_had_children = bool(children)
        out += ["!", "end"]
        return "\n".join(out)

    def show_running(self) -> str:
        body = self.render(self._shown(self.running))
        stamp = self.changed_at.strftime("%H:%M:%S UTC %a %b %d %Y")
        return (f"Building configuration...\n\nCurrent configuration : {len(body)} bytes\n!\n"
                f"! Last configuration change at {stamp} by {self.changed_by}\n" + body)

    def show_vtp_status(self) -> str:
        """Both layouts: VTP 1/2 (12.2(50)SE4) and the 15.x one (oxidized backups, corpus)."""
        mode = str(self.vtp.get("mode", "server")).capitalize()
        domain = self.vtp.get("domain", "")
        count = len(self.vlans)
        if _major(self.version) < 15.0:
            return (f"VTP Version                     : running VTP1 (VTP2 capable)\n"
                    f"Configuration Revision          : 0\n"
                    f"Maximum VLANs supported locally : 1005\n"
                    f"Number of existing VLANs        : {count}\n"
                    f"VTP Operating Mode              : {mode}\n"
                    f"VTP Domain Name                 : {domain}\n"
                    f"VTP Pruning Mode                : Disabled\n"
                    f"VTP V2 Mode                     : Disabled\n"
                    f"VTP Traps Generation            : Disabled\n")
        return (f"VTP Version capable             : 1 to 3\n"
                f"VTP version running             : 1\n"
                f"VTP Domain Name                 : {domain}\n"
                f"VTP Pruning Mode                : Disabled\n"
                f"VTP Traps Generation            : Disabled\n"
                f"Feature VLAN:\n--------------\n"
                f"VTP Operating Mode                : {mode}\n"
                f"Maximum VLANs supported locally   : 1005\n"
                f"Number of existing VLANs          : {count}\n"
                f"Configuration Revision            : 0\n")

    def show_vlan_brief(self) -> str:
        """`VLAN Name Status Ports` with IOS's column widths (4, 32, 9)."""
        ports: dict[int, list[str]] = {}
        for line, children in self.running:
            m = re.match(r"^interface (\w+?)(\d.*)$", line)
            if not m or not line.startswith(tuple(f"interface {p}" for p in PHYSICAL[:6])):
                continue
            text = "\n".join(children)
            if "switchport mode trunk" in text or "no switchport" in text \
                    or re.search(r"^ ip address \d", text, re.M):
                continue
            access = re.search(r"^ switchport access vlan (\d+)", text, re.M)
            ports.setdefault(int(access[1]) if access else 1, []).append(
                m[1][:2] + m[2])
        out = ["VLAN Name                             Status    Ports",
               "---- -------------------------------- --------- -------------------------------"]
        for vid, name in sorted(self.vlans.items()):
            status = "act/unsup" if vid in DEFAULT_VLANS and vid != 1 else "active"
            members = ports.get(vid, [])
            rows = [", ".join(members[i:i + 4]) for i in range(0, len(members), 4)] or [""]
            out.append(f"{vid:<4} {name:<32} {status:<9} {rows[0]}".rstrip())
            out += [" " * 48 + row for row in rows[1:]]
        return "\n".join(out) + "\n"


def _key(line: str) -> str | None:
    text = line.strip()
    for prefix, words in KEYED.items():
        if text.startswith(prefix + " "):
            return " ".join(text.split()[:words])
    for prefix in SINGLE_VALUED:
        if text == prefix or text.startswith(prefix + " "):
            return prefix
    return None


def _set_line(lines: list[str], line: str, indent: str = "") -> None:
    """Add a line, replacing the line it supersedes (same single-valued prefix or key)."""
    key = _key(line)
    full = indent + line
    if full in lines:
        return
    if key is not None:
        for i, existing in enumerate(lines):
            if _key(existing) == key:
                lines[i] = full
                return
    if line == "shutdown" and (indent + "no shutdown") in lines:
        lines.remove(indent + "no shutdown")
    if (indent + "no " + line) in lines:  # e.g. `aaa new-model` replaces `no aaa new-model`
        lines[lines.index(indent + "no " + line)] = full
        return
    lines.append(full)


def _remove_line(lines: list[str], what: str, indent: str = "") -> None:
    """`no X` removes X, or the line that X is a prefix of (e.g. `no ntp server 1.1.1.1`)."""
    if what == "shutdown":
        if indent + "shutdown" in lines:
            lines.remove(indent + "shutdown")
        return
    key = _key(what)
    for i, existing in enumerate(lines):
        text = existing.strip()
        if text == what or text.startswith(what + " "):
            if what in SHOWN_WHEN_OFF:
                lines[i] = indent + "no " + what
            else:
                del lines[i]
            return
    if key is not None:
        for i, existing in enumerate(lines):
            if _key(existing.strip()) == key:
                del lines[i]
                return
    if what in SHOWN_WHEN_OFF:
        lines.append(indent + "no " + what)


def _check_ip(value: str, column: int) -> None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise IOSError(column) from None


def _word_columns(text: str) -> list[tuple[str, int]]:
    return [(m.group(0), m.start()) for m in re.finditer(r"\S+", text)]


def normalise_interface(name: str) -> str | None:
    m = re.match(r"^([A-Za-z-]+)\s*([\d/.]+)$", name)
    if not m:
        return None
    kind = m[1].lower()
    matches = [full for full in PHYSICAL + LOGICAL if full.lower().startswith(kind)]
    exact = [full for full in matches if full.lower() == kind]
    if exact:
        matches = exact
    elif kind in ("gi", "g"):
        matches = ["GigabitEthernet"]
    elif kind in ("te", "t"):
        matches = ["TenGigabitEthernet"]
    elif kind in ("fa", "f"):
        matches = ["FastEthernet"]
    if len(matches) != 1:
        return None
    candidate = matches[0] + m[2]
    return candidate if INTERFACE_RE.match(candidate) else None


def expand(word: str, choices: set[str], text: str, column: int) -> str:
    """An abbreviated keyword as IOS reads it: a unique prefix stands for the keyword."""
    if word in choices:
        return word
    found = [choice for choice in choices if choice.startswith(word)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise IOSError(column)
    raise IOSError(None, f'% Ambiguous command:  "{text}"')


def check_command(words: list[tuple[str, int]]) -> None:
    """Argument checks for the commands Simpul's templates (and engineers) use."""
    head = [w for w, _ in words]
    if not head:
        return
    first = head[0]
    need = {"hostname": 2, "description": 2, "name": 2, "username": 2, "logging": 2, "ntp": 3,
            "snmp-server": 2, "aaa": 2, "clock": 2, "vtp": 2}
    if first in need and len(head) < need[first]:
        raise IOSError(None, "% Incomplete command.")
    if first == "hostname" and not re.match(r"^[A-Za-z][A-Za-z0-9-]{0,62}$", head[1]):
        raise IOSError(words[1][1])
    if first == "ntp" and head[1] == "server":
        _check_ip(head[2], words[2][1])
    if first == "logging" and head[1] == "host":
        if len(head) < 3:
            raise IOSError(None, "% Incomplete command.")
        _check_ip(head[2], words[2][1])
    if first == "logging" and head[1] == "trap" and len(head) > 2 \
            and head[2] not in LOG_LEVELS and not (head[2].isdigit() and int(head[2]) <= 7):
        raise IOSError(words[2][1])
    if first == "name" and len(head[1]) > 32:
        raise IOSError(words[1][1])
    if first == "ip" and len(head) > 1 and head[1] == "address" and len(head) >= 3 and \
            head[2] != "dhcp":
        if len(head) < 4:
            raise IOSError(None, "% Incomplete command.")
        _check_ip(head[2], words[2][1])
        _check_ip(head[3], words[3][1])
    if first == "vlan":
        if len(head) < 2:
            raise IOSError(None, "% Incomplete command.")
        if head[1] not in ("internal", "dot1q") and not vlan_ids(head[1]):
            raise IOSError(words[1][1])
    if first == "switchport" and len(head) >= 4 and head[1] == "access" and head[2] == "vlan":
        if not head[3].isdigit() or not 1 <= int(head[3]) <= 4094:
            raise IOSError(words[3][1])
    if first == "snmp-server" and head[1] == "community" and len(head) < 3:
        raise IOSError(None, "% Incomplete command.")


def vlan_ids(spec: str) -> list[int]:
    """`10,20-22` as IDs; empty if malformed or outside 1-4094."""
    ids: list[int] = []
    for part in spec.split(","):
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            return []
        ids += list(range(int(low), int(high or low) + 1))
    return ids if all(1 <= v <= 4094 for v in ids) else []


class IOSCli:
    """One SSH session on a simulated IOS device."""

    def __init__(self, device: IOSDevice, username: str):
        self.device = device
        self.username = username
        self.closed = False
        self.echo = True
        self.mode = "exec"  # exec | priv | config | interface | vlan | line
        self.block: Block | None = None
        self.vlan_ids: list[int] = []
        self._awaiting_enable = False

    def banner(self) -> str:
        return "\n"

    def prompt(self) -> str:
        if self._awaiting_enable:
            return "Password: "
        name = self.device.hostname()
        if self.mode == "exec":
            return f"{name}>"
        if self.mode == "priv":
            return f"{name}#"
        if self.mode == "config":
            return f"{name}(config)#"
        return f"{name}({SUB_MODE_NAME[self.mode]})#"

    def handle_line(self, line: str) -> str:
        if self._awaiting_enable:
            self._awaiting_enable = False
            self.echo = True
            secret = self.device.enable_secret
            if secret is None or line == secret:
                self.mode = "priv"
                return ""
            return "% Access denied"
        text = line.strip()
        if not text:
            return ""
        self.device.state.log_command(text)
        prompt_len = len(self.prompt())
        try:
            with self.device.lock:
                if self.device.refresh() and self.mode not in ("exec", "priv"):
                    self.mode, self.block = "config", None
                return self._dispatch(text)
        except IOSOutput as exc:
            return str(exc)
        except IOSError as exc:
            if exc.column is None:
                return str(exc)
            offset = len(line) - len(line.lstrip())
            return " " * (prompt_len + offset + exc.column) + "^\n" + str(exc) + "\n"

    # ----------------------------------------------------------------------- exec

    def _dispatch(self, text: str) -> str:
        if self.mode in ("exec", "priv"):
            return self._exec(text)
        words = text.split()
        if words[0] == "do":
            return self._exec(text[2:].strip(), from_config=True)
        if words[0] == "end" and len(words) == 1:
            self.mode, self.block = "priv", None
            return ""
        if words[0] == "exit" and len(words) == 1:
            if self.mode == "config":
                self.mode = "priv"
            else:
                self.mode, self.block = "config", None
            return ""
        return self._config(text)

    def _exec(self, text: str, from_config: bool = False) -> str:
        columns = _word_columns(text)
        first, column = columns[0]
        if first not in EXEC_WORDS and not (len(columns) == 1 and not from_config
                                            and not any(w.startswith(first)
                                                        for w in EXEC_WORDS)):
            first = expand(first, EXEC_WORDS, text, column)
        words = [first] + [w for w, _ in columns[1:]]
        priv = self.mode != "exec"
        cmd = " ".join(words)
        if cmd in ("exit", "logout", "quit") and not from_config:
            self.closed = True
            return ""
        if words[0] == "enable" and len(words) == 1 and not from_config:
            if priv:
                return ""
            self._awaiting_enable = True
            self.echo = False
            return ""
        if cmd == "disable" and not from_config:
            self.mode = "exec"
            return ""
        if words[0] == "terminal" and len(words) >= 2 and words[1] in ("length", "width"):
            if len(words) != 3 or not words[2].isdigit():
                raise IOSError(None, "% Incomplete command.")
            return ""
        if words[0] == "show" and len(words) >= 2:
            return self._show(words, columns, priv)
        if priv and cmd in ("write mem", "write memory", "write",
                            "copy running-config startup-config", "copy run start"):
            self.device.startup = [[b[0], list(b[1])] for b in self.device.running]
            self.device.persist()
            return "Building configuration...\n[OK]"
        if priv and not from_config and re.match(r"^configure( t(erminal)?)?$", cmd):
            self.mode = "config"
            return "Enter configuration commands, one per line.  End with CNTL/Z."
        if len(words) == 1 and not from_config and words[0] not in EXEC_WORDS:
            return ("Translating \"" + words[0] + "\"\n% Unknown command or computer name, or "
                    "unable to find computer address")
        if len(columns) == 1:
            raise IOSError(None, "% Incomplete command.")
        raise IOSError(columns[-1][1])

    def _show(self, words: list[str], columns: list[tuple[str, int]], priv: bool) -> str:
        what = words[1]
        if "version".startswith(what) and len(what) >= 3:
            return (f"Cisco IOS Software, C3850 Software (CAT3K_CAA-UNIVERSALK9-M), "
                    f"Version {self.device.version}, RELEASE SOFTWARE (fc1)\n\n"
                    f"{self.device.hostname()} uptime is 12 weeks, 3 days, 4 hours\n")
        if priv and what in ("running-config", "run", "running", "runn", "running-c"):
            return self.device.show_running()
        if priv and what in ("startup-config", "start", "startup"):
            return "Using 2048 out of 524288 bytes\n!\n" + self.device.render(
                self.device._shown(self.device.startup))
        if what == "vtp" and len(words) >= 3 and "status".startswith(words[2]):
            return self.device.show_vtp_status()
        if what in ("vlan", "vla") and len(words) >= 3 and "brief".startswith(words[2]):
            return self.device.show_vlan_brief()
        if len(words) == 2 and what in ("vtp", "vlan"):
            raise IOSError(None, "% Incomplete command.")
        raise IOSError(columns[1][1])

    # ----------------------------------------------------------------------- config

    def _config(self, text: str) -> str:
        columns = _word_columns(text)
        negate = columns[0][0] == "no"
        body_columns = columns[1:] if negate else columns
        if negate and not body_columns:
            raise IOSError(None, "% Incomplete command.")
        word, column = body_columns[0]
        in_sub = self.mode in SUB_WORDS
        sub_words = SUB_WORDS.get(self.mode, set())
        if in_sub and (word in sub_words or (word not in GLOBAL_WORDS and any(
                w.startswith(word) for w in sub_words))):
            keyword = expand(word, sub_words, text, column)
            body_columns = [(keyword, column), *body_columns[1:]]
            return self._sub_command(body_columns, negate)
        keyword = expand(word, GLOBAL_WORDS - {"no", "do", "end", "exit"}, text, column)
        body_columns = [(keyword, column), *body_columns[1:]]
        self.mode, self.block = "config", None
        check_command(body_columns)
        body = [w for w, _ in body_columns]
        if keyword == "vtp":
            return self._vtp(body, body_columns, negate)
        if keyword == "vlan" and body[1] not in ("internal", "dot1q"):
            return self._vlan(body, body_columns, negate)
        if keyword == "logging" and len(body) == 2 and re.match(r"^\d+\.\d+\.\d+\.\d+$",
                                                                body[1]):
            _check_ip(body[1], body_columns[1][1])
            body = ["logging", "host", body[1]]  # the 12.x form of `logging host`
        line = " ".join(body)
        if keyword in ("interface", "line"):
            header = self._section_header(keyword, body_columns)
            existing = self.device.find(header)
            if negate:
                if existing is not None and header.startswith(tuple(
                        f"interface {p}" for p in LOGICAL)):
                    self.device.running.remove(existing)
                    self._touched()
                elif existing is not None:
                    raise IOSError(body_columns[1][1])  # physical ports cannot be removed
                return ""
            if existing is None:
                if keyword == "interface" and not header.startswith(tuple(
                        f"interface {p}" for p in LOGICAL)):
                    raise IOSError(body_columns[1][1])  # no such port on this device
                existing = [header, []]
                self.device.running.append(existing)
                self._touched()
            self.mode, self.block = keyword, existing
            return ""
        lines = [b[0] for b in self.device.running]
        before = list(lines)
        if negate:
            _remove_line(lines, line)
            if keyword == "hostname":
                lines.append("hostname Router")
        else:
            if line in HIDDEN_DEFAULTS:
                # Setting the default removes any other level; IOS then shows nothing.
                lines[:] = [x for x in lines if _key(x) != _key(line)]
            _set_line(lines, line)
        if lines != before:
            by_line = {b[0]: b for b in self.device.running}
            self.device.running = [by_line.get(item, [item, []]) for item in lines]
            self._touched()
        return ""

    def _sub_command(self, body_columns: list[tuple[str, int]], negate: bool) -> str:
        check_command(body_columns)
        body = [w for w, _ in body_columns]
        line = " ".join(body)
        if self.mode == "vlan":
            return self._vlan_sub(body, body_columns, negate)
        assert self.block is not None
        if negate:
            _remove_line(self.block[1], line, " ")
        else:
            _set_line(self.block[1], line, " ")
        self._touched()
        return ""

    def _vtp(self, body: list[str], columns: list[tuple[str, int]], negate: bool) -> str:
        what = expand(body[1], {"mode", "domain", "version", "password", "pruning"},
                      " ".join(body), columns[1][1])
        if what == "mode":
            if negate:
                mode = "server"
            elif len(body) < 3:
                raise IOSError(None, "% Incomplete command.")
            else:
                mode = expand(body[2], set(VTP_MODES), " ".join(body), columns[2][1])
            if self.device.vtp.get("mode") == mode:
                return f"Device mode already VTP {mode.capitalize()} for VLANS."
            self.device.vtp["mode"] = mode
            self.device.persist()
            self._touched()
            return f"Setting device to VTP {mode.capitalize()} mode for VLANS."
        if what == "domain":
            if len(body) < 3:
                raise IOSError(None, "% Incomplete command.")
            old = self.device.vtp.get("domain") or "NULL"
            self.device.vtp["domain"] = body[2]
            self.device.persist()
            return f"Changing VTP domain name from {old} to {body[2]}"
        return ""

    def _vlan(self, body: list[str], columns: list[tuple[str, int]], negate: bool) -> str:
        ids = vlan_ids(body[1])
        if self.device.vtp.get("mode") == "client":
            # No `%`: the Catalyst's own words (issue 13, checked on real switches).
            raise IOSOutput("VTP VLAN configuration not allowed when device is in CLIENT mode.")
        if negate:
            for vid in ids:
                if vid in DEFAULT_VLANS:
                    raise IOSOutput(f"%Default VLAN {vid} may not be deleted.")
            for vid in ids:
                self.device.vlans.pop(vid, None)
            self.device.persist()
            self._touched()
            return ""
        for vid in ids:
            self.device.vlans.setdefault(vid, f"VLAN{vid:04d}")
        self.device.persist()
        self._touched()
        self.mode, self.block, self.vlan_ids = "vlan", None, ids
        return ""

    def _vlan_sub(self, body: list[str], columns: list[tuple[str, int]], negate: bool) -> str:
        if body[0] == "name":
            for vid in self.vlan_ids:
                if vid in DEFAULT_VLANS:
                    raise IOSOutput(f"%Default VLAN {vid} may not have its name changed.")
                self.device.vlans[vid] = f"VLAN{vid:04d}" if negate else body[1]
            self.device.persist()
            self._touched()
        return ""

    def _section_header(self, keyword: str, columns: list[tuple[str, int]]) -> str:
        words = [w for w, _ in columns]
        if len(words) < 2:
            raise IOSError(None, "% Incomplete command.")
        if keyword == "interface":
            name = normalise_interface("".join(words[1:]))
            if name is None:
                raise IOSError(columns[1][1])
            return f"interface {name}"
        if words[1] not in ("con", "vty", "aux") or len(words) < 3:
            raise IOSError(columns[1][1])
        return " ".join(words)

    def _touched(self) -> None:
        self.device.changed_at = datetime.now(UTC)
        self.device.changed_by = self.username
