"""A Cisco IOS 15 CLI, close enough for netmiko's `cisco_ios` driver.

User and privileged exec, `enable` with its password, `configure terminal` with interface,
vlan and line sub-modes (a global command in a sub-mode drops back to global config, as on
IOS), `no` forms, `show running-config`, `write memory`, and IOS's own error messages.
"""

from __future__ import annotations

import hashlib
import ipaddress
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
    "do", "vrf", "router", "access-list",
}
SUB_WORDS = {
    "interface": {"description", "switchport", "shutdown", "ip", "ipv6", "no", "channel-group",
                  "speed", "duplex", "mtu", "spanning-tree", "storm-control", "load-interval",
                  "cdp", "lldp", "exit", "end", "do"},
    "vlan": {"name", "state", "shutdown", "no", "exit", "end", "do"},
    "line": {"transport", "login", "exec-timeout", "logging", "access-class", "privilege",
             "password", "session-timeout", "no", "length", "width", "exit", "end", "do"},
}
SUB_MODE_NAME = {"interface": "config-if", "vlan": "config-vlan", "line": "config-line"}
# A new line with one of these prefixes replaces the existing line with the same prefix.
SINGLE_VALUED = [
    "hostname", "snmp-server location", "snmp-server contact", "logging trap",
    "logging buffered", "logging source-interface", "clock timezone", "ip domain name",
    "ip domain-name", "enable secret", "service timestamps debug", "service timestamps log",
    "ntp source", "ip default-gateway", "aaa authentication login default",
    "aaa authorization exec default", "aaa accounting exec default", "banner motd",
    "description", "ip address", "switchport mode", "switchport access vlan",
    "switchport trunk allowed vlan", "switchport trunk native vlan", "mtu", "speed", "duplex",
    "name", "exec-timeout", "transport input", "logging synchronous", "login",
]
SHOWN_WHEN_OFF = {"aaa new-model", "ip routing", "ip domain-lookup"}
KEYED = {"username": 2, "snmp-server community": 3, "snmp-server group": 3,
         "snmp-server user": 3, "snmp-server view": 4}
INTERFACE_RE = re.compile(
    r"^(GigabitEthernet|TenGigabitEthernet|FastEthernet|Vlan|Loopback|Port-channel)"
    r"(\d+(/\d+){0,2})$")
INTERFACE_SHORT = {"gi": "GigabitEthernet", "te": "TenGigabitEthernet", "fa": "FastEthernet",
                   "vl": "Vlan", "lo": "Loopback", "po": "Port-channel"}


class IOSError(Exception):
    """`column` is the 0-based column in the command where IOS puts its '^' marker."""

    def __init__(self, column: int | None, message: str = "% Invalid input detected at '^' "
                 "marker."):
        self.column = column
        super().__init__(message)


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
        ["no aaa new-model", []], ["ip cef", []], ["vlan 1", []],
    ]
    for slot in range(1, 5):
        blocks.append([f"interface TenGigabitEthernet1/0/{slot}", []])
    for port in range(1, 25):
        blocks.append([f"interface GigabitEthernet1/0/{port}", []])
    blocks += [["interface Vlan1", [" no ip address", " shutdown"]],
               ["line con 0", [" logging synchronous"]],
               ["line vty 0 4", [" login local", " transport input ssh"]]]
    return blocks


class IOSDevice:
    """One simulated switch: running and startup configuration shared by its SSH sessions."""

    def __init__(self, name: str, state: DeviceState, username: str, password: str,
                 enable: str | None):
        self.name = name
        self.state = state
        self.enable_secret = enable
        self.lock = threading.RLock()
        loaded = state.load()
        if loaded is None:
            self.startup = default_config(name, username, password, enable)
            self.persist_startup()
        else:
            self.startup = loaded["startup"]
        self.running: list[Block] = [[b[0], list(b[1])] for b in self.startup]
        self.changed_at = datetime.now(UTC)
        self.changed_by = "console"

    def persist_startup(self) -> None:
        self.state.save({"startup": self.startup})

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
        # Like IOS, SNMPv3 users are configured but never shown.
        body = self.render([b for b in self.running if not b[0].startswith("snmp-server user ")])
        stamp = self.changed_at.strftime("%H:%M:%S UTC %a %b %d %Y")
        return (f"Building configuration...\n\nCurrent configuration : {len(body)} bytes\n!\n"
                f"! Last configuration change at {stamp} by {self.changed_by}\n" + body)


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
    """Add a line, replacing the line it supersedes (same single-valued prefix)."""
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
        if text == what or text.startswith(what + " ") or (key and _key(text) == key
                                                           and key in KEYED):
            if what in SHOWN_WHEN_OFF:
                lines[i] = indent + "no " + what
            else:
                del lines[i]
            return
    if key is not None and key not in KEYED:
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
    m = re.match(r"^([A-Za-z-]+)\s*([\d/]+)$", name)
    if not m:
        return None
    kind = m[1]
    for short, full in INTERFACE_SHORT.items():
        if full.lower().startswith(kind.lower()) and kind.lower().startswith(short):
            kind = full
            break
    candidate = kind + m[2]
    return candidate if INTERFACE_RE.match(candidate) else None


