"""MikroTik hotspot end to end, against the lab's strict RouterOS simulator:

citizen -> hotspot (rlogin.html -> the hotspot's /login, login.html with its variables) ->
Simpul's portal -> `/ip hotspot active login` -> the lab's internet; then a disconnect keeps
the client out (no cookie re-login). The push uploads the hotspot's pages over SFTP; the
simulator serves them from its file store on a loopback port (lab.ssh_sim.routeros_hotspot_http).
The citizen's browser is an HTTP client on its own loopback address (the host table's
`lab-from`); the portal is the real portal app, seeing the citizen's address as the TCP peer.
"""

from __future__ import annotations

import html.parser
import http.client
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from captive_portal.app import create_portal_app
from captive_portal.gateways.base import Client, Grant
from captive_portal.gateways.mikrotik import MikrotikGateway
from captive_portal.service import Portal, install_portal
from controller.context import Context
from controller.jobs import ConfigJobs
from controller.settings import Settings
from tests.conftest import free_port, move_device
from tests.integration.radius_lab import simulated_router

pytestmark = pytest.mark.integration

DEVICE, HOTSPOT = "alun-alun-gw", "alun-alun"
PORTAL = "http://10.10.0.5:8080"  # templates/defaults.yaml portal_url: what login.html names
DNS_NAME = "wifi-alun-alun.kualakahayan.go.id"  # inventory/hotspots.yaml
CITIZEN_IP, CITIZEN_MAC = "10.200.4.31", "0A:BC:DE:01:02:03"
NEIGHBOUR_IP, NEIGHBOUR_MAC = "10.200.4.32", "0A:BC:DE:01:02:04"
PROBE = ("connectivitycheck.gstatic.com", "/generate_204")


@dataclass
class Hotspot:
    ctx: Context
    portal: Portal
    gateway: MikrotikGateway
    address: str  # the simulated router's loopback address (SSH and the hotspot's HTTP)
    http_port: int
    octet: int

    def push(self) -> str:
        jobs = ConfigJobs(self.ctx.inventory, self.ctx.secrets, self.ctx.settings.data_dir)
        result = jobs.push_one(self.ctx.inventory.devices[DEVICE])
        assert result.status in ("changed", "unchanged"), result.as_json()
        return result.status

    def join(self, ip: str, mac: str, last: int) -> str:
        """A phone joins the WiFi: the router's host table learns it (lab: and which loopback
        address its HTTP comes from)."""
        source = f"127.0.{self.octet}.{last}"
        self.gateway.run_lab_command(f"/ip hotspot host add address={ip} mac-address={mac} "
                                     f"lab-from={source}")
        return source

    def http(self, source: str, host: str, path: str) -> http.client.HTTPResponse | None:
        """One HTTP request of the citizen's browser, as the hotspot meets it; None when the
        router drops it."""
        conn = http.client.HTTPConnection(self.address, self.http_port, timeout=10,
                                          source_address=(source, 0))
        try:
            conn.putrequest("GET", path, skip_host=True)
            conn.putheader("Host", host)
            conn.endheaders()
            response = conn.getresponse()
            response.body = response.read().decode()  # type: ignore[attr-defined]
            return response
        except (http.client.RemoteDisconnected, ConnectionResetError):
            return None
        finally:
            conn.close()

    def browser(self, ip: str) -> TestClient:
        """The citizen's browser at the portal: the portal sees `ip` as the TCP peer."""
        return TestClient(create_portal_app(self.ctx), base_url=PORTAL, client=(ip, 40000),
                          follow_redirects=False)


class _Form(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}
        self.refresh = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = values.get("action", "")
        elif tag == "input" and values.get("type") == "hidden":
            self.fields[values["name"]] = values.get("value", "")
        elif tag == "meta" and values.get("http-equiv") == "refresh":
            self.refresh = values["content"].split("url=", 1)[1]


def _parsed(body: str) -> _Form:
    form = _Form()
    form.feed(body)
    return form


@pytest.fixture
def hotspot(tmp_path: Path, demo_inventory: Path, demo_secrets: Path) -> Iterator[Hotspot]:
    octet = random.randint(100, 250)
    address = f"127.0.{octet}.56"
    port, http_port = free_port(address), free_port(address)
    move_device(demo_inventory, DEVICE, address, port)
    settings = Settings(data_dir=tmp_path / "data", inventory_dir=demo_inventory,
                        portal_url=PORTAL, portal_sms_outbox=tmp_path / "outbox.jsonl")
    ctx = Context.open(settings)
    try:
        with simulated_router(ctx, DEVICE, tmp_path / "sim", (address, http_port)):
            portal = Portal(ctx)
            install_portal(portal)
            gateway = portal.gateways.get(HOTSPOT)
            assert isinstance(gateway, MikrotikGateway)
            try:
                yield Hotspot(ctx, portal, gateway, address, http_port, octet)
            finally:
                portal.close()
    finally:
        ctx.close()


