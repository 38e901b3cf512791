"""adapter radius: the policy FreeRADIUS asks for (issue #19). FreeRADIUS holds no citizen data.

After the portal admits a citizen it issues a one-time credential (random, short-lived, bound to
the client's MAC, stored hashed); the browser posts it to the NAS, the NAS asks FreeRADIUS,
FreeRADIUS asks here (rlm_rest): authorize (is there such an unused login for this MAC at this
NAS?), authenticate (the password; the credential is spent), accounting (the NAS's bytes).
Logs name sessions by id and hotspot, never by a citizen's IP, MAC or phone.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import select, update

from captive_portal.accounting import add_hotspot_traffic, apply_counters
from captive_portal.clock import aware, seconds_between, utcnow
from captive_portal.gateways.base import Client, normalise_ip, normalise_mac
from captive_portal.privacy import pseudonym
from captive_portal.sessions import end_session
from controller.context import Context
from controller.inventory import Hotspot
from controller.store.portal import PortalSession, RadiusLogin

log = logging.getLogger("simpul.portal.radius")

REST_TOKEN_SECRET = "radius_rest_token"  # the bearer token FreeRADIUS sends to /api/radius/*
GIGAWORD = 2**32
# RFC 2866 5.10 Acct-Terminate-Cause -> the session's end_reason
END_REASONS = {"User-Request": "logout", "Idle-Timeout": "idle", "Session-Timeout": "timeout",
               "Admin-Reset": "nas-reset", "Lost-Carrier": "nas-lost", "Lost-Service": "nas-lost"}


@dataclass(frozen=True)
class Credential:
    """What the browser posts to the NAS's login URL; the password exists only in this object."""

    username: str
    password: str


def attribute(body: Mapping[str, Any], name: str) -> str | None:
    """The first value of an attribute in rlm_rest's JSON body ({"Name": {"type": ..,
    "value": [..]}}, FreeRADIUS mods-available/rest); None if absent or malformed."""
    item = body.get(name)
    if isinstance(item, dict):
        values = item.get("value")
        if isinstance(values, list) and values and isinstance(values[0], (str, int)):
            return str(values[0])
    return None


