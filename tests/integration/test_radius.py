"""adapter radius with the real daemon: FreeRADIUS 3.2 started from deploy/freeradius/ (built by
`simpul radius config`'s builder) on loopback high ports, asking Simpul's admin app (rlm_rest);
radclient plays the NAS, always with `Message-Authenticator = 0x00` (radclient computes it);
a small pyrad server plays the NAS's RFC 5176 listener.

The citizen is an HTTP client on the portal (the demo-hotspot fallback makes 127.0.0.1 a
Pasar Besar client); Pasar Besar runs adapter radius here. Expected attributes are worked out
by hand from the inventory (defaults.yaml: session 2h, idle 15m, rate 5M/2M down/up; the test
sets a 5G daily quota so the Gigawords attribute is exercised).
"""

from __future__ import annotations

import html
import os
import random
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pyrad import packet
from pyrad.dictionary import Dictionary
from sqlalchemy import select

from captive_portal.gateways.radius import DICTIONARY
from captive_portal.service import portal_for
from controller.context import Context
from controller.inventory import check_inventory
from controller.radius_config import build_config
from controller.secrets import SecretStore, generate_missing
from controller.settings import Settings
from controller.store.portal import PortalSession
from controller.web.app import create_admin_app
from exporters.collectors import register_collectors
from tests.conftest import DEMO_INVENTORY, free_port
from tests.integration.radius_lab import (
    free_udp_port,
    freeradius,
    hotspot_bytes_metric,
    radius_hotspot,
    require_freeradius,
    serving,
)

pytestmark = pytest.mark.integration

HOTSPOT = "pasar-besar"
NAS_LOGIN = "http://wifi-pasar-besar.kualakahayan.go.id/login"
GIGAWORD = 2**32
QUOTA = 5_000_000_000  # 5G: units.py counts powers of 1000


@dataclass
class Lab:
    ctx: Context
    portal_url: str
    admin_url: str
    radius: str  # host of FreeRADIUS
    auth_port: int
    acct_port: int
    secret: str
    conf: Path
    coa_port: int


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    require_freeradius()
    tmp = tmp_path_factory.mktemp("radius")
    inventory_dir = tmp / "inventory"
    shutil.copytree(DEMO_INVENTORY, inventory_dir)
    coa_port = free_udp_port("127.0.0.1")
    # radclient's packets come from 127.0.0.1 (the loopback route's source address)
    radius_hotspot(inventory_dir, HOTSPOT, daily_quota={"time": "4h", "bytes": "5G"},
                   radius={"secret": "radius_pasar_besar", "server": "127.0.0.1",
                           "nas_address": "127.0.0.1", "coa_port": coa_port})
    secrets_file = tmp / "secrets.yaml"
    inventory, _ = check_inventory(inventory_dir)
    generate_missing(secrets_file, inventory.secret_names() | {"radius_rest_token"})
    secrets = SecretStore.load(secrets_file, {})

    n = random.randint(100, 250)
    admin, portal, radius = f"127.0.{n}.1", f"127.0.{n}.2", f"127.0.{n}.3"
    admin_listen, portal_listen = f"{admin}:{free_port(admin)}", f"{portal}:{free_port(portal)}"
    settings = Settings(data_dir=tmp / "data", inventory_dir=inventory_dir,
                        secrets_file=secrets_file, admin_listen=admin_listen,
                        portal_listen=portal_listen, portal_url=f"http://{portal_listen}",
                        portal_name=None, portal_demo_hotspot=HOTSPOT,
                        radius_rest_from="127.0.0.0/8")
    ctx = Context.open(settings)
    register_collectors(ctx, portal=lambda: portal_for(ctx))
    from captive_portal.app import create_portal_app

    auth_port, acct_port = free_udp_port(radius), free_udp_port(radius)
    conf = tmp / "freeradius"
    build_config(conf, ctx.inventory, secrets, listen=radius, auth_port=auth_port,
                 acct_port=acct_port, rest_url=f"http://{admin_listen}")
    try:
        with serving([(create_admin_app(ctx), admin_listen),
                      (create_portal_app(ctx), portal_listen)], settings), \
                freeradius(conf, tmp / "freeradius.log",
                           debug=bool(os.environ.get("SIMPUL_TEST_RADIUS_DEBUG"))):
            yield Lab(ctx, f"http://{portal_listen}", f"http://{admin_listen}", radius,
                      auth_port, acct_port, secrets.require("radius_pasar_besar"), conf,
                      coa_port)
    finally:
        ctx.close()


