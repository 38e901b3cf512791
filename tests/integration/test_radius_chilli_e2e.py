"""A CoovaChilli hotspot end to end: the lab's Chilli UAM (lab/chilli_uam.py, built from
coova-chilli's redir.c) -> real FreeRADIUS (config from deploy/freeradius/ by `simpul radius
config`) -> Simpul's admin app (rlm_rest), with Simpul's portal handing the citizen a one-time
credential encoded with Chilli's challenge and the uamsecret.

Chilli advertises uamip 10.200.0.1:3990 (inside taman-kota's client subnet, as HS_UAMLISTEN
is) and listens on a test loopback address; the citizen's browser is an HTTP client on its own
loopback address towards it, and a TestClient from its hotspot address towards the portal.
Expected Accept attributes are worked out by hand from the inventory (defaults.yaml: session 2h,
idle 15m, rate 5M/2M down/up, daily quota 4h and 2G).
"""

from __future__ import annotations

import hashlib
import html
import http.client
import random
import re
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient

from captive_portal.app import create_portal_app
from controller.context import Context
from controller.settings import get_settings
from controller.web.app import create_admin_app
from lab.chilli_uam import ChilliConfig, ChilliUAM, serve
from tests.conftest import free_port
from tests.integration.radius_lab import (
    free_udp_port,
    freeradius,
    radius_hotspot,
    radius_settings,
    require_freeradius,
    serving,
)

pytestmark = pytest.mark.integration

HOTSPOT = "taman-kota"
PORTAL = "http://10.10.0.5:8080"  # templates/defaults.yaml portal_url: Chilli's uamserver base
UAMIP, UAMPORT = "10.200.0.1", 3990
MAC, OTHER_MAC = "0A:BC:DE:01:02:03", "0A:BC:DE:01:02:09"


class Browser:
    """The citizen's browser: to Chilli from its loopback stand-in address, to the portal
    from its hotspot address."""

    def __init__(self, ctx: Context, sim: tuple[str, int], source: str, ip: str):
        self.sim, self.source = sim, source
        self.portal = TestClient(create_portal_app(ctx), base_url=PORTAL, client=(ip, 40000),
                                 follow_redirects=False)

    def chilli(self, host: str, path: str) -> str:
        """One GET to Chilli; its 302's Location."""
        conn = http.client.HTTPConnection(*self.sim, timeout=20,
                                          source_address=(self.source, 0))
        try:
            conn.putrequest("GET", path, skip_host=True)
            conn.putheader("Host", host)
            conn.endheaders()
            answer = conn.getresponse()
            assert answer.status == 302, (answer.status, answer.read())
            return answer.getheader("Location") or ""
        finally:
            conn.close()

    def redirected(self) -> str:
        """An OS probe meets Chilli: the redirect to the portal (res=notyet)."""
        location = self.chilli("connectivitycheck.gstatic.com", "/generate_204")
        assert location.startswith(f"{PORTAL}/login?res=notyet&uamip={UAMIP}&uamport={UAMPORT}"
                                   "&challenge="), location
        return location

    def handoff(self, location: str) -> dict[str, str]:
        """The portal: Chilli's redirect, the click-through, the hand-off form's fields."""
        assert self.portal.get(location).status_code == 200
        page = self.portal.post("/login/click", data={"accept": "yes"})
        assert page.status_code == 200, page.text
        action = re.search(r'<form name="nas" action="([^"]+)" method="get">', page.text)
        assert action and action.group(1) == f"http://{UAMIP}:{UAMPORT}/logon", page.text
        return {name: html.unescape(value) for name, value in re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text)}

    def logon(self, fields: dict[str, str]) -> str:
        return self.chilli(f"{UAMIP}:{UAMPORT}", "/logon?" + urlencode(fields))


def result(location: str) -> dict[str, str]:
    """Chilli's answer redirect to the portal: its query (res, reason, uid, ...)."""
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{PORTAL}/login", location
    return {key: values[0] for key, values in parse_qs(parts.query).items()}


def recode(fields: dict[str, str], old_challenge: str, new_challenge: str,
           uamsecret: str) -> dict[str, str]:
    """A captured logon re-encoded for another challenge (what a thief who knows the
    uamsecret would send): the plain credential is the same."""
    old = hashlib.md5(bytes.fromhex(old_challenge) + uamsecret.encode()).digest()
    new = hashlib.md5(bytes.fromhex(new_challenge) + uamsecret.encode()).digest()
    plain = bytes(b ^ old[i % 16] for i, b in enumerate(bytes.fromhex(fields["password"])))
    return {**fields, "password": bytes(b ^ new[i % 16] for i, b in enumerate(plain)).hex()}


