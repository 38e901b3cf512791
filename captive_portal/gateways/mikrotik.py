"""MikroTik RouterOS hotspot with an external login page (the portal), over netmiko.

Login goes through `/ip hotspot active login` with the hotspot's portal user (its user profile
carries the per-client rate limit); accounting reads `/ip hotspot active print`; a session ends
by `/ip hotspot active remove` and `/ip hotspot cookie remove` (no re-login by cookie).
RouterOS sessions have no per-login timeout here: the portal's reaper ends them at the
session's expiry. Who a client is comes from `/ip hotspot host` (mac_for_ip), never from the
parameters the hotspot's login.html passes along.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

from captive_portal.gateways.base import (
    AllowedClient,
    Client,
    GatewayError,
    Grant,
    SshTimeouts,
    normalise_ip,
    normalise_mac,
    redact,
)
from captive_portal.gateways.ssh import GatewaySession
from controller.devices.escape import ros_quoted as quote
from controller.devices.mikrotik_routeros import unquote
from controller.inventory import Device, Hotspot, Inventory
from controller.secrets import SecretStore

log = logging.getLogger("simpul.portal.mikrotik")

ERROR_MARKS = ("failure:", "bad command name", "expected end of command", "expected command",
               "invalid value", "syntax error", "no such item", "input does not match",
               "value of ")
PAIR_RE = re.compile(r'([a-z0-9.-]+)=("(?:\\.|[^"\\])*"|\S*)')
DURATION_RE = re.compile(r"(\d+)([wdhms])")
UNIT_S = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_terse(text: str) -> list[dict[str, str]]:
    """`print terse` output -> one dict per item (values unquoted)."""
    items = []
    for line in text.splitlines():
        if not re.match(r"^\s*\d+\s", line):
            continue
        item = {}
        for key, raw in PAIR_RE.findall(line):
            item[key] = unquote(raw)
        items.append(item)
    return items


def parse_duration(text: str) -> int | None:
    parts = DURATION_RE.findall(text or "")
    return sum(int(n) * UNIT_S[u] for n, u in parts) if parts else None


class MikrotikGateway:
    def __init__(self, session: GatewaySession, user: str, password: str):
        self.name = session.name
        self._ssh = session
        self._lock = session.lock
        self._user = user
        self._password = password

    @classmethod
    def for_device(cls, device: Device, inv: Inventory, secrets: SecretStore,
                   hotspot: Hotspot, known_hosts: Path | None = None,
                   timeouts: SshTimeouts | None = None) -> MikrotikGateway:
        user = str(device.vars.get("hotspot_user", "simpul-portal"))
        password = secrets.require(hotspot.gateway_login_secret)
        return cls(GatewaySession.for_device(device, inv, secrets, "mikrotik_routeros",
                                             known_hosts, timeouts), user, password)

    def _run_locked(self, command: str) -> str:
        output = self._ssh.send_locked(command)
        lowered = output.strip().lower()
        if any(lowered.startswith(mark) or f"\n{mark}" in lowered for mark in ERROR_MARKS):
            first = output.strip().splitlines()[0]
            raise GatewayError(f"gateway {self.name}: `{command.split(' [')[0][:40]}` refused: "
                               f"{redact(first[:120])}")
        return output

    def close(self) -> None:
        self._ssh.close()

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
        """End each client's session and remove its cookies: removing the active entry alone
        leaves the MAC cookie, which would log the client straight back in (RouterOS's
        /ip hotspot cookie; the hotspot template also turns cookie logins off)."""
        with self._lock:
            for client in clients:
                ip, mac = normalise_ip(client.ip), normalise_mac(client.mac)
                self._run_locked(f"/ip hotspot active remove [find address={ip}]")
                self._run_locked(f"/ip hotspot cookie remove [find mac-address={mac.upper()}]")

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