def portal_login(lab: Lab, mac: str) -> tuple[str, str, str]:
    """A citizen sent by the NAS (its mac and login URL) logs in by click-through; returns the
    form the portal hands the browser: (action, username, password)."""
    with httpx.Client(timeout=30) as client:
        first = client.get(f"{lab.portal_url}/login", params={"mac": mac, "login": NAS_LOGIN})
        assert first.status_code == 200, first.text
        page = client.post(f"{lab.portal_url}/login/click", data={"accept": "yes"})
    return handoff(page)


def handoff(page: httpx.Response) -> tuple[str, str, str]:
    assert page.status_code == 200, page.text
    action = re.search(r'<form name="nas" action="([^"]+)" method="post">', page.text)
    user = re.search(r'name="username" value="([^"]+)"', page.text)
    password = re.search(r'name="password" value="([^"]+)"', page.text)
    assert action and user and password, page.text
    assert "Lanjutkan" in page.text and "script-src 'sha256-" in \
        page.headers["content-security-policy"]
    assert "form-action 'self' http://" in page.headers["content-security-policy"]
    return html.unescape(action.group(1)), html.unescape(user.group(1)), \
        html.unescape(password.group(1))


def radclient(lab: Lab, kind: str, attributes: dict[str, str], secret: str | None = None,
              message_authenticator: bool = True) -> tuple[str, dict[str, str]]:
    """radclient as the NAS: (reply packet type or 'timeout', reply attributes)."""
    lines = [f'{k} = "{v}"' if not v.isdigit() else f"{k} = {v}" for k, v in attributes.items()]
    if message_authenticator:
        lines.append("Message-Authenticator = 0x00")
    port = lab.auth_port if kind == "auth" else lab.acct_port
    # The secret from a file (-S), never an argument: a generated secret may start with '-',
    # which radclient took for an option (6 failures in one ./test run), and argv is public.
    secret_file = lab.conf.parent / "radclient-secret"
    secret_file.touch(mode=0o600)
    secret_file.write_text(secret or lab.secret)
    result = subprocess.run(
        ["radclient", "-d", str(lab.conf), "-t", "2", "-r", "1", "-x", "-S", str(secret_file),
         f"{lab.radius}:{port}", kind],
        input="\n".join(lines), capture_output=True, text=True, timeout=60)
    received = re.search(r"Received (\S+) Id", result.stdout)
    if received is None:
        assert "No reply from server" in result.stdout + result.stderr, result
        return "timeout", {}
    reply: dict[str, str] = {}
    for line in result.stdout[received.end():].splitlines():
        key, sep, value = line.strip().partition(" = ")
        if sep:
            reply[key] = value.strip('"')
    return received.group(1), reply


def access_request(lab: Lab, user: str, password: str, calling_station: str,
                   secret: str | None = None, message_authenticator: bool = True,
                   ) -> tuple[str, dict[str, str]]:
    return radclient(lab, "auth", {
        "User-Name": user, "User-Password": password, "Calling-Station-Id": calling_station,
        "Framed-IP-Address": "127.0.0.1", "NAS-IP-Address": "127.0.0.1",
        "NAS-Identifier": HOTSPOT}, secret, message_authenticator)


def open_session(lab: Lab) -> PortalSession:
    with lab.ctx.store.session() as session:
        row = session.scalar(select(PortalSession).where(
            PortalSession.hotspot == HOTSPOT, PortalSession.ended_at.is_(None)))
        assert row is not None
        session.expunge(row)
        return row


def test_credential_accepted_once_with_the_hotspot_attributes(lab: Lab) -> None:
    action, user, password = portal_login(lab, "02:00:5E:00:00:01")
    assert action == NAS_LOGIN
    kind, reply = access_request(lab, user, password, "02-00-5E-00-00-01")  # RFC 3580 form
    assert kind == "Access-Accept", reply
    # 2h session (the 4h daily quota does not cut it); a second may pass before the answer.
    assert reply["Session-Timeout"] in ("7200", "7199")
    assert reply["Idle-Timeout"] == "900"  # 15m
    assert reply["Acct-Interim-Interval"] == "300"
    # 5M down / 2M up; MikroTik's rx (the client's upload) first
    assert reply["Mikrotik-Rate-Limit"] == "2000000/5000000"
    assert reply["WISPr-Bandwidth-Max-Up"] == "2000000"
    assert reply["WISPr-Bandwidth-Max-Down"] == "5000000"
    # the hotspot's user profile in templates/mikrotik_routeros/hotspot_gateway.j2
    assert reply["Mikrotik-Group"] == f"simpul-{HOTSPOT}"
    # 5 000 000 000 bytes left = 1 gigaword (4 294 967 296) + 705 032 704
    assert reply["Mikrotik-Total-Limit-Gigawords"] == "1"
    assert reply["Mikrotik-Total-Limit"] == "705032704"
    assert reply["ChilliSpot-Max-Total-Octets"] == "4294967295"
    again, _ = access_request(lab, user, password, "02-00-5E-00-00-01")
    assert again == "Access-Reject"  # one use only


