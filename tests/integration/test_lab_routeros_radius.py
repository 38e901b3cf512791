"""The lab RouterOS hotspot as a RADIUS NAS, against a tiny RADIUS server written here with
pyrad: what the hotspot sends (Access-Request, Accounting-Request) is checked against
MikroTik's manual ("RADIUS", https://help.mikrotik.com/docs/spaces/ROS/pages/328097/RADIUS:
Access-Request and Accounting-Request attribute lists; "/radius incoming"), and RFC 5176
Disconnect-Request gets ACK, or NAK with Error-Cause 503 when no session matches.
"""

from __future__ import annotations

import asyncio
import http.client
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pyrad import packet
from pyrad.client import Client, Timeout

from lab.ssh_sim import load_extensions, routeros
from lab.ssh_sim.routeros import RouterOSDevice
from lab.ssh_sim.routeros_files import files_root
from lab.ssh_sim.state import DeviceState

pytestmark = pytest.mark.integration

SECRET = "s3cret-for-the-lab"
CLIENT_IP, CLIENT_MAC = "10.200.12.31", "0A:BC:DE:01:02:03"
DNS_NAME = "wifi-pasar.test"


@dataclass
class RadiusServer:
    """Answers Access-Request by `decide` and every Accounting-Request; keeps what came."""

    address: str
    secret: str
    decide: Callable[[packet.AuthPacket], tuple[int, dict[str, Any]]]
    with_message_authenticator: bool = True
    requests: list[packet.Packet] = field(default_factory=list)

    def start(self) -> tuple[int, int]:
        from lab.ssh_sim.routeros_radius import dictionary

        self.dict = dictionary()
        self.auth = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.acct = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.auth.bind((self.address, 0))
        self.acct.bind((self.address, 0))
        self.stopping = False
        for sock in (self.auth, self.acct):
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()
        return self.auth.getsockname()[1], self.acct.getsockname()[1]

    def stop(self) -> None:
        self.stopping = True
        self.auth.close()
        self.acct.close()

    def _serve(self, sock: socket.socket) -> None:
        while not self.stopping:
            try:
                data, peer = sock.recvfrom(4096)
            except OSError:
                return
            code = data[0]
            if code == packet.AccessRequest:
                request: packet.Packet = packet.AuthPacket(
                    secret=self.secret.encode(), dict=self.dict, packet=data)
                self.requests.append(request)
                reply_code, attributes = self.decide(request)  # type: ignore[arg-type]
                reply = request.CreateReply()
                reply.code = reply_code
            else:
                request = packet.AcctPacket(secret=self.secret.encode(), dict=self.dict,
                                            packet=data)
                self.requests.append(request)
                reply, attributes = request.CreateReply(), {}
            for key, value in attributes.items():
                reply[key] = value
            reply.message_authenticator = self.with_message_authenticator and \
                code == packet.AccessRequest
            sock.sendto(reply.ReplyPacket(), peer)

    def accounting(self, status: str) -> list[packet.Packet]:
        return [r for r in self.requests if r.code == packet.AccountingRequest
                and r["Acct-Status-Type"][0] == status]


@dataclass
class Nas:
    device: RouterOSDevice
    address: str  # the router's own loopback address
    http_port: int
    coa_port: int
    octet: int

    def run(self, line: str) -> str:
        return routeros.execute(self.device, routeros.parse(line))

    def login(self, user: str, password: str) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection(self.address, self.http_port, timeout=10,
                                          source_address=(f"127.0.{self.octet}.31", 0))
        try:
            conn.putrequest("GET", f"/login?username={user}&password={password}"
                                   "&dst=http%3A%2F%2Fexample.test%2F", skip_host=True)
            conn.putheader("Host", DNS_NAME)
            conn.endheaders()
            response = conn.getresponse()
            response.body = response.read().decode()  # type: ignore[attr-defined]
            return response
        finally:
            conn.close()

    def active(self) -> list[dict[str, Any]]:
        with self.device.lock:
            return [dict(r) for r in self.device.data.get("list", {}).get(
                "/ip hotspot active", [])]

    def disconnect(self, secret: str, **attributes: Any) -> packet.Packet | None:
        from lab.ssh_sim.routeros_radius import dictionary

        client = Client(server=self.address, coaport=self.coa_port, secret=secret.encode(),
                        dict=dictionary(), retries=1, timeout=1)
        client.bind((f"127.0.{self.octet}.2", 0))  # from the /radius server's address
        request = client.CreateCoAPacket(code=packet.DisconnectRequest)
        for key, value in attributes.items():
            request[key.replace("_", "-")] = value
        try:
            return client.SendPacket(request)
        except Timeout:
            return None


