"""Cisco IOS: `show running-config` against the intent, remediation through hier-config.

Only what the intent speaks about is compared: the interfaces and VLANs it names, and the
global commands sharing a keyword with its lines (all `ntp server`, all `logging host`, ...).
Local users, enable secret and line settings stay the device's own unless a template names them.
"""

from __future__ import annotations

import re
from typing import Any

from hier_config import HConfig, Platform, WorkflowRemediation, get_hconfig

from controller.devices.base import DeviceError, DeviceTarget, Plan, netmiko_connect

VOLATILE = re.compile(
    r"^(Building configuration|Current configuration\s*:|! Last configuration change|"
    r"! NVRAM config last updated|! No configuration change since|ntp clock-period|end$|!)")
ERROR_RE = re.compile(r"^% (Invalid|Incomplete|Ambiguous|Unknown|Bad|Error|.*not )", re.M)
TWO_WORD_KEYS = ("ntp", "logging", "snmp-server", "aaa", "ip", "ipv6", "clock", "service",
                 "spanning-tree", "banner", "username", "enable")
SECTIONS = ("interface ", "vlan ", "line ", "router ", "ip access-list ")
PROTECTED_VLANS = {"1", "1002", "1003", "1004", "1005"}
CONFIG_PROMPT = r"\)#\s*$"
# Lines IOS accepts but never shows in running-config: not compared, sent with every change.
WRITE_ONLY = re.compile(r"^snmp-server user ")


def _scope_key(line: str) -> str:
    words = line.removeprefix("no ").split()
    if not words:
        return ""
    if words[0] in TWO_WORD_KEYS and len(words) > 1:
        return " ".join(words[:2])
    return words[0]


def _blocks(text: str) -> list[tuple[str, list[str]]]:
    blocks: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith(" ") and blocks:
            blocks[-1][1].append(line)
        else:
            blocks.append((line.rstrip(), []))
    return blocks


def scoped_running(intent: str, running: str) -> str:
    """The running-config lines in the intent's scope."""
    want = _blocks(intent)
    headers = {line for line, children in want if line.startswith(SECTIONS)}
    kinds = {line.split()[0] for line in headers}
    keys = {_scope_key(line) for line, _ in want if not line.startswith(SECTIONS)}
    out: list[str] = []
    for line, children in _blocks(running):
        if line.startswith(SECTIONS):
            vlan = line.split()[1] if line.startswith("vlan ") else None
            if line in headers or (vlan is not None and "vlan" in kinds
                                   and vlan not in PROTECTED_VLANS):
                out += [line, *children]
        elif _scope_key(line) in keys:
            out.append(line)
    return "\n".join(out) + "\n"


def _commands(config: HConfig) -> list[str]:
    """Flatten a remediation into CLI lines, leaving each section with `exit`."""
    out: list[str] = []

    def walk(node: Any, depth: int) -> None:
        for child in node.children:
            out.append(" " * depth + child.text)
            if child.children:
                walk(child, depth + 1)
                out.append(" " * (depth + 1) + "exit")

    walk(config, 0)
    return out


def _plan(target_text: str, current_text: str) -> Plan:
    current = get_hconfig(Platform.CISCO_IOS, current_text)
    target = get_hconfig(Platform.CISCO_IOS, target_text)
    remediation = WorkflowRemediation(current, target).remediation_config
    actions = _commands(remediation)
    diff = "\n".join(current.unified_diff(target)) if actions else ""
    return Plan(diff=diff + "\n" if diff else "", actions=actions)


class CiscoIOS:
    name = "cisco_ios"

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
        return self.normalise(conn.send_command("show running-config", read_timeout=60))

    def plan(self, intent: str, running: str) -> Plan:
        lines = intent.splitlines()
        write_only = [line for line in lines if WRITE_ONLY.match(line)]
        shown = "\n".join(line for line in lines if not WRITE_ONLY.match(line)) + "\n"
        plan = _plan(shown, scoped_running(shown, running))
        if plan.actions and write_only:
            plan.actions += write_only
            plan.diff += "".join(f"+ {line}  (IOS never shows it: sent with every change)\n"
                                 for line in write_only)
        return plan

    def rollback_plan(self, backup: str, current: str) -> Plan:
        return _plan(backup, current)

    def apply(self, conn: Any, plan: Plan) -> None:
        conn.config_mode()
        try:
            for command in plan.actions:
                output = conn.send_command(command.strip(), expect_string=CONFIG_PROMPT,
                                           strip_prompt=False, read_timeout=30)
                if ERROR_RE.search(output):
                    lines = [line for line in output.replace("\r", "").split("\n")
                             if line.strip() and not re.search(CONFIG_PROMPT, line)]
                    raise DeviceError("\n".join([command.strip(), *lines]))
        finally:
            conn.exit_config_mode()
            conn.set_base_prompt()  # `hostname` renames the prompt

    def save(self, conn: Any) -> None:
        output = conn.save_config()
        if "[OK]" not in output:
            raise DeviceError(f"write memory: {output.strip()}")
