"""radius.nas chilli: CoovaChilli's UAM hand-off (captive_portal/chilli.py, the portal's pages)
and the lab Chilli's URLs (lab/chilli_uam.py).

Vectors are worked out outside Python with coreutils and perl, from the rules in
coova/coova-chilli src/redir.c (redir_radius: password octet i XOR octet i mod 16 of
MD5(challenge octets || uamsecret); redir_md_param: md = upper-case MD5(URL + uamsecret)):
  KEY=$( (printf 00112233445566778899aabbccddeeff | xxd -r -p; printf greatsecret) | md5sum )
      = ba4e91cea4007711357e06a9ff5c16cf
  perl -e '$k=pack("H*",KEY) x 4; print unpack("H*", "Pasar-Besar-2026!Wifi" ^ substr($k,0,21))'
      = ea2fe2afd62d3574461f7484cd6c24f99b19f8a8cd   (21 octets: the key wraps after 16)
  printf '%s' "${URL}greatsecret" | md5sum = 4736916800251b124ea99a1c81a99024 (URL below)
"""

from __future__ import annotations

import hashlib
import html
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from captive_portal import chilli
from captive_portal.app import create_portal_app
from captive_portal.service import Portal
from controller.inventory import Hotspot, check_inventory
from lab.chilli_uam import ChilliConfig, ChilliUAM, chilli_urlencode
from tests.unit.portal_helpers import PORTAL, open_portal

CHALLENGE = "00112233445566778899aabbccddeeff"
SECRET = "greatsecret"
PREFIX = "http://10.10.0.5:8080/login"
QUERY = ("res=notyet&uamip=10.200.0.1&uamport=3990&challenge=00112233445566778899aabbccddeeff"
         "&called=02-00-00-C0-FF-EE&mac=0A-BC-DE-01-02-03&ip=10.200.0.31&nasid=taman-kota"
         "&sessionid=5f2a1b3c00000001&userurl=http%3a%2f%2fexample.com%2f")
MD = "4736916800251B124EA99A1C81A99024"
CITIZEN = "10.200.0.31"


def test_pap_password_is_xored_with_md5_of_challenge_and_uamsecret() -> None:
    assert chilli.uam_key(CHALLENGE, SECRET).hex() == "ba4e91cea4007711357e06a9ff5c16cf"
    assert chilli.encode_password("Pasar-Besar-2026!Wifi", CHALLENGE, SECRET) == \
        "ea2fe2afd62d3574461f7484cd6c24f99b19f8a8cd"
    with pytest.raises(ValueError, match="1 to 128 octets"):
        chilli.encode_password("x" * 129, CHALLENGE, SECRET)


def test_md_covers_the_whole_url_and_the_uamsecret() -> None:
    assert chilli.checksum_ok([PREFIX], f"{QUERY}&md={MD}", SECRET)
    assert chilli.checksum_ok(["http://elsewhere/login", PREFIX], f"{QUERY}&md={MD.lower()}",
                              SECRET)
    assert not chilli.checksum_ok([PREFIX], f"{QUERY}&md={MD}", "greatsecreT")
    assert not chilli.checksum_ok(["http://10.10.0.5:8080/logon"], f"{QUERY}&md={MD}", SECRET)
    assert not chilli.checksum_ok([PREFIX], QUERY.replace("10.200.0.31", "10.200.0.32")
                                  + f"&md={MD}", SECRET)
    assert not chilli.checksum_ok([PREFIX], QUERY, SECRET)  # no md at all
    assert not chilli.checksum_ok([PREFIX], f"{QUERY}&md={MD}", "")


def test_the_lab_chilli_builds_the_same_url() -> None:
    """The lab's redirect, field order and encoding from redir.c, against the vector."""
    uam = ChilliUAM(ChilliConfig(
        uamlisten="10.200.0.1", uamport=3990, uamserver=PREFIX, uamsecret=SECRET,
        radius_server="127.0.0.1", radius_auth_port=1812, radius_secret="x", nas_ip="127.0.0.1",
        nasid="taman-kota"))
    state = uam.add_client("127.0.100.31", CITIZEN, "0a:bc:de:01:02:03")
    state.challenge, state.challenge_at = bytes.fromhex(CHALLENGE), 1e12
    state.sessionid, state.userurl = "5f2a1b3c00000001", "http://example.com/"
    assert uam._url(state, "notyet", challenge=True) == f"{PREFIX}?{QUERY}&md={MD}"
    assert chilli_urlencode("a b/~*!") == "a%20b%2f~*!"