def _wait(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 15
    while not predicate():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


def _decide(request: packet.AuthPacket) -> tuple[int, dict[str, Any]]:
    user = request["User-Name"][0]
    password = request.PwDecrypt(request["User-Password"][0])
    if user == "otp-1" and password == "pw-1":
        return packet.AccessAccept, {
            "Session-Timeout": 3600, "Idle-Timeout": 300, "Mikrotik-Rate-Limit": "2M/5M",
            "Mikrotik-Total-Limit": 5, "Mikrotik-Total-Limit-Gigawords": 1,
            "Acct-Interim-Interval": 1}
    if user == "short" and password == "pw":
        return packet.AccessAccept, {"Session-Timeout": 1}
    return packet.AccessReject, {"Reply-Message": "Kode sudah dipakai / code already used"}


def _start(tmp_path: Path, server_secret: str = SECRET, with_ma: bool = True,
           ) -> Iterator[tuple[Nas, RadiusServer]]:
    from lab.ssh_sim.routeros_hotspot_http import serve_hotspot
    from lab.ssh_sim.routeros_radius import RadiusRuntime

    load_extensions()
    octet = random.randint(100, 250)
    address, server_address = f"127.0.{octet}.1", f"127.0.{octet}.2"
    server = RadiusServer(server_address, server_secret, _decide, with_ma)
    auth_port, acct_port = server.start()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((address, 0))
        coa_port = probe.getsockname()[1]
    with socket.socket() as probe:
        probe.bind((address, 0))
        http_port = probe.getsockname()[1]
    device = RouterOSDevice("nas1", DeviceState(tmp_path / "sim", "nas1"), "7.20")
    nas = Nas(device, address, http_port, coa_port, octet)
    for line in (
            "/system identity set name=pasar-besar-gw",
            f"/ip hotspot profile add name=hsprof dns-name={DNS_NAME} "
            "hotspot-address=10.200.12.1 html-directory=simpul login-by=http-pap "
            "use-radius=yes radius-interim-update=received",
            "/ip hotspot add name=simpul-pasar-besar interface=bridge profile=hsprof",
            f"/radius add service=hotspot address={server_address} secret=\"{SECRET}\" "
            f"authentication-port={auth_port} accounting-port={acct_port} timeout=300ms",
            f"/radius incoming set accept=yes port={coa_port}",
            f"/ip hotspot host add address={CLIENT_IP} mac-address={CLIENT_MAC} "
            f"lab-from=127.0.{octet}.31"):
        assert nas.run(line) == "", line
    pages = files_root(device) / "simpul"
    pages.mkdir(parents=True)
    (pages / "login.html").write_text("login error=[$(error)]")
    (pages / "alogin.html").write_text("logged in as $(username)")

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runtime = RadiusRuntime(device, address)
    task = asyncio.run_coroutine_threadsafe(runtime.run(), loop)
    http_server = asyncio.run_coroutine_threadsafe(
        serve_hotspot(device, address, http_port), loop).result(timeout=10)
    _wait(lambda: runtime.bound_port == coa_port, "/radius incoming listens")
    try:
        yield nas, server
    finally:
        task.cancel()
        loop.call_soon_threadsafe(http_server.close)
        time.sleep(0.3)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        server.stop()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[Nas, RadiusServer]]:
    yield from _start(tmp_path)