def _login_page(hotspot: Hotspot, source: str) -> _Form:
    """An OS probe from a client not logged in: rlogin.html, then the hotspot's own /login."""
    first = hotspot.http(source, *PROBE)
    assert first is not None and first.status == 200, first
    rlogin = _parsed(first.body)  # type: ignore[attr-defined]
    target = urlsplit(rlogin.refresh)
    assert target.hostname == DNS_NAME and target.path == "/login", rlogin.refresh
    second = hotspot.http(source, target.netloc, f"{target.path}?{target.query}")
    assert second is not None and second.status == 200
    return _parsed(second.body)  # type: ignore[attr-defined]


def test_citizen_hotspot_portal_internet_then_disconnect_keeps_out(hotspot: Hotspot) -> None:
    assert hotspot.push() == "changed"
    listing = hotspot.gateway.run_lab_command("/file print terse where type=\".html file\"")
    assert "name=simpul/login.html" in listing and "name=simpul/alogin.html" in listing
    assert hotspot.push() == "unchanged"  # the pages read back the same over SFTP

    citizen = hotspot.join(CITIZEN_IP, CITIZEN_MAC, 31)
    # login.html sends the browser to the portal with the hotspot's variables, filled in.
    page = _login_page(hotspot, citizen)
    assert page.action == PORTAL + "/login"
    assert page.fields == {"mac": CITIZEN_MAC, "ip": CITIZEN_IP,
                           "dst": "http://connectivitycheck.gstatic.com/generate_204",
                           "login": f"http://{DNS_NAME}/login", "error": ""}

    browser = hotspot.browser(CITIZEN_IP)
    shown = browser.get(page.action, params=page.fields)
    assert shown.status_code == 200 and 'action="' in shown.text
    done = browser.post(PORTAL + "/login/click", data={"accept": "yes"})
    assert done.status_code == 303, done.text
    [active] = hotspot.gateway.allowed()
    assert active.client == Client(CITIZEN_IP, CITIZEN_MAC.lower())
    passed = hotspot.http(citizen, *PROBE)
    assert passed is not None and passed.getheader("X-Simpul-Lab") == "passed"

    [session] = hotspot.portal.stats.list_active_sessions(HOTSPOT)
    assert hotspot.portal.accounting.disconnect(session.id, "budi")
    assert hotspot.gateway.allowed() == []
    again = hotspot.http(citizen, *PROBE)  # no re-login: the login page again
    assert again is not None and again.getheader("X-Simpul-Lab") is None
    assert _parsed(again.body).refresh.startswith(f"http://{DNS_NAME}/login")  # type: ignore[attr-defined]
    assert "0A:BC:DE:01:02:03" not in hotspot.gateway.run_lab_command(
        "/ip hotspot cookie print terse")


def test_a_forged_mac_parameter_logs_in_only_the_asking_client(hotspot: Hotspot) -> None:
    hotspot.push()
    citizen = hotspot.join(CITIZEN_IP, CITIZEN_MAC, 31)
    neighbour = hotspot.join(NEIGHBOUR_IP, NEIGHBOUR_MAC, 32)
    browser = hotspot.browser(CITIZEN_IP)
    forged = {"mac": NEIGHBOUR_MAC, "ip": NEIGHBOUR_IP, "dst": "http://example.com/"}
    assert browser.get(PORTAL + "/login", params=forged).status_code == 200
    done = browser.post(PORTAL + "/login/click?" + "&".join(f"{k}={v}" for k, v in
                                                          forged.items()),
                        data={"accept": "yes", **forged})
    assert done.status_code == 303
    assert [a.client for a in hotspot.gateway.allowed()] == [
        Client(CITIZEN_IP, CITIZEN_MAC.lower())]
    still_out = hotspot.http(neighbour, *PROBE)
    assert still_out is not None and still_out.getheader("X-Simpul-Lab") is None
    assert hotspot.http(citizen, *PROBE).getheader("X-Simpul-Lab") == "passed"  # type: ignore[union-attr]


