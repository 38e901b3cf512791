"""Linux gateway: `table inet simpul_portal` (templates/linux/hotspot_gateway.j2) over SSH.

One persistent netmiko `linux` session per gateway. Changes are batched into one `nft` command
(one transaction: all or nothing). The allowed set has per-element timeouts and counters;
per-client rate limits are meters in the table itself, keyed by client address.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
from captive_portal.gateways.batching import GroupCommit
from captive_portal.gateways.ssh import GatewaySession
from controller.inventory import Device, Inventory
from controller.secrets import SecretStore

log = logging.getLogger("simpul.portal.nftables")

TABLE = "inet simpul_portal"
RC_MARK = "__SIMPUL_RC="
MAX_LINE_CHARS = 3500  # under the terminal's 4095-character line limit, with room to spare


def element_commands(op: str, grant_or_client: Grant | Client) -> list[str]:
    """nft commands for one client. `op` is 'allow' or 'revoke'.

    Both sets exist in the template: `allowed` (address . MAC, counts upload) and `allowed_down`
    (address, counts download). Adding before deleting makes a delete of an absent element (and
    an allow of a present one, which must refresh its timeout) never fail the transaction.
    """
    client = grant_or_client.client if isinstance(grant_or_client, Grant) else grant_or_client
    ip, mac = normalise_ip(client.ip), normalise_mac(client.mac)
    if ":" in ip:
        raise GatewayError("the nftables gateway template handles IPv4 clients only")
    up = f"element {TABLE} allowed {{ {ip} . {mac} }}"
    down = f"element {TABLE} allowed_down {{ {ip} }}"
    commands = [f"add {up}", f"add {down}", f"delete {up}", f"delete {down}"]
    if isinstance(grant_or_client, Grant):
        timeout = max(1, int(grant_or_client.timeout_s))
        commands += [
            f"add element {TABLE} allowed {{ {ip} . {mac} timeout {timeout}s }}",
            f"add element {TABLE} allowed_down {{ {ip} timeout {timeout}s }}",
        ]
    return commands


def parse_sets(text: str, where: str) -> dict[str, list[dict[str, Any]]]:
    """Elements of each set in `nft -j list table|set` output:
    {set name: [{'key': [..] or str, 'expires', 'bytes'}]}."""
    start = text.find('{"nftables"')  # skip any echo of the command before the JSON
    try:
        doc = json.loads(text[start:] if start >= 0 else text)
        items = doc["nftables"]
    except (ValueError, KeyError, TypeError) as exc:
        raise GatewayError(f"{where}: unexpected `nft -j` output ({exc})") from None
    sets: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        if not isinstance(item, dict) or "set" not in item:
            continue
        elements = sets.setdefault(str(item["set"].get("name")), [])
        for elem in item["set"].get("elem", []) or []:
            if isinstance(elem, dict) and "elem" in elem:
                inner = elem["elem"]
                value = inner.get("val")
            else:
                inner, value = {}, elem
            key: Any = value["concat"] if isinstance(value, dict) and "concat" in value else value
            counter = inner.get("counter") or {}
            elements.append({
                "key": key,
                "expires": inner.get("expires"),
                "bytes": int(counter.get("bytes", 0)),
            })
    return sets


def pack_scripts(batches: list[list[str]], max_chars: int = MAX_LINE_CHARS) -> list[str]:
    """Join each client's commands into `nft` scripts short enough for one shell line.

    A terminal line holds at most 4095 characters, so a large batch (a reconcile after a
    gateway reboot) goes as several transactions; one client's commands never straddle two.
    """
    scripts: list[str] = []
    current = ""
    for batch in batches:
        part = "; ".join(batch)
        if current and len(current) + 2 + len(part) > max_chars:
            scripts.append(current)
            current = ""
        current = f"{current}; {part}" if current else part
    if current:
        scripts.append(current)
    return scripts


class NftablesGateway:
    def __init__(self, session: GatewaySession):
        self.name = session.name
        self._ssh = session
        self._lock = session.lock
        self._changes: GroupCommit[list[str]] = GroupCommit(self._send_changes, self._lock)

    @classmethod
    def for_device(cls, device: Device, inv: Inventory, secrets: SecretStore,
                   known_hosts: Path | None = None,
                   timeouts: SshTimeouts | None = None) -> NftablesGateway:
        return cls(GatewaySession.for_device(device, inv, secrets, "linux", known_hosts,
                                             timeouts))

    def _run_locked(self, command: str) -> str:
        """Run one shell command; return its stdout; raise GatewayError on non-zero exit."""
        output = self._ssh.send_locked(f"{command}; echo {RC_MARK}$?", cmd_verify=False)
        body, _, rc = output.rpartition(RC_MARK)
        code = rc.strip().splitlines()[0] if rc.strip() else "?"
        if code != "0":
            errors = [line for line in body.strip().splitlines() if "rror" in line][:2]
            raise GatewayError(f"gateway {self.name}: `{command.split()[0]}` failed "
                               f"(exit {code}): {redact(' / '.join(errors))}")
        return body

    def run(self, command: str) -> str:
        with self._lock:
            return self._run_locked(command)

    def close(self) -> None:
        self._ssh.close()

    # -- adapter ---------------------------------------------------------------------------
    def _send_changes(self, batches: list[list[str]]) -> None:
        for script in pack_scripts(batches):
            self._run_locked(f"nft '{script}'")
        log.debug("gateway %s: %d client changes sent", self.name, len(batches))

    def allow(self, grants: Sequence[Grant]) -> None:
        self._changes.submit([element_commands("allow", g) for g in grants])

    def revoke(self, clients: Sequence[Client]) -> None:
        self._changes.submit([element_commands("revoke", c) for c in clients])

    def allowed(self) -> list[AllowedClient]:
        # One listing of the table: a client's upload and download counters are read at the
        # same moment (two `nft list set` commands would read them a moment apart).
        with self._lock:
            text = self._run_locked(f"nft -j list table {TABLE}")
        sets = parse_sets(text, self.name)
        missing = [name for name in ("allowed", "allowed_down") if name not in sets]
        if missing:
            raise GatewayError(f"gateway {self.name}: table {TABLE} has no set "
                               f"{' or '.join(missing)}")
        down = {str(e["key"]): e["bytes"] for e in sets["allowed_down"]}
        result: list[AllowedClient] = []
        for elem in sets["allowed"]:
            key = elem["key"]
            if not isinstance(key, list) or len(key) != 2:
                continue
            try:
                client = Client(normalise_ip(str(key[0])), normalise_mac(str(key[1])))
            except ValueError:
                continue
            expires = elem["expires"]
            result.append(AllowedClient(client, int(expires) if expires is not None else None,
                                        elem["bytes"], down.get(client.ip, 0)))
        return result

    def mac_for_ip(self, ip: str) -> str | None:
        address = normalise_ip(ip)
        text = self.run(f"ip -j neigh show to {address}")
        start = text.find("[")
        try:
            entries = json.loads(text[start:] if start >= 0 else "[]")
        except ValueError:
            raise GatewayError(f"gateway {self.name}: unexpected `ip -j neigh` output") from None
        for entry in entries:
            if entry.get("dst") == address and entry.get("lladdr"):
                state = entry.get("state") or []
                if "FAILED" in state or "INCOMPLETE" in state:
                    continue
                try:
                    return normalise_mac(entry["lladdr"])
                except ValueError:
                    continue
        return None