def test_accept_logs_in_with_the_documented_attributes(lab: tuple[Nas, RadiusServer]) -> None:
    nas, server = lab
    answer = nas.login("otp-1", "pw-1")
    assert answer.status == 302 and answer.getheader("Location") == "http://example.test/"
    [request] = [r for r in server.requests if r.code == packet.AccessRequest]
    # The manual's Access-Request for a hotspot: Calling-Station-Id the client's MAC in
    # capital letters (radius-mac-format XX:XX:XX:XX:XX:XX), Called-Station-Id the hotspot
    # server's name, NAS-Identifier the router's identity, NAS-Port-Type from the profile's
    # nas-port-type (default wireless-802.11), Framed-IP-Address the client's address.
    assert request["User-Name"] == ["otp-1"]
    assert request.PwDecrypt(request["User-Password"][0]) == "pw-1"
    assert request["Calling-Station-Id"] == ["0A:BC:DE:01:02:03"]
    assert request["Called-Station-Id"] == ["simpul-pasar-besar"]
    assert request["NAS-Identifier"] == ["pasar-besar-gw"]
    assert request["NAS-IP-Address"] == [nas.address]
    assert request["NAS-Port-Type"] == ["Wireless-802.11"]
    assert request["Framed-IP-Address"] == [CLIENT_IP]
    assert request["NAS-Port-Id"] == ["bridge"]
    assert len(request["Acct-Session-Id"][0]) == 8
    # BlastRADIUS: a 7.20 router signs its requests.
    assert request.message_authenticator and request.verify_message_authenticator()

    [active] = nas.active()
    assert active["user"] == "otp-1" and active["address"] == CLIENT_IP
    assert active["session-timeout"] == 3600 and active["idle-timeout"] == 300
    assert active["rate-limit"] == "2M/5M"
    assert active["limit-bytes-total"] == 2**32 + 5
    assert nas.login("otp-1", "pw-1").status == 302  # logged in already: no new request
    assert len([r for r in server.requests if r.code == packet.AccessRequest]) == 1
    assert len(nas.active()) == 1

    # Accounting: Start, then Interim-Update every Acct-Interim-Interval (profile: received).
    _wait(lambda: len(server.accounting("Interim-Update")) >= 1, "an Interim-Update")
    [start] = server.accounting("Start")
    assert start["Acct-Session-Id"] == request["Acct-Session-Id"]
    assert start["Calling-Station-Id"] == ["0A:BC:DE:01:02:03"]
    assert "Acct-Input-Octets" not in start
    interim = server.accounting("Interim-Update")[0]
    for key in ("Acct-Input-Octets", "Acct-Output-Octets", "Acct-Input-Gigawords",
                "Acct-Output-Gigawords", "Acct-Session-Time"):
        assert key in interim, key

    # RFC 5176: Disconnect-Request with a wrong secret is dropped; with the /radius secret
    # for this session it is acknowledged, the client is out, and Stop says Admin-Reset.
    session = request["Acct-Session-Id"][0]
    assert nas.disconnect("not-the-secret", Acct_Session_Id=session) is None
    assert len(nas.active()) == 1
    # RFC 5176 3: every identification attribute sent must match the session, else NAK 503
    for wrong in ({"User_Name": "otp-2"}, {"Calling_Station_Id": "0A-BC-DE-01-02-04"},
                  {"Framed_IP_Address": "10.200.12.99"}):
        nak = nas.disconnect(SECRET, Acct_Session_Id=session, **wrong)
        assert nak is not None and nak.code == packet.DisconnectNAK, wrong
        assert nak["Error-Cause"] == ["Session-Context-Not-Found"]
        assert len(nas.active()) == 1
    # what Simpul's adapter sends (captive_portal/gateways/radius.py): the MAC in RFC 3580's
    # form, the names the router gave in its own requests
    ack = nas.disconnect(SECRET, Acct_Session_Id=session, User_Name="otp-1",
                         Calling_Station_Id="0A-BC-DE-01-02-03", Framed_IP_Address=CLIENT_IP)
    assert ack is not None and ack.code == packet.DisconnectACK
    assert nas.active() == []
    _wait(lambda: len(server.accounting("Stop")) == 1, "accounting Stop")
    [stop] = server.accounting("Stop")
    assert stop["Acct-Terminate-Cause"] == ["Admin-Reset"]
    assert stop["Acct-Session-Id"] == [session]
    assert stop["Acct-Output-Octets"][0] >= interim["Acct-Output-Octets"][0]
    nak = nas.disconnect(SECRET, Acct_Session_Id=session)
    assert nak is not None and nak.code == packet.DisconnectNAK
    assert nak["Error-Cause"] == ["Session-Context-Not-Found"]


