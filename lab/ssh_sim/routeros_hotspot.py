"""RouterOS `/ip hotspot active` (login, print, remove) and `/ip hotspot host` for the simulator.

Loaded by lab.ssh_sim as an extension. The simulator has no radio, so it cannot see clients
join: tests and the demo add them with `/ip hotspot host add address=... mac-address=...`
(a lab-only verb; on a real router the host table fills itself; `lab-from=` names the
loopback address the client's HTTP comes from, for lab.ssh_sim.routeros_hotspot_http).
`/ip hotspot cookie` keeps the MAC cookies a login adds when the user profile says so.
"""

from __future__ import annotations

import ipaddress
import re
import time
import zlib
from collections.abc import Callable
from typing import Any

from lab.ssh_sim import routeros
from lab.ssh_sim.routeros import Command, RouterOSDevice, RouterOSError, matches, quote

MAC_RE = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")

# Called with the active entries a removal ends and the RADIUS cause (lab.ssh_sim.
# routeros_radius sends their accounting Stop).
ENDED_HOOKS: list[Callable[[RouterOSDevice, list[dict[str, Any]], str], None]] = []

if "login" not in routeros.VERBS:
    routeros.VERBS = (*routeros.VERBS, "login")


def _uptime(seconds: int) -> str:
    out = ""
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out + f"{seconds}s"