def test_mac_binding_both_spellings_and_a_wrong_password(lab: Lab) -> None:
    _, user, password = portal_login(lab, "02:00:5e:00:00:02")
    assert access_request(lab, user, password, "02-00-5E-00-00-03")[0] == "Access-Reject"
    assert access_request(lab, user, password + "x", "02:00:5E:00:00:02")[0] == \
        "Access-Reject"
    assert access_request(lab, user, password, "02:00:5E:00:00:02")[0] == "Access-Accept"


def test_wrong_secret_gets_no_answer(lab: Lab) -> None:
    _, user, password = portal_login(lab, "02:00:5E:00:00:04")
    kind, _ = access_request(lab, user, password, "02-00-5E-00-00-04", secret="not-the-secret")
    assert kind == "timeout"
    # Without a Message-Authenticator even the right secret gets no answer (BlastRADIUS)
    kind, _ = access_request(lab, user, password, "02-00-5E-00-00-04",
                             message_authenticator=False)
    assert kind == "timeout"
    assert access_request(lab, user, password, "02-00-5E-00-00-04")[0] == "Access-Accept"


def metric(lab: Lab, direction: str) -> float:
    return hotspot_bytes_metric(lab.admin_url, HOTSPOT, direction)


def test_accounting_bytes_reach_the_session_and_metrics_and_quota_rejects(lab: Lab) -> None:
    _, user, password = portal_login(lab, "02:00:5E:00:00:05")
    assert access_request(lab, user, password, "02-00-5E-00-00-05")[0] == "Access-Accept"
    up_before, down_before = metric(lab, "up"), metric(lab, "down")
    base = {"User-Name": user, "Acct-Session-Id": "81000001", "Calling-Station-Id":
            "02-00-5E-00-00-05", "Framed-IP-Address": "127.0.0.1", "NAS-IP-Address": "127.0.0.1"}
    assert radclient(lab, "acct", {**base, "Acct-Status-Type": "Start"})[0] == \
        "Accounting-Response"
    kind, _ = radclient(lab, "acct", {**base, "Acct-Status-Type": "Interim-Update",
                                      "Acct-Input-Octets": "1000", "Acct-Output-Octets": "5000",
                                      "Acct-Output-Gigawords": "1"})
    assert kind == "Accounting-Response"
    row = open_session(lab)
    assert (row.bytes_up, row.bytes_down) == (1000, GIGAWORD + 5000)
    assert metric(lab, "up") - up_before == 1000
    assert metric(lab, "down") - down_before == GIGAWORD + 5000
    # A later report of the same counters adds nothing; a higher one adds the difference.
    radclient(lab, "acct", {**base, "Acct-Status-Type": "Interim-Update",
                            "Acct-Input-Octets": "3000", "Acct-Output-Octets": "5000",
                            "Acct-Output-Gigawords": "1"})
    assert open_session(lab).bytes_up == 3000
    # 705 029 704 bytes of the 5G left: the Accept says so
    with httpx.Client(timeout=30) as client:
        _, user2, password2 = handoff(client.get(
            f"{lab.portal_url}/login", params={"mac": "02:00:5E:00:00:05", "login": NAS_LOGIN}))
    kind, reply = access_request(lab, user2, password2, "02-00-5E-00-00-05")
    assert kind == "Access-Accept"
    left = QUOTA - 3000 - GIGAWORD - 5000
    assert (reply["Mikrotik-Total-Limit-Gigawords"], reply["Mikrotik-Total-Limit"]) == \
        ("0", str(left))
    # The day's quota used up: the next credential is refused
    radclient(lab, "acct", {**base, "Acct-Status-Type": "Interim-Update",
                            "Acct-Input-Octets": "3000", "Acct-Output-Octets": str(5000 + left),
                            "Acct-Output-Gigawords": "1"})
    with httpx.Client(timeout=30) as client:
        _, user3, password3 = handoff(client.get(
            f"{lab.portal_url}/login", params={"mac": "02:00:5E:00:00:05", "login": NAS_LOGIN}))
    assert access_request(lab, user3, password3, "02-00-5E-00-00-05")[0] == "Access-Reject"
    # Stop ends the session in the store, with the NAS's reason
    radclient(lab, "acct", {**base, "Acct-Status-Type": "Stop", "Acct-Terminate-Cause":
                            "Idle-Timeout", "Acct-Input-Octets": "3000",
                            "Acct-Output-Octets": str(5000 + left),
                            "Acct-Output-Gigawords": "1"})
    with lab.ctx.store.session() as session:
        ended = session.get(PortalSession, row.id)
        assert ended is not None and ended.end_reason == "idle" and ended.client_mac is None


