"""radius.nas chilli: CoovaChilli's UAM hand-off (issue #19). Chilli sends the browser to the
portal with its own query; the portal sends it back to Chilli's logon URL with the one-time
credential, the password encoded with Chilli's challenge and the uamsecret.

Protocol facts (coova/coova-chilli src/redir.c; chilli.conf(5), man.freebsd.org):
- the redirect is uamserver?res=..&uamip=..&uamport=..&challenge=..(&..)&md=X, where md is the
  upper-case hex MD5 of the whole URL before "&md=" followed by the uamsecret (redir_md_param,
  appended whenever a uamsecret is set);
- the challenge is 16 random octets (REDIR_MD5LEN), hex in the URL;
- a PAP logon is GET http://uamip:uamport/logon?username=U&password=HEX: Chilli decodes the hex
  (at most RADIUS_PWSIZE = 128 octets) and XORs octet i with octet i mod 16 of
  MD5(challenge octets || uamsecret) (redir_radius), then sends it as User-Password.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote

from captive_portal.gateways.base import normalise_ip, normalise_mac
from captive_portal.radius import nas_login_url
from controller.inventory import Hotspot

CHALLENGE_RE = re.compile(r"^[0-9a-fA-F]{32}$")  # 16 octets, hex
MD_RE = re.compile(r"^[0-9a-fA-F]{32}$")
HOST_RE = re.compile(r"^[A-Za-z0-9.-]{1,253}$")  # uamip: Chilli sends inet_ntoa's dotted quad
PASSWORD_MAX = 128  # RADIUS_PWSIZE: what Chilli decodes at most (RFC 2865's 128 octets)


@dataclass(frozen=True)
class ChilliRedirect:
    """What Chilli's redirect told the portal, validated: where its logon is, the client's
    current challenge and MAC."""

    uamip: str
    uamport: int
    logon_url: str  # http://uamip:uamport/logon, on the hotspot itself
    challenge: str  # 32 lower-case hex digits
    mac: str

    def cookie(self) -> str:
        """Kept by the browser between the redirect and the login POST; from_cookie checks
        it again."""
        return "|".join(quote(str(part), safe="") for part in (
            self.uamip, self.uamport, self.challenge, self.mac))


def uam_key(challenge: str, uam_secret: str) -> bytes:
    """MD5(challenge octets || uamsecret): the 16 octets a PAP password is XORed with."""
    return hashlib.md5(bytes.fromhex(challenge) + uam_secret.encode()).digest()


def encode_password(password: str, challenge: str, uam_secret: str) -> str:
    """The logon URL's `password`: each octet XOR the key's octet (index mod 16), in hex. The
    length is the password's own (Chilli sends User-Password of hex-length / 2 octets)."""
    data = password.encode()
    if not data or len(data) > PASSWORD_MAX:
        raise ValueError(f"a PAP password for Chilli has 1 to {PASSWORD_MAX} octets")
    key = uam_key(challenge, uam_secret)
    return bytes(octet ^ key[i % len(key)] for i, octet in enumerate(data)).hex()


def checksum_ok(url_prefixes: Iterable[str], raw_query: str, uam_secret: str) -> bool:
    """Does the redirect's `md` (last parameter) match MD5(uamserver URL + its query before
    "&md=" + uamsecret) for one of the portal's own login URLs?"""
    head, sep, md = raw_query.rpartition("&md=")
    if not sep or not MD_RE.match(md) or not uam_secret:
        return False
    for prefix in url_prefixes:
        url = prefix + ("&" if "?" in prefix else "?") + head
        digest = hashlib.md5((url + uam_secret).encode()).hexdigest()
        if hmac.compare_digest(digest.upper(), md.upper()):
            return True
    return False


def _redirect(hotspot: Hotspot, uamip: str, uamport: str, challenge: str,
              mac: str) -> ChilliRedirect | None:
    if not HOST_RE.match(uamip) or not uamport.isdigit() or not 0 < int(uamport) < 65536 \
            or not CHALLENGE_RE.match(challenge):
        return None
    logon = nas_login_url(hotspot, f"http://{uamip}:{int(uamport)}/logon")
    if logon is None:
        return None
    try:
        client_mac = normalise_mac(mac)
    except ValueError:
        return None
    return ChilliRedirect(uamip, int(uamport), logon, challenge.lower(), client_mac)


def parse_redirect(hotspot: Hotspot, params: Mapping[str, str], raw_query: str,
                   client_ip: str, uam_secret: str,
                   url_prefixes: Iterable[str]) -> ChilliRedirect | None:
    """Chilli's redirect, if it is Chilli's (md), for this client (ip is the TCP peer) and
    hands back to the hotspot itself (uamip in its client subnet or its dns_name: never an
    open redirect); else None."""
    if not checksum_ok(url_prefixes, raw_query, uam_secret):
        return None
    try:
        if normalise_ip(params.get("ip", "")) != normalise_ip(client_ip):
            return None
    except ValueError:
        return None
    return _redirect(hotspot, params.get("uamip", ""), params.get("uamport", ""),
                     params.get("challenge", ""), params.get("mac", ""))


def from_cookie(hotspot: Hotspot, value: str) -> ChilliRedirect | None:
    """The redirect kept in the portal's cookie, checked again (the browser holds it)."""
    parts = [unquote(part) for part in value.split("|")]
    return _redirect(hotspot, *parts) if len(parts) == 4 else None