@pytest.fixture
def hotspot(demo_inventory: Path) -> Hotspot:
    chilli_hotspot(demo_inventory)
    inventory, _ = check_inventory(demo_inventory)
    return inventory.hotspots["taman-kota"]


def chilli_hotspot(inventory: Path) -> None:
    """taman-kota (10.200.0.0/22) as a CoovaChilli NAS over RADIUS, in an inventory copy."""
    path = inventory / "hotspots.yaml"
    text = path.read_text().replace(
        "  adapter: nftables\n  client_subnet: 10.200.0.0/22",
        "  adapter: radius\n  radius: {secret: radius_taman_kota, server: 127.0.0.1, "
        "nas: chilli, uam_secret: chilli_taman_kota}\n  client_subnet: 10.200.0.0/22", 1)
    assert "nas: chilli" in text
    path.write_text(text)


def signed(query: str, prefix: str = PREFIX, secret: str = SECRET) -> str:
    """The query with Chilli's md appended (worked out here, with hashlib, as redir.c does)."""
    digest = hashlib.md5(f"{prefix}?{query}{secret}".encode()).hexdigest().upper()
    return f"{query}&md={digest}"


def parse(hotspot: Hotspot, query: str, client_ip: str = CITIZEN) -> chilli.ChilliRedirect | None:
    params = dict(part.split("=", 1) for part in query.split("&"))
    return chilli.parse_redirect(hotspot, params, query, client_ip, SECRET, [PREFIX])


def test_a_signed_redirect_from_the_hotspot_is_taken(hotspot: Hotspot) -> None:
    redirect = parse(hotspot, signed(QUERY))
    assert redirect is not None
    assert (redirect.logon_url, redirect.challenge, redirect.mac) == (
        "http://10.200.0.1:3990/logon", CHALLENGE, "0a:bc:de:01:02:03")
    assert chilli.from_cookie(hotspot, redirect.cookie()) == redirect


@pytest.mark.parametrize(("old", "new"), [
    ("uamip=10.200.0.1", "uamip=evil.example"),             # another host
    ("uamip=10.200.0.1", "uamip=10.200.0.1@evil.example"),  # user info
    ("uamip=10.200.0.1", "uamip=10.99.0.1"),                # outside the client subnet
    ("uamip=10.200.0.1", "uamip=127.0.0.1"),
    ("uamip=10.200.0.1", "uamip=10.200.0.1%2f%2fevil.example"),
    ("uamip=10.200.0.1", "uamip="),
    ("uamport=3990", "uamport=0"),
    ("uamport=3990", "uamport=70000"),
    ("uamport=3990", "uamport=3990%2fevil"),
    ("challenge=00112233445566778899aabbccddeeff", "challenge=00112233445566778899aabbccddee"),
    ("challenge=00112233445566778899aabbccddeeff", "challenge=zz112233445566778899aabbccddeeff"),
    ("mac=0A-BC-DE-01-02-03", "mac=0A-BC-DE-01-02"),
    ("ip=10.200.0.31", "ip=10.200.0.32"),                   # another client's redirect
])
def test_a_redirect_that_leaves_the_hotspot_or_is_malformed_is_refused(
        hotspot: Hotspot, old: str, new: str) -> None:
    assert old in QUERY
    assert parse(hotspot, signed(QUERY.replace(old, new))) is None


def test_an_unsigned_or_forged_redirect_is_refused(hotspot: Hotspot) -> None:
    assert parse(hotspot, QUERY) is None
    assert parse(hotspot, signed(QUERY, secret="guessed")) is None
    assert parse(hotspot, signed(QUERY).replace("uamport=3990", "uamport=3991")) is None


def test_a_tampered_cookie_is_checked_again(hotspot: Hotspot) -> None:
    redirect = parse(hotspot, signed(QUERY))
    assert redirect is not None
    assert chilli.from_cookie(hotspot, redirect.cookie().replace("10.200.0.1", "evil.example",
                                                                 1)) is None
    assert chilli.from_cookie(hotspot, "10.200.0.1|3990|" + CHALLENGE) is None


