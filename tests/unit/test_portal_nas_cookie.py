"""adapter radius: the MAC a NAS passed to the portal (MikroTik's `mac`, Chilli's signed
redirect) is kept in a cookie until the login POST. The cookie is signed for the client: an
edited one, or one copied to another client, names no MAC, so the store never binds a session
or a one-time credential to a MAC that no NAS gave."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from captive_portal import form_tokens
from captive_portal.app import CHILLI_COOKIE, NAS_COOKIE, create_portal_app
from captive_portal.service import Portal
from tests.unit.portal_helpers import PORTAL, open_portal
from tests.unit.test_chilli_uam import CITIZEN, SECRET, chilli_hotspot, chilli_query

MARKET = "10.200.12.31"  # pasar-besar's client subnet is 10.200.12.0/22 (demo inventory)
NEIGHBOUR = "10.200.12.32"
NAS_MAC, EDITED_MAC = "0A:BC:DE:01:02:03", "0A:BC:DE:01:02:04"
NAS_LOGIN = "http://wifi-pasar-besar.kualakahayan.go.id/login"


@pytest.fixture
def portal(tmp_path: Path, demo_inventory: Path, demo_secrets: Path,
           monkeypatch: pytest.MonkeyPatch) -> Portal:
    chilli_hotspot(demo_inventory)
    monkeypatch.setenv("SIMPUL_SECRET_CHILLI_TAMAN_KOTA", SECRET)
    monkeypatch.setenv("SIMPUL_SECRET_RADIUS_TAMAN_KOTA", "nas-secret")
    return open_portal(tmp_path, demo_inventory)[0]


def browser(portal: Portal, ip: str) -> TestClient:
    return TestClient(create_portal_app(portal.ctx), base_url=PORTAL, client=(ip, 40000),
                      follow_redirects=False)


def replace_cookie(client: TestClient, name: str, value: str) -> None:
    client.cookies.clear()
    client.cookies.set(name, value)


def nas_form(page: str) -> str | None:
    found = re.search(r'<form name="nas" action="([^"]+)"', page)
    return found.group(1) if found else None


def session_mac(portal: Portal, ip: str) -> str | None:
    _, session = portal.login.status_for_ip(ip)
    return session.client_mac.upper() if session is not None and session.client_mac else None


def mikrotik_redirect(client: TestClient) -> str:
    first = client.get("/login", params={"mac": NAS_MAC, "login": NAS_LOGIN})
    assert first.status_code == 200
    return client.cookies[NAS_COOKIE]


def test_the_nas_cookie_as_given_hands_the_citizen_to_the_nas(portal: Portal) -> None:
    client = browser(portal, MARKET)
    mikrotik_redirect(client)
    handoff = client.post("/login/click", data={"accept": "yes"})
    assert nas_form(handoff.text) == NAS_LOGIN
    assert session_mac(portal, MARKET) == NAS_MAC


def test_an_edited_nas_cookie_binds_nothing_to_the_edited_mac(portal: Portal) -> None:
    client = browser(portal, MARKET)
    cookie = mikrotik_redirect(client)
    assert quote(NAS_MAC) in cookie
    replace_cookie(client, NAS_COOKIE, cookie.replace(quote(NAS_MAC), quote(EDITED_MAC)))
    answer = client.post("/login/click", data={"accept": "yes"})
    assert nas_form(answer.text) is None
    assert session_mac(portal, MARKET) != EDITED_MAC
    # An unsigned cookie of the old form is worth nothing either.
    other = browser(portal, NEIGHBOUR)
    replace_cookie(other, NAS_COOKIE, f"{quote(EDITED_MAC)}|{quote(NAS_LOGIN)}")
    assert nas_form(other.post("/login/click", data={"accept": "yes"}).text) is None
    assert session_mac(portal, NEIGHBOUR) != EDITED_MAC


def test_a_nas_cookie_copied_to_another_client_names_no_mac(portal: Portal) -> None:
    cookie = mikrotik_redirect(browser(portal, MARKET))
    neighbour = browser(portal, NEIGHBOUR)
    replace_cookie(neighbour, NAS_COOKIE, cookie)
    answer = neighbour.post("/login/click", data={"accept": "yes"})
    assert nas_form(answer.text) is None
    assert session_mac(portal, NEIGHBOUR) != NAS_MAC


def test_an_edited_chilli_cookie_gets_no_logon(portal: Portal) -> None:
    client = browser(portal, CITIZEN)
    assert client.get(f"/login?{chilli_query()}").status_code == 200
    cookie = client.cookies[CHILLI_COOKIE]
    assert "0a%3Abc%3Ade%3A01%3A02%3A03" in cookie  # the MAC Chilli named, normalised
    replace_cookie(client, CHILLI_COOKIE, cookie.replace("02%3A03", "02%3A04"))
    answer = client.post("/login/click", data={"accept": "yes"})
    assert "/logon" not in answer.text
    assert session_mac(portal, CITIZEN) != EDITED_MAC


def test_a_sealed_value_lasts_the_cookies_age_and_belongs_to_one_kind() -> None:
    salt = b"s" * 32
    sealed = form_tokens.seal(salt, "nas", MARKET, "v|w~x", now=1_000_000)
    assert form_tokens.unseal(salt, "nas", MARKET, sealed, now=1_000_000 + 600) == "v|w~x"
    assert form_tokens.unseal(salt, "nas", MARKET, sealed, now=1_000_000 + 601) is None
    assert form_tokens.unseal(salt, "chilli", MARKET, sealed, now=1_000_000) is None
    assert form_tokens.unseal(b"t" * 32, "nas", MARKET, sealed, now=1_000_000) is None
    assert form_tokens.unseal(salt, "nas", MARKET, "", now=1_000_000) is None