def check_command(words: list[tuple[str, int]]) -> None:
    """Argument checks for the commands Simpul's templates use."""
    head = [w for w, _ in words]
    if not head:
        return
    first = head[0]
    need = {"hostname": 2, "description": 2, "name": 2, "username": 2, "logging": 2, "ntp": 3,
            "snmp-server": 2, "aaa": 2, "clock": 2}
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
    if first == "ip" and len(head) > 1 and head[1] == "address" and len(head) >= 3 and \
            head[2] != "dhcp":
        if len(head) < 4:
            raise IOSError(None, "% Incomplete command.")
        _check_ip(head[2], words[2][1])
        _check_ip(head[3], words[3][1])
    if first == "vlan":
        if len(head) < 2:
            raise IOSError(None, "% Incomplete command.")
        if not all(p.isdigit() and 1 <= int(p) <= 4094 for p in head[1].split(",")):
            raise IOSError(words[1][1])
    if first == "switchport" and len(head) >= 4 and head[1] == "access" and head[2] == "vlan":
        if not head[3].isdigit() or not 1 <= int(head[3]) <= 4094:
            raise IOSError(words[3][1])
    if first == "snmp-server" and head[1] == "community" and len(head) < 3:
        raise IOSError(None, "% Incomplete command.")


class IOSCli:
    """One SSH session on a simulated IOS device."""

    def __init__(self, device: IOSDevice, username: str):
        self.device = device
        self.username = username
        self.closed = False
        self.echo = True
        self.mode = "exec"  # exec | priv | config | interface | vlan | line
        self.block: Block | None = None
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
                return self._dispatch(text)
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
        words = text.split()
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
        if cmd in ("show version", "sh ver"):
            return (f"Cisco IOS Software, C3850 Software (CAT3K_CAA-UNIVERSALK9-M), "
                    f"Version 15.2(7)E8, RELEASE SOFTWARE (fc1)\n\n{self.device.hostname()} "
                    f"uptime is 12 weeks, 3 days, 4 hours, 5 minutes\n")
        if priv and re.match(r"^(show|sh) (running-config|run|running)$", cmd):
            return self.device.show_running()
        if priv and re.match(r"^(show|sh) (startup-config|start)$", cmd):
            return "Using 2048 out of 524288 bytes\n!\n" + self.device.render(
                self.device.startup)
        if priv and cmd in ("write mem", "write memory", "wr", "write",
                            "copy running-config startup-config", "copy run start"):
            self.device.startup = [[b[0], list(b[1])] for b in self.device.running]
            self.device.persist_startup()
            return "Building configuration...\n[OK]"
        if priv and not from_config and re.match(r"^conf(igure)?( t(erminal)?)?$", cmd):
            self.mode = "config"
            return "Enter configuration commands, one per line.  End with CNTL/Z."
        if len(words) == 1 and not from_config:
            return ("Translating \"" + words[0] + "\"\n% Unknown command or computer name, or "
                    "unable to find computer address")
        columns = _word_columns(text)
        raise IOSError(columns[-1][1] if len(columns) > 1 else 0)

    # ----------------------------------------------------------------------- config

    def _config(self, text: str) -> str:
        columns = _word_columns(text)
        words = [w for w, _ in columns]
        first = words[0]
        negate = first == "no"
        body_columns = columns[1:] if negate else columns
        body = [w for w, _ in body_columns]
        if negate and not body:
            raise IOSError(None, "% Incomplete command.")
        keyword = body[0]
        if self.mode in SUB_WORDS and (first in SUB_WORDS[self.mode] and
                                       (not negate or keyword in SUB_WORDS[self.mode])):
            check_command(body_columns)
            assert self.block is not None
            line = " ".join(body)
            if negate:
                _remove_line(self.block[1], line, " ")
            else:
                _set_line(self.block[1], line, " ")
            self._touched()
            return ""
        if first not in GLOBAL_WORDS or (negate and keyword not in GLOBAL_WORDS):
            raise IOSError(body_columns[0][1] if negate else columns[0][1])
        self.mode, self.block = "config", None
        check_command(body_columns)
        line = " ".join(body)
        if keyword in ("interface", "vlan", "line"):
            header = self._section_header(keyword, body_columns)
            existing = self.device.find(header)
            if negate:
                if existing is not None:
                    self.device.running.remove(existing)
                    self._touched()
                return ""
            if existing is None:
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
            _set_line(lines, line)
        if lines != before:
            by_line = {b[0]: b for b in self.device.running}
            self.device.running = [by_line.get(item, [item, []]) for item in lines]
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
        if keyword == "line":
            if words[1] not in ("con", "vty", "aux") or len(words) < 3:
                raise IOSError(columns[1][1])
            return " ".join(words)
        return f"vlan {words[1]}"

    def _touched(self) -> None:
        self.device.changed_at = datetime.now(UTC)
        self.device.changed_by = self.username