# ----------------------------------------------------------------------------- the pages
@pytest.fixture
def portal(tmp_path: Path, demo_inventory: Path, demo_secrets: Path,
           monkeypatch: pytest.MonkeyPatch) -> Portal:
    chilli_hotspot(demo_inventory)
    monkeypatch.setenv("SIMPUL_SECRET_CHILLI_TAMAN_KOTA", SECRET)
    monkeypatch.setenv("SIMPUL_SECRET_RADIUS_TAMAN_KOTA", "nas-secret")
    return open_portal(tmp_path, demo_inventory)[0]


def browser(portal: Portal) -> TestClient:
    return TestClient(create_portal_app(portal.ctx), base_url=PORTAL, client=(CITIZEN, 40000),
                      follow_redirects=False)


def chilli_query(**changes: str) -> str:
    query = QUERY
    for key, value in changes.items():
        query, found = re.subn(rf"(^|&){key}=[^&]*", rf"\g<1>{key}={value}", query)
        query += "" if found else f"&{key}={value}"
    return signed(query, f"{PORTAL}/login")


def test_the_citizen_is_handed_to_chillis_logon(portal: Portal) -> None:
    client = browser(portal)
    first = client.get(f"/login?{chilli_query()}")
    assert first.status_code == 200 and "Sambungkan" in first.text
    handoff = client.post("/login/click", data={"accept": "yes"})
    assert handoff.status_code == 200, handoff.text
    form = re.search(r'<form name="nas" action="([^"]+)" method="get">', handoff.text)
    assert form and form.group(1) == "http://10.200.0.1:3990/logon"
    assert "form-action 'self' http://10.200.0.1:3990" in \
        handoff.headers["content-security-policy"]
    fields = {name: html.unescape(value) for name, value in re.findall(
        r'<input type="hidden" name="([^"]+)" value="([^"]*)">', handoff.text)}
    assert set(fields) == {"username", "password", "lang"} and fields["lang"] == "id"
    # Decoded as Chilli does, the password is the one-time credential RADIUS accepts once,
    # for the MAC Chilli named.
    key = hashlib.md5(bytes.fromhex(CHALLENGE) + SECRET.encode()).digest()
    sent = bytes.fromhex(fields["password"])
    password = bytes(b ^ key[i % 16] for i, b in enumerate(sent)).decode()
    assert portal.radius.authorize("taman-kota", fields["username"], "0A-BC-DE-01-02-03")
    assert not portal.radius.authorize("taman-kota", fields["username"], "0A-BC-DE-01-02-04")
    assert portal.radius.authenticate("taman-kota", fields["username"], password,
                                      "0A-BC-DE-01-02-03") is not None
    assert portal.radius.authenticate("taman-kota", fields["username"], password,
                                      "0A-BC-DE-01-02-03") is None  # spent


def test_chillis_answers_are_shown_in_both_languages(portal: Portal) -> None:
    client = browser(portal)
    client.get(f"/login?{chilli_query()}")
    client.post("/login/click", data={"accept": "yes"})
    failed = client.get(f"/login?{chilli_query(res='failed')}")
    assert failed.status_code == 403 and "Hotspot belum menerima login Anda" in failed.text
    english = client.get(f"/login?{chilli_query(res='failed', lang='en')}")
    assert "The hotspot did not accept the login" in english.text
    success = client.get("/login?res=success&uamip=10.200.0.1&uamport=3990&uid=s1&lang=id")
    assert success.status_code == 200 and "Anda sudah terhubung ke internet" in success.text
    # An open session and a new redirect (Chilli restarted): a new credential at once.
    again = client.get(f"/login?{chilli_query()}")
    assert 'action="http://10.200.0.1:3990/logon"' in again.text


def test_a_forged_redirect_gets_an_error_and_no_cookie(portal: Portal) -> None:
    client = browser(portal)
    forged = client.get(f"/login?{chilli_query(uamip='evil.example')}")
    assert forged.status_code == 400 and "Tautan login dari hotspot tidak sah" in forged.text
    assert "simpul_chilli" not in forged.headers.get("set-cookie", "")
    unsigned = client.get(f"/login?{QUERY}")
    assert unsigned.status_code == 400
    # Without Chilli's redirect the click-through admits nobody into Chilli's logon.
    handoff = client.post("/login/click", data={"accept": "yes"})
    assert "/logon" not in handoff.text