def _check_ip(value: str, key: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise RouterOSError(f"invalid value for argument {key}") from None


def _check_mac(value: str) -> str:
    if not MAC_RE.match(value):
        raise RouterOSError("invalid value for argument mac-address")
    return value.upper()


def _filters(cmd: Command) -> dict[str, str]:
    return {key: value for key, value, _ in cmd.args}


def _print(rows: list[dict[str, Any]], keys: tuple[str, ...], cmd: Command) -> str:
    flags = {flag for flag, _ in cmd.flags}
    unknown = flags - {"terse", "without-paging", "where", "detail"}
    if unknown:
        column = next(col for flag, col in cmd.flags if flag in unknown)
        raise RouterOSError(f"expected end of command (line 1 column {column})")
    wanted = _filters(cmd)
    lines = ["Flags: R - RADIUS, B - BLOCKED"] if "terse" not in flags else []
    for number, row in enumerate(rows):
        if any(str(row.get(k, "")) != v for k, v in wanted.items()):
            continue
        body = " ".join(f"{k}={quote(str(row[k]))}" for k in keys if k in row)
        lines.append(f"{number:>2}   {body}")
    return "\n".join(lines)


def _traffic(row: dict[str, Any], now: int) -> dict[str, int]:
    """A logged-in client's byte counters: a steady rate of its own (20-200 kB/s down, an
    eighth of that up, from its MAC), so the demo's accounting and quotas have data."""
    seconds = max(0, now - int(row["since"]))
    down_rate = 20_000 + zlib.crc32(str(row["mac-address"]).encode()) % 180_000
    return {"bytes-in": seconds * down_rate // 8, "bytes-out": seconds * down_rate}


class HotspotActive:
    """Logged-in hotspot clients."""

    def rows(self, device: RouterOSDevice) -> list[dict[str, Any]]:
        return device.data.setdefault("list", {}).setdefault("/ip hotspot active", [])

    def __call__(self, cmd: Command, device: RouterOSDevice) -> str:
        rows = self.rows(device)
        if cmd.verb == "login":
            args = _filters(cmd)
            for key in ("user", "ip", "mac-address"):
                if key not in args:
                    raise RouterOSError(f"failure: {key} not specified")
            extra = set(args) - {"user", "password", "ip", "mac-address"}
            if extra:
                column = next(col for key, _, col in cmd.args if key in extra)
                raise RouterOSError(f"expected end of command (line 1 column {column})")
            ip = _check_ip(args["ip"], "ip")
            mac = _check_mac(args["mac-address"])
            if any(r["address"] == ip for r in rows):
                raise RouterOSError("failure: already logged in")
            log_in(device, args["user"], ip, mac, "http-pap")
            if mac_cookie_added(device, args["user"]):
                cookies(device)[:] = [c for c in cookies(device) if c["mac-address"] != mac]
                cookies(device).append({"user": args["user"], "mac-address": mac,
                                        "domain": "", "since": int(time.time())})
            return ""
        if cmd.verb == "print":
            now = int(time.time())
            shown = [{**r, "uptime": _uptime(now - int(r["since"])), **_traffic(r, now)}
                     for r in rows]
            return _print(shown, ("server", "user", "address", "mac-address", "login-by",
                                  "uptime", "bytes-in", "bytes-out"), cmd)
        if cmd.verb == "remove":
            if cmd.selector is None:
                raise RouterOSError(f"expected end of command (line 1 column "
                                    f"{len(cmd.line) + 1})")
            selector = cmd.selector.strip()
            if selector.startswith("["):
                keep = [r for r in rows if not matches(selector, _strings(r),
                                                        cmd.selector_column)]
            else:
                numbers = {int(n) for n in selector.split(",") if n.isdigit()}
                if any(n >= len(rows) for n in numbers):
                    raise RouterOSError("no such item")
                keep = [r for i, r in enumerate(rows) if i not in numbers]
            ended(device, [r for r in rows if r not in keep], "Admin-Reset")
            rows[:] = keep
            return ""
        raise routeros.bad_verb(cmd)


def log_in(device: RouterOSDevice, user: str, ip: str, mac: str, by: str) -> None:
    """Admit a client (the portal's `active login`, or a cookie login by the servlet)."""
    HotspotActive().rows(device).append({"server": "hotspot1", "user": user, "address": ip,
                                         "mac-address": mac, "login-by": by,
                                         "since": int(time.time())})


def ended(device: RouterOSDevice, rows: list[dict[str, Any]], cause: str) -> None:
    """Tell the hooks that these active entries ended (cause: RFC 2866 Acct-Terminate-Cause)."""
    for hook in ENDED_HOOKS:
        hook(device, rows, cause)


def items(device: RouterOSDevice, path: str) -> list[dict[str, Any]]:
    return device.data.setdefault("list", {}).setdefault(path, [])


def cookies(device: RouterOSDevice) -> list[dict[str, Any]]:
    return items(device, "/ip hotspot cookie")


def mac_cookie_added(device: RouterOSDevice, user: str) -> bool:
    """Whether a login adds a MAC cookie: the user's profile's add-mac-cookie, which is yes
    unless set (community.routeros's model: /ip hotspot user profile add-mac-cookie default
    yes; MikroTik manual, "HotSpot": "add-mac-cookie ... Allows to add mac cookie for users")."""
    found = next((u for u in items(device, "/ip hotspot user") if u.get("name") == user), {})
    profile_name = found.get("profile", "default")
    profile = next((p for p in items(device, "/ip hotspot user profile")
                    if p.get("name") == profile_name), {})
    return profile.get("add-mac-cookie", "yes") == "yes"


class HotspotCookie:
    """Cookies the hotspot keeps for automatic re-login (`print`, `remove`): removing a
    client's active entry leaves them (MikroTik manual, "HotSpot", /ip hotspot cookie)."""

    def __call__(self, cmd: Command, device: RouterOSDevice) -> str:
        rows = cookies(device)
        if cmd.verb == "print":
            now = int(time.time())
            shown = [{**r, "expires-in": _uptime(max(0, 3 * 86400 - (now - int(r["since"]))))}
                     for r in rows]
            return _print(shown, ("user", "domain", "mac-address", "expires-in"), cmd)
        if cmd.verb == "remove":
            return _remove_found(rows, cmd)
        raise routeros.bad_verb(cmd)


class HotspotHost:
    """Clients the hotspot has seen (address and MAC), logged in or not."""

    def __call__(self, cmd: Command, device: RouterOSDevice) -> str:
        rows = device.data.setdefault("list", {}).setdefault("/ip hotspot host", [])
        if cmd.verb == "add":  # lab only: stands in for a client joining the WiFi
            args = _filters(cmd)
            ip = _check_ip(args.get("address", ""), "address")
            mac = _check_mac(args.get("mac-address", ""))
            row = {"address": ip, "mac-address": mac, "server": "hotspot1"}
            if "lab-from" in args:  # lab: the loopback address this client's HTTP comes from
                row["lab-from"] = _check_ip(args["lab-from"], "lab-from")
            rows[:] = [r for r in rows if r["address"] != ip]
            rows.append(row)
            return ""
        if cmd.verb == "print":
            return _print(rows, ("mac-address", "address", "server"), cmd)
        if cmd.verb == "remove":
            return _remove_found(rows, cmd)
        raise routeros.bad_verb(cmd)


def _remove_found(rows: list[dict[str, Any]], cmd: Command) -> str:
    """`remove [ find ... ]` (these menus take no item numbers here)."""
    selector = (cmd.selector or "").strip()
    if not selector.startswith("["):
        raise RouterOSError("no such item")
    rows[:] = [r for r in rows if not matches(selector, _strings(r), cmd.selector_column)]
    return ""


def _strings(row: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in row.items()}


routeros.HANDLERS["/ip hotspot active"] = HotspotActive()
routeros.HANDLERS["/ip hotspot host"] = HotspotHost()
routeros.HANDLERS["/ip hotspot cookie"] = HotspotCookie()