class DisconnectListener:
    """The NAS's RFC 5176 listener: answers Disconnect-ACK to a request whose authenticator
    and Message-Authenticator check out with the secret, and keeps what it received."""

    def __init__(self, port: int, secret: str):
        self.secret = secret.encode()
        self.dictionary = Dictionary(str(DICTIONARY))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.2)
        self.received: list[dict[str, Any]] = []
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop:
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            request = packet.CoAPacket(secret=self.secret, dict=self.dictionary, packet=data)
            valid = request.code == packet.DisconnectRequest and \
                request.VerifyCoARequest() and request.message_authenticator and \
                request.verify_message_authenticator()
            self.received.append({"valid": bool(valid), **{
                key: request[key][0] for key in request.keys() if isinstance(key, str)}})
            if not valid:
                continue  # RFC 5176 3.4 / 3.5: silently discarded
            reply = request.CreateReply()
            reply.code = packet.DisconnectACK
            reply.add_message_authenticator()
            self.sock.sendto(reply.ReplyPacket(), peer)

    def close(self) -> None:
        self.stop = True
        self.thread.join(timeout=5)
        self.sock.close()


def test_disconnect_request_reaches_the_nas(lab: Lab) -> None:
    listener = DisconnectListener(lab.coa_port, lab.secret)
    try:
        _, user, password = portal_login(lab, "02:00:5E:00:00:06")
        assert access_request(lab, user, password, "02:00:5E:00:00:06")[0] == "Access-Accept"
        row = open_session(lab)
        assert portal_for(lab.ctx).accounting.disconnect(row.id, "tester")
        assert len(listener.received) == 1
        [request] = listener.received
        assert request["valid"], request
        assert request["Calling-Station-Id"] == "02-00-5E-00-00-06"
        assert request["Framed-IP-Address"] == "127.0.0.1"
        # The NAS still reports the closed session: it is disconnected again, as the NAS
        # names it.
        kind, _ = radclient(lab, "acct", {
            "User-Name": user, "Acct-Session-Id": "81000002", "Acct-Status-Type":
            "Interim-Update", "Calling-Station-Id": "02:00:5e:00:00:06",
            "Framed-IP-Address": "127.0.0.1", "Acct-Input-Octets": "10"})
        assert kind == "Accounting-Response"
        assert len(listener.received) == 2 and listener.received[1]["valid"]
        assert listener.received[1]["Calling-Station-Id"] == "02-00-5E-00-00-06"
    finally:
        listener.close()


def test_disconnect_names_the_session_as_the_nas_did(lab: Lab) -> None:
    """RFC 5176 3: the Disconnect-Request carries the session's User-Name (the one-time
    credential the NAS logged in with) and, once accounting started, its Acct-Session-Id."""
    listener = DisconnectListener(lab.coa_port, lab.secret)
    try:
        _, user, password = portal_login(lab, "02:00:5E:00:00:07")
        assert access_request(lab, user, password, "02:00:5E:00:00:07")[0] == "Access-Accept"
        row = open_session(lab)
        portal = portal_for(lab.ctx)
        gateway = portal.gateways.get(HOTSPOT)
        # before any accounting: the credential's name only
        from captive_portal.gateways.base import Client

        gateway.revoke([Client("127.0.0.1", "02:00:5e:00:00:07")])
        assert listener.received[-1]["User-Name"] == user
        assert "Acct-Session-Id" not in listener.received[-1]
        kind, _ = radclient(lab, "acct", {
            "User-Name": user, "Acct-Session-Id": "81000007", "Acct-Status-Type": "Start",
            "Calling-Station-Id": "02:00:5E:00:00:07", "Framed-IP-Address": "127.0.0.1"})
        assert kind == "Accounting-Response"
        assert portal.accounting.disconnect(row.id, "tester")
        request = listener.received[-1]
        assert request["valid"], request
        assert (request["User-Name"], request["Acct-Session-Id"]) == (user, "81000007")
        assert (request["Calling-Station-Id"], request["Framed-IP-Address"]) == \
            ("02-00-5E-00-00-07", "127.0.0.1")
    finally:
        listener.close()