def test_citizen_logs_in_through_coovachilli_freeradius_and_simpul(
        tmp_path: Path, demo_inventory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_freeradius()
    octet = random.randint(100, 250)
    nas, admin = f"127.0.{octet}.60", f"127.0.{octet}.1"
    http_port = free_port(nas)
    auth_port, acct_port = free_udp_port("127.0.0.1"), free_udp_port("127.0.0.1")
    radius_hotspot(demo_inventory, HOTSPOT, radius={
        "secret": "radius_taman_kota", "server": "127.0.0.1", "auth_port": auth_port,
        "acct_port": acct_port, "nas_address": nas, "nas": "chilli",
        "uam_secret": "chilli_taman_kota"})
    admin_listen = f"{admin}:{free_port(admin)}"
    settings = radius_settings(monkeypatch, tmp_path, demo_inventory, admin_listen, PORTAL,
                               auth_port, acct_port, HOTSPOT)
    ctx = Context.open(settings)
    uamsecret = ctx.secrets.get("chilli_taman_kota") or ""
    nas_secret = ctx.secrets.get("radius_taman_kota") or ""
    assert uamsecret and nas_secret
    uam = ChilliUAM(ChilliConfig(
        uamlisten=UAMIP, uamport=UAMPORT, uamserver=f"{PORTAL}/login", uamsecret=uamsecret,
        radius_server="127.0.0.1", radius_auth_port=auth_port, radius_secret=nas_secret,
        nas_ip=nas, nasid=HOTSPOT))
    try:
        with serving([(create_admin_app(ctx), admin_listen)], settings), \
                freeradius(tmp_path / "freeradius", tmp_path / "freeradius.log"), \
                serve(uam, (nas, http_port)):
            sim = (nas, http_port)
            uam.add_client(f"127.0.{octet}.31", "10.200.0.31", MAC)
            citizen = Browser(ctx, sim, f"127.0.{octet}.31", "10.200.0.31")

            # Chilli -> portal -> Chilli's logon -> FreeRADIUS -> Simpul: Access-Accept, and
            # Chilli sends the browser back with res=success.
            location = citizen.redirected()
            challenge = result(location)["challenge"]
            fields = citizen.handoff(location)
            back = citizen.logon(fields)
            answer = result(back)
            assert (answer["res"], answer["uid"], answer["mac"]) == (
                "success", fields["username"], "0A-BC-DE-01-02-03")
            assert answer["timeleft"] in ("7200", "7199")  # 2h; a second may pass
            state = uam.clients[f"127.0.{octet}.31"]
            assert state.authenticated
            assert state.accepted["Idle-Timeout"] == [900]  # 15m
            assert state.accepted["WISPr-Bandwidth-Max-Up"] == [2_000_000]
            assert state.accepted["WISPr-Bandwidth-Max-Down"] == [5_000_000]
            assert state.accepted["ChilliSpot-Max-Total-Octets"] == [2_000_000_000]  # 2G
            success = citizen.portal.get(back)
            assert success.status_code == 200 and "Anda sudah terhubung" in success.text
            # The same logon again: Chilli knows the client is in (res=already).
            assert result(citizen.logon(fields))["res"] == "already"

            # The same credential, re-encoded for another client's challenge (same MAC):
            # Simpul has spent it, FreeRADIUS rejects, Chilli says res=failed&reason=reject.
            uam.add_client(f"127.0.{octet}.32", "10.200.0.32", MAC)
            thief = Browser(ctx, sim, f"127.0.{octet}.32", "10.200.0.32")
            theirs = result(thief.redirected())["challenge"]
            replay = result(thief.logon(recode(fields, challenge, theirs, uamsecret)))
            assert (replay["res"], replay["reason"]) == ("failed", "reject"), replay
            assert not uam.clients[f"127.0.{octet}.32"].authenticated

            # A stale challenge: Chilli issued a new one (a logoff) after the hand-off; the
            # decoded password is wrong and RADIUS rejects. The portal's res=failed page
            # lets the citizen try again with the new challenge.
            uam.add_client(f"127.0.{octet}.33", "10.200.0.33", OTHER_MAC)
            late = Browser(ctx, sim, f"127.0.{octet}.33", "10.200.0.33")
            stale = late.handoff(late.redirected())
            assert result(late.chilli(f"{UAMIP}:{UAMPORT}", "/logoff"))["res"] == "logoff"
            failed = late.logon(stale)
            assert (result(failed)["res"], result(failed)["reason"]) == ("failed", "reject")
            page = late.portal.get(failed)
            assert page.status_code == 403 and "Hotspot belum menerima login Anda" in page.text
            retry = late.portal.post("/login/click", data={"accept": "yes"})
            again = {name: html.unescape(value) for name, value in re.findall(
                r'<input type="hidden" name="([^"]+)" value="([^"]*)">', retry.text)}
            assert again["username"] != stale["username"]
            assert result(late.logon(again))["res"] == "success"

            # A wrong uamsecret on Chilli: its redirect's md no longer matches, so the portal
            # refuses it; and a logon the portal encoded with the right one decodes wrongly.
            uam.add_client(f"127.0.{octet}.34", "10.200.0.34", "0A:BC:DE:01:02:0A")
            other = Browser(ctx, sim, f"127.0.{octet}.34", "10.200.0.34")
            good = other.handoff(other.redirected())
            uam.config.uamsecret = uamsecret + "-wrong"
            refused = other.portal.get(other.redirected())
            assert refused.status_code == 400 and "Tautan login dari hotspot tidak sah" in \
                refused.text
            wrong = result(other.logon(good))
            assert (wrong["res"], wrong["reason"]) == ("failed", "reject")
            assert not uam.clients[f"127.0.{octet}.34"].authenticated
    finally:
        ctx.close()
        get_settings.cache_clear()