def _reaches(hotspot: Hotspot, source: str, host: str) -> bool:
    response = hotspot.http(source, host, "/")
    return response is not None and response.getheader("X-Simpul-Lab") == "passed"


def test_clients_reach_only_what_they_should_before_and_after_login(hotspot: Hotspot) -> None:
    """Walled garden before login: the portal's HTTP and HTTPS ports only. After login: the
    internet, never the controller's other ports, the backbone or the gateway itself."""
    hotspot.push()
    citizen = hotspot.join(CITIZEN_IP, CITIZEN_MAC, 31)
    internet, portal = "93.184.216.34", "10.10.0.5"
    before = {host: _reaches(hotspot, citizen, host) for host in (
        f"{portal}:8080", f"{portal}:8443", f"{portal}:8000", f"{portal}:22", internet,
        "10.10.0.1", "192.168.1.1")}
    assert before == {f"{portal}:8080": True, f"{portal}:8443": True, f"{portal}:8000": False,
                      f"{portal}:22": False, internet: False, "10.10.0.1": False,
                      "192.168.1.1": False}
    hotspot.gateway.allow([Grant(Client(CITIZEN_IP, CITIZEN_MAC.lower()), 600)])
    after = {host: _reaches(hotspot, citizen, host) for host in (
        f"{portal}:8080", f"{portal}:8443", f"{portal}:8000", f"{portal}:22", internet,
        "10.10.0.1", "10.20.0.7:161", "172.16.5.5", "192.168.1.1", "100.64.1.1",
        "10.200.4.1:22", "10.200.4.1:8291", "10.200.4.1:2000", "10.200.4.1:8080")}
    assert after == {f"{portal}:8080": True, f"{portal}:8443": True, f"{portal}:8000": False,
                     f"{portal}:22": False, internet: True, "10.10.0.1": False,
                     "10.20.0.7:161": False, "172.16.5.5": False, "192.168.1.1": False,
                     "100.64.1.1": False, "10.200.4.1:22": False, "10.200.4.1:8291": False,
                     "10.200.4.1:2000": False, "10.200.4.1:8080": False}  # btest, web proxy
    # The hotspot's own pages stay reachable (its servlet on port 80): status, logout.
    status = hotspot.http(citizen, DNS_NAME, "/status")
    assert status is not None and CITIZEN_IP in status.body  # type: ignore[attr-defined]


def test_disconnect_removes_mac_cookies_where_a_router_has_them_on(hotspot: Hotspot) -> None:
    """A router whose hotspot was set by hand to log clients in by MAC cookie: the portal's
    disconnect removes the cookie too, so the client is not logged straight back in."""
    hotspot.push()
    citizen = hotspot.join(CITIZEN_IP, CITIZEN_MAC, 31)
    hotspot.gateway.run_lab_command("/ip hotspot profile set [find name=simpul-alun-alun] "
                                    "login-by=http-pap,mac-cookie")
    hotspot.gateway.run_lab_command("/ip hotspot user profile set [find name=simpul-alun-alun]"
                                    " add-mac-cookie=yes")
    client = Client(CITIZEN_IP, CITIZEN_MAC.lower())
    hotspot.gateway.allow([Grant(client, 600)])
    assert CITIZEN_MAC in hotspot.gateway.run_lab_command("/ip hotspot cookie print terse")
    hotspot.gateway.revoke([client])
    assert CITIZEN_MAC not in hotspot.gateway.run_lab_command("/ip hotspot cookie print terse")
    assert not _reaches(hotspot, citizen, PROBE[0])
    assert hotspot.gateway.allowed() == []


def test_the_login_page_carries_the_hotspot_variables_escaped_by_the_browser(
        hotspot: Hotspot) -> None:
    """$(link-orig) holding `&` and `"`: the form's hidden field carries it whole to the
    portal (the browser encodes form values), and it never closes the attribute."""
    hotspot.push()
    citizen = hotspot.join(CITIZEN_IP, CITIZEN_MAC, 31)
    first = hotspot.http(citizen, "example.com", "/a?b=1&c=2")
    assert first is not None
    target = urlsplit(_parsed(first.body).refresh)  # type: ignore[attr-defined]
    page = hotspot.http(citizen, target.netloc, f"{target.path}?{target.query}")
    assert page is not None
    form = _parsed(page.body)  # type: ignore[attr-defined]
    assert form.fields["dst"] == "http://example.com/a?b=1&c=2"
    assert form.fields["ip"] == CITIZEN_IP
    assert re.search(r'name="mac" value="0A:BC:DE:01:02:03"', page.body)  # type: ignore[attr-defined]
