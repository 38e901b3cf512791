"""MikroTik RouterOS hotspot with an external login page (the portal), over netmiko.

Login goes through `/ip hotspot active login` with the hotspot's portal user (its user profile
carries the per-client rate limit); accounting reads `/ip hotspot active print`; a session ends
by `/ip hotspot active remove`. RouterOS sessions have no per-login timeout here: the portal's
reaper ends them at the session's expiry.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from typing import Any

from captive_portal.gateways import (
    AllowedClient,
    Client,
    GatewayError,
    Grant,
    normalise_ip,
    normalise_mac,
    redact,
)
from controller.inventory import Device, Hotspot, Inventory
from controller.secrets import SecretStore

log = logging.getLogger("simpul.portal.mikrotik")

ERROR_MARKS = ("failure:", "bad command name", "expected end of command", "expected command",
               "invalid value", "syntax error", "no such item", "input does not match",
               "value of ")
PAIR_RE = re.compile(r'([a-z0-9.-]+)=("(?:\\.|[^"\\])*"|\S*)')
DURATION_RE = re.compile(r"(\d+)([wdhms])")
UNIT_S = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def parse_terse(text: str) -> list[dict[str, str]]:
    """`print terse` output -> one dict per item (values unquoted)."""
    items = []
    for line in text.splitlines():
        if not re.match(r"^\s*\d+\s", line):
            continue
        item = {}
        for key, raw in PAIR_RE.findall(line):
            value = raw[1:-1].replace('\\"', '"').replace("\\\\", "\\") \
                if raw.startswith('"') else raw
            item[key] = value
        items.append(item)
    return items


def parse_duration(text: str) -> int | None:
    parts = DURATION_RE.findall(text or "")
    return sum(int(n) * UNIT_S[u] for n, u in parts) if parts else None


class MikrotikGateway:
    def __init__(self, name: str, connect_args: dict[str, Any], user: str, password: str):
        self.name = name
        self._connect_args = connect_args
        self._user = user
        self._password = password
        self._conn: Any = None
        self._lock = threading.Lock()

    @classmethod
    def for_device(cls, device: Device, inv: Inventory, secrets: SecretStore,
                   hotspot: Hotspot) -> MikrotikGateway:
        profile = inv.credential_profiles[device.credentials]
        args = {"device_type": "mikrotik_routeros", "host": str(device.mgmt_address),
                "port": device.mgmt_port, "username": profile.username,
                "password": secrets.require(profile.password_secret),
                "conn_timeout": 10, "auth_timeout": 10, "banner_timeout": 10}
        user = str(device.vars.get("hotspot_user", "simpul-portal"))
        password = secrets.require(hotspot.gateway_login_secret)
        return cls(device.name, args, user, password)

    def _run_locked(self, command: str, *, retry: bool = True) -> str:
        try:
            if self._conn is None:
                from netmiko import ConnectHandler

                self._conn = ConnectHandler(**self._connect_args)
            output: str = self._conn.send_command(command, read_timeout=30)
        except Exception as exc:
            self._close_locked()
            if retry:
                return self._run_locked(command, retry=False)
            raise GatewayError(f"gateway {self.name}: SSH failed: {type(exc).__name__}") from None
        lowered = output.strip().lower()
        if any(lowered.startswith(mark) or f"\n{mark}" in lowered for mark in ERROR_MARKS):
            first = output.strip().splitlines()[0]
            raise GatewayError(f"gateway {self.name}: `{command.split(' [')[0][:40]}` refused: "
                               f"{redact(first[:120])}")
        return output

    def _close_locked(self) -> None:
        if self._conn is not None:
            try:
                self._conn.disconnect()
            except Exception:  # closing a broken session
                pass
            self._conn = None

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def run_lab_command(self, command: str) -> str:
        """Run one command as is (tests and the lab: e.g. add a simulated hotspot host)."""
        with self._lock:
            return self._run_locked(command)

    def allow(self, grants: Sequence[Grant]) -> None:
        with self._lock:
            for grant in grants:
                ip, mac = normalise_ip(grant.client.ip), normalise_mac(grant.client.mac)
                self._run_locked(f"/ip hotspot active remove [find address={ip}]")
                self._run_locked(
                    f"/ip hotspot active login user={quote(self._user)} "
                    f"password={quote(self._password)} mac-address={mac.upper()} ip={ip}")

    def revoke(self, clients: Sequence[Client]) -> None:
        with self._lock:
            for client in clients:
                ip = normalise_ip(client.ip)
                self._run_locked(f"/ip hotspot active remove [find address={ip}]")

    def allowed(self) -> list[AllowedClient]:
        with self._lock:
            text = self._run_locked("/ip hotspot active print terse without-paging")
        result = []
        for item in parse_terse(text):
            try:
                client = Client(normalise_ip(item.get("address", "")),
                                normalise_mac(item.get("mac-address", "")))
            except ValueError:
                continue
            result.append(AllowedClient(
                client, parse_duration(item.get("session-time-left", "")),
                int(item.get("bytes-in", "0") or 0), int(item.get("bytes-out", "0") or 0)))
        return result

    def mac_for_ip(self, ip: str) -> str | None:
        address = normalise_ip(ip)
        with self._lock:
            text = self._run_locked(
                f"/ip hotspot host print terse without-paging where address={address}")
        for item in parse_terse(text):
            if item.get("address") == address and item.get("mac-address"):
                try:
                    return normalise_mac(item["mac-address"])
                except ValueError:
                    continue
        return None