def test_reject_shows_the_reply_message_on_the_login_page(
        lab: tuple[Nas, RadiusServer]) -> None:
    nas, server = lab
    answer = nas.login("otp-1", "wrong")
    assert answer.status == 200
    assert "login error=[Kode sudah dipakai / code already used]" in answer.body  # type: ignore[attr-defined]
    assert nas.active() == [] and server.accounting("Start") == []


def test_session_timeout_ends_the_session_with_a_stop(lab: tuple[Nas, RadiusServer]) -> None:
    nas, server = lab
    assert nas.login("short", "pw").status == 302
    _wait(lambda: nas.active() == [], "the session timed out")
    _wait(lambda: len(server.accounting("Stop")) == 1, "accounting Stop")
    assert server.accounting("Stop")[0]["Acct-Terminate-Cause"] == ["Session-Timeout"]


def test_a_reply_signed_with_another_secret_is_no_answer(tmp_path: Path) -> None:
    for nas, _ in _start(tmp_path, server_secret="another-secret"):
        answer = nas.login("otp-1", "pw-1")
        assert "RADIUS server is not responding" in answer.body  # type: ignore[attr-defined]
        assert nas.active() == []


def test_a_reply_without_message_authenticator_is_refused(tmp_path: Path) -> None:
    # require-message-auth=yes-for-request-resp (the 7.15+ default): an Access-Accept
    # without Message-Authenticator is not taken.
    for nas, _ in _start(tmp_path, with_ma=False):
        answer = nas.login("otp-1", "pw-1")
        assert "RADIUS server is not responding" in answer.body  # type: ignore[attr-defined]
        assert nas.active() == []


def test_simpuls_disconnect_counts_only_from_the_radius_servers_address(
        lab: tuple[Nas, RadiusServer]) -> None:
    """/radius incoming takes Disconnect-Requests from a /radius server's address only (here
    127.0.N.2): Simpul's adapter sending from the OS's choice (127.0.0.1 for a loopback
    destination) is ignored, sending from SIMPUL_RADIUS_DISCONNECT_SOURCE = that address
    ends the session."""
    from captive_portal.gateways.base import Client as PortalClient
    from captive_portal.gateways.base import GatewayError
    from captive_portal.gateways.radius import RadiusGateway

    nas, server = lab
    assert nas.login("otp-1", "pw-1").status == 302
    [request] = [r for r in server.requests if r.code == packet.AccessRequest]
    session = request["Acct-Session-Id"][0]
    gateway = RadiusGateway("pasar-besar", nas.address, nas.coa_port, SECRET, timeout_s=0.5,
                            retries=1)
    client = PortalClient(CLIENT_IP, CLIENT_MAC)
    with pytest.raises(GatewayError, match="no answer to Disconnect-Request"):
        gateway.disconnect(client, "otp-1", session)
    assert len(nas.active()) == 1  # the right secret and names, from the wrong address
    gateway.send_from("192.0.2.1")  # TEST-NET-1: no address of this machine, nothing sent
    with pytest.raises(GatewayError, match="SIMPUL_RADIUS_DISCONNECT_SOURCE 192.0.2.1"):
        gateway.disconnect(client, "otp-1", session)
    gateway.send_from(f"127.0.{nas.octet}.2")
    assert gateway.disconnect(client, "otp-1", session) is True
    assert nas.active() == []
