"""RouterOS's RADIUS client for the simulator: the `/radius` and `/radius incoming` menus, the
hotspot's Access-Request and accounting, and the RFC 5176 Disconnect-Request listener.

Loaded by lab.ssh_sim as an extension. What goes on the wire follows MikroTik's manual,
"RADIUS" (https://help.mikrotik.com/docs/spaces/ROS/pages/328097/RADIUS): Access-Request,
Access-Accept, Accounting-Request and "Connection Terminating from RADIUS"; the hotspot side
(use-radius, radius-accounting, radius-interim-update, nas-port-type, radius-mac-format) from
"HotSpot - Captive portal", Server Profile
(https://help.mikrotik.com/docs/spaces/ROS/pages/56459266/HotSpot+-+Captive+portal).
Packets are built and checked with pyrad; the attributes are lab/ssh_sim/radius_dictionary.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyrad import packet
from pyrad.client import Client, Timeout
from pyrad.dictionary import Dictionary

from controller.devices import routeros_model
from lab.ssh_sim import routeros, routeros_hotspot
from lab.ssh_sim.routeros import ListMenu, Prop, RouterOSDevice, SingletonMenu, _props

log = logging.getLogger("simpul.lab.radius")
DICTIONARY = Path(__file__).with_name("radius_dictionary")
# "NAS-Port-Type ... HotSpot - Ethernet | Cable | Wireless-802.11 (according to the value of
# nas-port-type parameter in /ip hotspot profile)"
NAS_PORT_TYPES = {"ethernet": "Ethernet", "cable": "Cable", "wireless-802.11": "Wireless-802.11"}
TICK_S = 0.2
_DICT: Dictionary | None = None


def dictionary() -> Dictionary:
    global _DICT
    if _DICT is None:
        _DICT = Dictionary(str(DICTIONARY))
    return _DICT


# --------------------------------------------------------------------------- menus

def _port(value: str) -> bool:
    return value.isdigit() and 1 <= int(value) <= 65535


def _address(value: str) -> bool:
    """"ipv4, ipv4@vrf, ipv6, ipv6@vrf" (the manual's /radius address)."""
    try:
        ipaddress.ip_address(value.split("@", 1)[0])
        return True
    except ValueError:
        return False


def _timeout(value: str) -> bool:
    """A time such as 300ms, 1s or 1100ms (RouterOS prints /radius timeouts in ms)."""
    return bool(re.fullmatch(r"\d+(ms|s)?", value)) and timeout_s(value) > 0


def timeout_s(value: str) -> float:
    if value.endswith("ms"):
        return int(value[:-2]) / 1000
    return float(value.rstrip("s") or 0)


routeros.HANDLERS["/radius"] = ListMenu("/radius", _props(
    "service", Prop("address", check=_address), Prop("secret", sensitive=True),
    Prop("authentication-port", check=_port), Prop("accounting-port", check=_port),
    Prop("timeout", check=_timeout), Prop("src-address", check=_address),
    "require-message-auth", "called-id", "domain", "realm", "accounting-backup", "protocol",
    "certificate"))
routeros.HANDLERS["/radius incoming"] = SingletonMenu("/radius incoming", _props(
    Prop("accept", routeros.YES_NO, default="no"), Prop("port", check=_port, default="3799")))


# --------------------------------------------------------------------------- configuration

def _defaults(device: RouterOSDevice, path: str) -> dict[str, str]:
    return routeros.model_defaults(path, device)


def hotspot_servers(device: RouterOSDevice) -> list[dict[str, str]]:
    """The enabled /radius entries for the hotspot service, in order ("The order of added
    items in this list is significant"), each with the model's defaults filled in."""
    defaults = _defaults(device, "/radius")
    return [{**defaults, **item} for item in routeros_hotspot.items(device, "/radius")
            if item.get("disabled") != "yes" and "hotspot" in item.get("service", "").split(",")
            and item.get("accounting-backup", "no") != "yes"]


def incoming(device: RouterOSDevice) -> dict[str, str]:
    current = device.data.get("single", {}).get("/radius incoming", {})
    return {**_defaults(device, "/radius incoming"), **current}


def profile_of(device: RouterOSDevice) -> dict[str, str]:
    """The first hotspot server's profile with the model's defaults filled in."""
    server = next(iter(routeros_hotspot.items(device, "/ip hotspot")), {})
    name = server.get("profile", "default")
    found = next((p for p in routeros_hotspot.items(device, "/ip hotspot profile")
                  if p.get("name") == name), {})
    return {**_defaults(device, "/ip hotspot profile"), **found}


def has_message_auth(device: RouterOSDevice) -> bool:
    """Whether this version has require-message-auth (the model: 7.15 and later), and so
    sends Message-Authenticator in its requests."""
    fields = routeros.model_fields("/radius", device) or {}
    return "require-message-auth" in fields


def _nas_ip(device: RouterOSDevice, server: dict[str, str], lab_address: str) -> str:
    source = server.get("src-address", "0.0.0.0").split("@", 1)[0]
    return lab_address if source in ("0.0.0.0", "::") else source


def _mac_format(mac: str, fmt: str) -> str:
    """radius-mac-format: the template's X/x are the MAC's hex digits in that case."""
    digits = iter(mac.replace(":", "").upper())
    out = ""
    for char in fmt:
        if char in "Xx":
            digit = next(digits, "")
            out += digit if char == "X" else digit.lower()
        else:
            out += char
    return out


# --------------------------------------------------------------------------- client

@dataclass
class Answer:
    accepted: bool
    attributes: dict[str, list[Any]]
    error: str = ""


def _client(device: RouterOSDevice, server: dict[str, str], lab_address: str) -> Client:
    secret = server.get("secret", "").encode()
    client = Client(server=server["address"].split("@", 1)[0],
                    authport=int(server["authentication-port"]),
                    acctport=int(server["accounting-port"]), secret=secret, dict=dictionary(),
                    retries=3, timeout=timeout_s(server.get("timeout", "300ms")),
                    enforce_ma=server.get("require-message-auth") == "yes-for-request-resp"
                    and has_message_auth(device))
    client.bind((_nas_ip(device, server, lab_address), 0))
    return client


def session_attributes(device: RouterOSDevice, row: dict[str, Any], server: dict[str, str],
                       lab_address: str) -> dict[str, Any]:
    """What every request about this client carries (the manual's Access-Request list, for a
    hotspot): the same in Accounting-Request ("Accounting-Request packets carry the same
    attributes as the Access Request")."""
    profile = profile_of(device)
    hotspot = next(iter(routeros_hotspot.items(device, "/ip hotspot")), {})
    attributes: dict[str, Any] = {
        "User-Name": row["user"],
        "NAS-Identifier": device.identity(),
        "NAS-IP-Address": _nas_ip(device, server, lab_address),
        "NAS-Port": int(row["nas-port"]),
        "NAS-Port-Type": NAS_PORT_TYPES[profile.get("nas-port-type", "wireless-802.11")],
        "NAS-Port-Id": hotspot.get("interface", ""),
        "Calling-Station-Id": _mac_format(row["mac-address"],
                                          profile.get("radius-mac-format", "XX:XX:XX:XX:XX:XX")),
        "Called-Station-Id": hotspot.get("name", ""),
        "Acct-Session-Id": row["session-id"],
        "Framed-IP-Address": row["address"],
        "Mikrotik-Host-IP": row["address"],
    }
    return {k: v for k, v in attributes.items() if v != ""}


def _new_session(device: RouterOSDevice, user: str, ip: str, mac: str) -> dict[str, Any]:
    state = device.data.setdefault("lab-radius", {"next-session": 0x80000001})
    number = int(state["next-session"])
    state["next-session"] = number + 1
    return {"user": user, "address": ip, "mac-address": mac,
            "session-id": f"{number:08X}", "nas-port": number & 0x7FFFFFFF}


def authenticate(device: RouterOSDevice, user: str, password: str, ip: str, mac: str,
                 lab_address: str) -> tuple[Answer, dict[str, Any]]:
    """Ask the hotspot's RADIUS servers, in order, about a PAP login; a server that does not
    answer (or answers with a bad authenticator) is skipped for the next one."""
    with device.lock:
        servers = hotspot_servers(device)
        session = _new_session(device, user, ip, mac)
        device.persist()
    if not servers:
        return Answer(False, {}, "no RADIUS server for hotspot"), session
    for server in servers:
        client = _client(device, server, lab_address)
        request = client.CreateAuthPacket(code=packet.AccessRequest,
                                          message_authenticator=has_message_auth(device))
        for key, value in session_attributes(device, session, server, lab_address).items():
            request[key] = value
        request["User-Password"] = request.PwCrypt(password)
        try:
            reply = client.SendPacket(request)
        except (Timeout, OSError):
            continue
        finally:
            client._CloseSocket()
        values = {key: list(reply[key]) for key in reply.keys() if isinstance(key, str)}
        if reply.code == packet.AccessAccept:
            return Answer(True, values), {**session, "server": server}
        message = values.get("Reply-Message", ["invalid username or password"])[0]
        return Answer(False, values, str(message)), session
    return Answer(False, {}, "RADIUS server is not responding"), session


def _limit(values: dict[str, list[Any]], name: str) -> int | None:
    low, high = values.get(name), values.get(name + "-Gigawords")
    if low is None and high is None:
        return None
    return (int(high[0]) if high else 0) * 2**32 + (int(low[0]) if low else 0)


def accepted_row(session: dict[str, Any], values: dict[str, list[Any]],
                 profile: dict[str, str]) -> dict[str, Any]:
    """The /ip hotspot active entry an Access-Accept makes: its timeouts, rate and byte
    limit (the manual: "Received attributes override the default ones")."""
    row: dict[str, Any] = {"user": session["user"], "address": session["address"],
                           "mac-address": session["mac-address"], "login-by": "http-pap",
                           "radius": "yes", "session-id": session["session-id"],
                           "nas-port": session["nas-port"]}
    for attribute, key in (("Session-Timeout", "session-timeout"),
                           ("Idle-Timeout", "idle-timeout")):
        if attribute in values:
            row[key] = int(values[attribute][0])
    if "Mikrotik-Rate-Limit" in values:
        row["rate-limit"] = str(values["Mikrotik-Rate-Limit"][0])
    total = _limit(values, "Mikrotik-Total-Limit")
    if total is not None:
        row["limit-bytes-total"] = total
    if "Class" in values:
        row["class"] = values["Class"][0].hex()
    interim = profile.get("radius-interim-update", "received")
    if interim == "received":  # "only when radius-interim-update=received"
        seconds = int(values.get("Acct-Interim-Interval", [0])[0])
    else:
        seconds = routeros_model.duration_seconds(interim) or 0
    if seconds:
        row["interim-update"] = seconds
    return row


# --------------------------------------------------------------------------- accounting

def counters(row: dict[str, Any], now: int) -> dict[str, int]:
    """Acct-Input-* is what the client sent (the active entry's bytes-in), Acct-Output-*
    what it received ("Acct-Input-Octets - bytes received from the client")."""
    traffic = routeros_hotspot._traffic(row, now)
    out = {"Acct-Session-Time": max(0, now - int(row["since"]))}
    for direction, total in (("Input", traffic["bytes-in"]), ("Output", traffic["bytes-out"])):
        out[f"Acct-{direction}-Octets"] = total % 2**32
        out[f"Acct-{direction}-Gigawords"] = total >> 32
        out[f"Acct-{direction}-Packets"] = total // 1500
    return out


@dataclass
class AccountingEvent:
    row: dict[str, Any]
    status: str  # Start, Interim-Update, Stop
    cause: str = ""
    at: int = 0


class RadiusRuntime:
    """One router's RADIUS side while the lab runs: sends queued accounting, ends sessions
    by Session-Timeout and byte limit, and answers Disconnect-Request when /radius incoming
    accepts them (bound to `lab_address`, the router's own address in the lab)."""

    def __init__(self, device: RouterOSDevice, lab_address: str):
        self.device = device
        self.lab_address = lab_address
        self.queue: list[AccountingEvent] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.bound_port: int | None = None
        RUNTIMES[id(device)] = self

    # ----------------------------------------------------------- events from the hotspot

    def started(self, row: dict[str, Any]) -> None:
        if profile_of(self.device).get("radius-accounting", "yes") == "yes":
            self.queue.append(AccountingEvent(dict(row), "Start", at=int(time.time())))

    def ended(self, rows: list[dict[str, Any]], cause: str) -> None:
        now = int(time.time())
        for row in rows:
            if row.get("radius") == "yes" and \
                    profile_of(self.device).get("radius-accounting", "yes") == "yes":
                self.queue.append(AccountingEvent(dict(row), "Stop", cause, now))

    # ----------------------------------------------------------- the loop

    async def run(self) -> None:
        try:
            while True:
                await self._listen()
                await asyncio.to_thread(self.tick, int(time.time()))
                await asyncio.sleep(TICK_S)
        finally:
            if self.transport is not None:
                self.transport.close()
            RUNTIMES.pop(id(self.device), None)

    def tick(self, now: int) -> None:
        """Session ends and interim updates due at `now`, then the queued accounting."""
        with self.device.lock:
            rows = routeros_hotspot.HotspotActive().rows(self.device)
            keep, changed = [], False
            for row in rows:
                cause = self._ending(row, now)
                if cause:
                    self.ended([row], cause)
                    changed = True
                    continue
                keep.append(row)
                interval = int(row.get("interim-update", 0))
                last = int(row.get("last-update", row["since"]))
                if interval and row.get("radius") == "yes" and now - last >= interval:
                    row["last-update"] = now
                    self.queue.append(AccountingEvent(dict(row), "Interim-Update", at=now))
                    changed = True
            if changed:
                rows[:] = keep
                self.device.persist()
            events, self.queue = self.queue, []
        for event in events:
            self._send(event)

    @staticmethod
    def _ending(row: dict[str, Any], now: int) -> str:
        if "session-timeout" in row and now - int(row["since"]) >= int(row["session-timeout"]):
            return "Session-Timeout"
        limit = row.get("limit-bytes-total")
        if limit is not None:
            traffic = routeros_hotspot._traffic(row, now)
            if traffic["bytes-in"] + traffic["bytes-out"] >= int(limit):
                return "NAS-Request"  # the manual names no cause for a byte limit
        return ""

    def _send(self, event: AccountingEvent) -> None:
        with self.device.lock:
            servers = hotspot_servers(self.device)
        for server in servers:
            client = _client(self.device, server, self.lab_address)
            request = client.CreateAcctPacket(code=packet.AccountingRequest)
            for key, value in session_attributes(self.device, event.row, server,
                                                 self.lab_address).items():
                request[key] = value
            request["Acct-Status-Type"] = event.status
            if event.status != "Start":
                for key, number in counters(event.row, event.at).items():
                    request[key] = number
            if event.status == "Stop":
                request["Acct-Terminate-Cause"] = event.cause
            if "class" in event.row:
                request["Class"] = bytes.fromhex(event.row["class"])
            try:
                client.SendPacket(request)
                return
            except (Timeout, OSError):
                continue
            finally:
                client._CloseSocket()
        log.info("radius: %s: accounting %s for session %s not answered", self.device.name,
                 event.status, event.row.get("session-id"))

    # ----------------------------------------------------------- incoming (RFC 5176)

    async def _listen(self) -> None:
        with self.device.lock:
            settings = incoming(self.device)
        wanted = int(settings["port"]) if settings.get("accept") == "yes" else None
        if wanted == self.bound_port:
            return
        if self.transport is not None:
            self.transport.close()
            self.transport, self.bound_port = None, None
        if wanted is None:
            return
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Incoming(self), local_addr=(self.lab_address, wanted))
        except OSError as exc:
            log.error("radius: %s: cannot listen on %s:%d: %s", self.device.name,
                      self.lab_address, wanted, exc.strerror)
            self.bound_port = wanted
            return
        self.transport, self.bound_port = transport, wanted

    def disconnect(self, data: bytes, peer: str) -> bytes | None:
        """The reply to one Disconnect-Request from `peer`, or None (dropped: not from a
        /radius server, a bad authenticator, or not a Disconnect-Request).

        Only from a /radius entry's address: the manual's /radius incoming ("Connection
        Terminating from RADIUS", MikroTik wiki Manual:RADIUS_Client and help.mikrotik.com
        pages/328097/RADIUS) takes "unsolicited messages sent from RADIUS server", and the only
        shared secrets RouterOS holds are its /radius entries', found by the sender's address
        (the manual names no other source); a packet from any other address is dropped
        unanswered, whatever its secret."""
        with self.device.lock:
            secrets = [s.get("secret", "") for s in hotspot_servers(self.device)
                       if s["address"].split("@", 1)[0] == peer]
        for secret in secrets:
            try:
                request = packet.CoAPacket(secret=secret.encode(), dict=dictionary(),
                                           packet=data)
            except packet.PacketError:
                return None
            if request.code != packet.DisconnectRequest or not request.VerifyCoARequest():
                continue
            if request.message_authenticator and not request.verify_message_authenticator():
                continue
            return self._disconnect(request)
        return None

    def _disconnect(self, request: packet.CoAPacket) -> bytes:
        # RFC 5176 3: a Disconnect-Request names the session by identification attributes and
        # every one sent must match, else Disconnect-NAK with Error-Cause 503; none sent: NAK.
        # MikroTik's manual ("RADIUS", Connection Terminating from RADIUS) does not narrow
        # that down, so the lab holds the NAS to all four a hotspot session has: User-Name,
        # Acct-Session-Id, Framed-IP-Address and Calling-Station-Id (either MAC spelling).
        wanted = {"Acct-Session-Id": "session-id", "User-Name": "user",
                  "Framed-IP-Address": "address"}
        keys = [k for k in request.keys() if isinstance(k, str)]
        with self.device.lock:
            rows = routeros_hotspot.HotspotActive().rows(self.device)
            chosen = []
            for row in rows:
                if row.get("radius") != "yes":
                    continue
                if all(str(request[k][0]) == str(row.get(v)) for k, v in wanted.items()
                       if k in keys) and (
                        "Calling-Station-Id" not in keys or _same_mac(
                            str(request["Calling-Station-Id"][0]), row["mac-address"])):
                    chosen.append(row)
            if not any(k in keys for k in (*wanted, "Calling-Station-Id")):
                chosen = []
            if chosen:
                rows[:] = [r for r in rows if r not in chosen]
                self.ended(chosen, "Admin-Reset")
                self.device.persist()
        reply = request.CreateReply()  # Disconnect-ACK
        if not chosen:
            reply.code = packet.DisconnectNAK
            reply["Error-Cause"] = "Session-Context-Not-Found"
        reply.message_authenticator = request.message_authenticator
        return bytes(reply.ReplyPacket())


def _same_mac(given: str, mac: str) -> bool:
    return re.sub(r"[^0-9A-Fa-f]", "", given).upper() == mac.replace(":", "").upper()


class _Incoming(asyncio.DatagramProtocol):
    def __init__(self, runtime: RadiusRuntime):
        self.runtime = runtime
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        with contextlib.suppress(Exception):
            reply = self.runtime.disconnect(data, addr[0])
            if reply is not None and self.transport is not None:
                self.transport.sendto(reply, addr)


RUNTIMES: dict[int, RadiusRuntime] = {}


def runtime_of(device: RouterOSDevice) -> RadiusRuntime | None:
    return RUNTIMES.get(id(device))


def _on_ended(device: RouterOSDevice, rows: list[dict[str, Any]], cause: str) -> None:
    runtime = runtime_of(device)
    if runtime is not None:
        runtime.ended(rows, cause)


ENDED_HOOK: Callable[[RouterOSDevice, list[dict[str, Any]], str], None] = _on_ended
routeros_hotspot.ENDED_HOOKS.append(ENDED_HOOK)