def _hash(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def reply_attributes(hotspot: Hotspot, row: PortalSession, now: datetime,
                     interim_s: int) -> dict[str, str] | None:
    """The Access-Accept's attributes for an open session, or None if nothing is left of it
    (time or daily quota). Rates follow the NAS's view: MikroTik's Rate-Limit is rx/tx "from
    the point of view of the router (so rx is client upload, and tx is client download)"
    (MikroTik, Manual:RADIUS Client, vendor dictionary); WISPr's are bits per second."""
    seconds_left = seconds_between(now, row.expires_at)
    if row.ended_at is not None or seconds_left <= 0:
        return None
    rate = hotspot.client_rate
    reply = {
        "reply:Session-Timeout": str(seconds_left),
        "reply:Idle-Timeout": str(hotspot.idle_timeout),
        "reply:Acct-Interim-Interval": str(interim_s),
        "reply:Mikrotik-Rate-Limit": f"{rate.up_bps}/{rate.down_bps}",
        "reply:WISPr-Bandwidth-Max-Up": str(rate.up_bps),
        "reply:WISPr-Bandwidth-Max-Down": str(rate.down_bps),
        # MikroTik: "Mikrotik-Group - ... HotSpot default profile for HotSpot users" (Manual:
        # RADIUS Client, vendor attributes): the user profile Simpul's template renders, with
        # its parent queue (the site's allocation) and shared-users.
        "reply:Mikrotik-Group": f"simpul-{hotspot.name}",
    }
    if row.quota_bytes is not None:
        left = row.quota_bytes - row.bytes_up - row.bytes_down
        if left <= 0:
            return None
        reply["reply:Mikrotik-Total-Limit"] = str(left % GIGAWORD)
        reply["reply:Mikrotik-Total-Limit-Gigawords"] = str(left // GIGAWORD)
        # FreeRADIUS 3.2's dictionary.chillispot has no Max-Total-Gigawords: Chilli gets at
        # most 4 GiB - 1 per login (the citizen logs in again for the rest).
        reply["reply:ChilliSpot-Max-Total-Octets"] = str(min(left, GIGAWORD - 1))
    return reply


class RadiusLogins:
    """One-time credentials and the NAS's accounting, in the store."""

    def __init__(self, ctx: Context, salt: bytes):
        self.ctx = ctx
        self.store = ctx.store
        self.salt = salt

    def _mac_hash(self, mac: str) -> str:
        return pseudonym(self.salt, "radius-mac", normalise_mac(mac))

    def issue(self, session_id: int, hotspot: str, mac: str) -> Credential:
        """A new one-time credential for an open session, bound to the client's MAC."""
        credential = Credential("s" + secrets.token_hex(8), secrets.token_urlsafe(18))
        now = utcnow()
        with self.store.session() as session:
            session.add(RadiusLogin(
                session_id=session_id, hotspot=hotspot, username=credential.username,
                password_hash=_hash(credential.password), mac_hash=self._mac_hash(mac),
                expires_at=now + timedelta(seconds=self.ctx.settings.radius_credential_ttl_s),
                acct_stopped=False))
            session.commit()
        return credential

    def _usable(self, login: RadiusLogin | None, hotspot: str, mac: str | None,
                now: datetime) -> bool:
        if login is None or login.hotspot != hotspot or login.used_at is not None \
                or aware(login.expires_at) <= now or mac is None:
            return False
        try:
            return hmac.compare_digest(login.mac_hash, self._mac_hash(mac))
        except ValueError:  # not a MAC address
            return False

    def authorize(self, hotspot: str, username: str, mac: str | None) -> bool:
        """Is there an unused, unexpired credential of this name for this MAC at this NAS?"""
        with self.store.session() as session:
            login = session.scalar(select(RadiusLogin).where(RadiusLogin.username == username))
            return self._usable(login, hotspot, mac, utcnow())

    def authenticate(self, hotspot: str, username: str, password: str,
                     mac: str | None) -> dict[str, str] | None:
        """Check and spend the credential; the Access-Accept's attributes, or None (Reject)."""
        now = utcnow()
        with self.store.session() as session:
            login = session.scalar(select(RadiusLogin).where(RadiusLogin.username == username))
            if login is None or not self._usable(login, hotspot, mac, now) or \
                    not hmac.compare_digest(login.password_hash, _hash(password)):
                return None
            row = session.get(PortalSession, login.session_id)
            inventory_hotspot = self.ctx.inventory.hotspots.get(hotspot)
            if row is None or inventory_hotspot is None:
                return None
            reply = reply_attributes(inventory_hotspot, row, now,
                                     self.ctx.settings.radius_interim_interval_s)
            if reply is None:
                log.info("hotspot %s: session %s refused by RADIUS: nothing left", hotspot,
                         row.id)
                return None
            spent = session.execute(update(RadiusLogin).where(
                RadiusLogin.id == login.id, RadiusLogin.used_at.is_(None)).values(used_at=now))
            if getattr(spent, "rowcount", 0) != 1:
                return None  # a concurrent request spent it first
            session.commit()
            log.info("hotspot %s: session %s accepted by RADIUS", hotspot, row.id)
            return reply

    def identify(self, hotspot: str, client: Client) -> tuple[str | None, str | None]:
        """The NAS's names for the client's current RADIUS session, for a Disconnect-Request:
        (User-Name, Acct-Session-Id) of its latest spent, not yet stopped credential at this
        hotspot; either is None when unknown (no login yet; no accounting Start yet)."""
        try:
            mac_hash = self._mac_hash(client.mac)
        except ValueError:
            return None, None
        with self.store.session() as session:
            login = session.scalar(
                select(RadiusLogin).where(RadiusLogin.hotspot == hotspot,
                                          RadiusLogin.mac_hash == mac_hash,
                                          RadiusLogin.used_at.is_not(None),
                                          RadiusLogin.acct_stopped.is_(False))
                .order_by(RadiusLogin.used_at.desc(), RadiusLogin.id.desc()).limit(1))
            if login is None:
                return None, None
            return login.username, login.acct_session_id

    def account(self, hotspot: str, body: Mapping[str, Any]) -> Client | None:
        """An Accounting-Request (Start, Interim-Update, Stop) into the session it belongs to.
        Returns the client (as the NAS reports it) when the NAS still carries a session the
        store has closed: the caller disconnects it. Unknown logins are answered anyway (the
        NAS must not resend) and change nothing."""
        username = attribute(body, "User-Name") or ""
        status = attribute(body, "Acct-Status-Type") or ""
        now = utcnow()
        with self.store.session() as session:
            login = session.scalar(select(RadiusLogin).where(RadiusLogin.username == username,
                                                             RadiusLogin.hotspot == hotspot))
            if login is None or login.used_at is None:
                return None
            login.acct_session_id = (attribute(body, "Acct-Session-Id") or "")[:64] or None
            login.acct_at = now
            row = session.get(PortalSession, login.session_id)
            if row is None:
                return None
            if row.ended_at is not None and status != "Stop":
                session.commit()
                return _reported_client(body)
            if status in ("Interim-Update", "Stop"):
                # RFC 2866 5.3/5.4: Input is what the NAS received from the client (its upload)
                up = _octets(body, "Acct-Input-Octets", "Acct-Input-Gigawords")
                down = _octets(body, "Acct-Output-Octets", "Acct-Output-Gigawords")
                d_up, d_down = apply_counters(row, up, down, now)
                add_hotspot_traffic(session, hotspot, d_up, d_down)
            if status == "Stop":
                login.acct_stopped = True
                if row.ended_at is None:
                    cause = attribute(body, "Acct-Terminate-Cause") or ""
                    end_session(session, row, END_REASONS.get(cause, "nas-stop"), now)
            session.commit()
            return None


def _reported_client(body: Mapping[str, Any]) -> Client | None:
    """The client as the NAS's own Accounting-Request names it (Framed-IP-Address,
    Calling-Station-Id); None if either is missing or malformed."""
    try:
        return Client(normalise_ip(attribute(body, "Framed-IP-Address") or ""),
                      normalise_mac(attribute(body, "Calling-Station-Id") or ""))
    except ValueError:
        return None


def _octets(body: Mapping[str, Any], octets: str, gigawords: str) -> int:
    def number(name: str) -> int:
        value = attribute(body, name)
        return int(value) if value is not None and value.isdigit() else 0

    return number(gigawords) * GIGAWORD + number(octets)


def nas_login_url(hotspot: Hotspot, url: str) -> str | None:
    """The NAS's login URL the hotspot passed along (MikroTik's $(link-login-only)), if it is
    the hotspot's own: http(s), its dns_name or an address in its client subnet, no user
    info. Anything else is None: the portal is never an open redirect."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password \
            or any(c in url for c in "\r\n\t\"'<>` "):
        return None
    if hotspot.dns_name is not None and host == hotspot.dns_name.lower():
        return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if address.version == hotspot.client_subnet.version and address in hotspot.client_subnet:
        return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))
    return None
