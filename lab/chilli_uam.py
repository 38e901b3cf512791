"""The lab's CoovaChilli: the UAM HTTP side of a Chilli hotspot (redirect, logon, RADIUS).

Built from CoovaChilli's own description, not from what Simpul's portal sends:
coova/coova-chilli src/redir.c (redir_main, redir_getreq, redir_radius, bstring_buildurl,
redir_md_param, redir_reply), src/chilli.c (chilli_req_attrs), chilli.conf(5) and doc/attributes.
- A client is known by its address (redir_accept: "Incoming requests are identified only by
  their IP address"); an unknown one gets no answer (getstate fails, the connection closes).
- Any request of an unauthenticated client is redirected (302) to the uamserver with
  res=notyet&uamip&uamport&challenge&called&mac&ip&nasid&sessionid&userurl and, with a
  uamsecret, md = upper-case hex MD5(URL so far + uamsecret). Values are URL-encoded keeping
  A-Z a-z 0-9 - _ . ! ~ * and lower-case %xx (redir_urlencode).
- The challenge is 16 random octets per client, kept until challengetimeout; a logon after it
  expired gets res=failed&reason=other with a new one; a rejected logon gets a new one.
- GET /logon (or /login) needs username and password (PAP: hex, at most 128 octets, each XOR
  octet i mod 16 of MD5(challenge || uamsecret)); the decoded password goes to RADIUS as
  User-Password with User-Name, Service-Type Login-User, Framed-IP-Address, NAS-Port-Type,
  Acct-Session-Id, Calling-Station-Id (XX-XX-XX-XX-XX-XX), Called-Station-Id, NAS-IP-Address,
  NAS-Identifier, WISPr-Logoff-URL and Message-Authenticator.
- Access-Accept: res=success (uid, timeleft = Session-Timeout); Access-Reject:
  res=failed&reason=reject; no answer: res=failed&reason=timeout; already logged in:
  res=already.
Stricter than Chilli: a password that is not even-length hex is refused (Chilli's sscanf would
read garbage as zeros).
"""

from __future__ import annotations

import hashlib
import http.server
import logging
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pyrad import packet
from pyrad.client import Client, Timeout
from pyrad.dictionary import Dictionary

log = logging.getLogger("simpul.lab.chilli")
DICTIONARY = Path(__file__).with_name("chilli_dictionary")
RADIUS_PWSIZE = 128
UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*")


def chilli_urlencode(value: str) -> str:
    """redir_urlencode: unreserved octets as they are, every other as lower-case %xx."""
    return "".join(chr(b) if b in UNRESERVED else f"%{b:02x}" for b in value.encode())


def chilli_mac(mac: str) -> str:
    """Chilli's MAC_FMT: upper-case hex, dashes."""
    digits = mac.replace(":", "").replace("-", "").upper()
    return "-".join(digits[i:i + 2] for i in range(0, 12, 2))


@dataclass
class ChilliConfig:
    """What chilli.conf(5) says for the UAM side (HS_* in /etc/chilli/config)."""

    uamlisten: str  # HS_UAMLISTEN: the address sent as uamip
    uamport: int  # HS_UAMPORT
    uamserver: str  # the URL Chilli redirects to (HS_UAMFORMAT, expanded)
    uamsecret: str  # HS_UAMSECRET
    radius_server: str  # HS_RADIUS
    radius_auth_port: int
    radius_secret: str  # HS_RADSECRET
    nas_ip: str  # HS_NASIP: the RADIUS packets' source and NAS-IP-Address
    nasid: str  # HS_NASID
    nas_mac: str = "02-00-00-C0-FF-EE"  # the LAN interface's MAC: `called`
    challenge_timeout_s: float = 600.0  # challengetimeout
    radius_timeout_s: float = 2.0


@dataclass
class ClientState:
    ip: str
    mac: str
    challenge: bytes = b""
    challenge_at: float = 0.0
    authenticated: bool = False
    sessionid: str = field(default_factory=lambda: secrets.token_hex(8))
    userurl: str = ""
    username: str = ""
    lang: str = ""
    accepted: dict[str, list[Any]] = field(default_factory=dict)
    logons: int = 0


class ChilliUAM:
    """The redirect and logon logic; `serve` puts it on a real HTTP listener."""

    def __init__(self, config: ChilliConfig):
        self.config = config
        self.clients: dict[str, ClientState] = {}  # by the address the request comes from
        self.lock = threading.Lock()
        self._dictionary = Dictionary(str(DICTIONARY))

    def add_client(self, peer: str, ip: str, mac: str) -> ClientState:
        """A DHCP lease: the client at `ip` with `mac`, whose HTTP arrives from `peer` (the
        lab's loopback stand-in for the hotspot LAN)."""
        state = ClientState(ip=ip, mac=chilli_mac(mac))
        with self.lock:
            self.clients[peer] = state
        return state

    # ----------------------------------------------------------------------------- URLs
    def _url(self, state: ClientState, res: str, *, challenge: bool = False,
             uid: str = "", timeleft: int = 0, reply: str = "") -> str:
        """bstring_buildurl's order, then md (redir_md_param)."""
        config = self.config
        url = (f"{config.uamserver}{'&' if '?' in config.uamserver else '?'}res={res}"
               f"&uamip={config.uamlisten}&uamport={config.uamport}")
        if challenge:
            url += f"&challenge={state.challenge.hex()}"
        url += f"&called={chilli_urlencode(config.nas_mac)}"
        if uid:
            url += f"&uid={chilli_urlencode(uid)}"
        if timeleft:
            url += f"&timeleft={timeleft}"
        url += f"&mac={chilli_urlencode(state.mac)}&ip={state.ip}"
        if reply:
            url += f"&reply={chilli_urlencode(reply)}"
        url += f"&nasid={chilli_urlencode(config.nasid)}"
        if state.lang:
            url += f"&lang={chilli_urlencode(state.lang)}"
        url += f"&sessionid={chilli_urlencode(state.sessionid)}"
        if state.userurl:
            url += f"&userurl={chilli_urlencode(state.userurl)}"
        if config.uamsecret:
            digest = hashlib.md5((url + config.uamsecret).encode()).hexdigest().upper()
            url += f"&md={digest}"
        return url

    def _new_challenge(self, state: ClientState) -> None:
        state.challenge = secrets.token_bytes(16)
        state.challenge_at = time.monotonic()

    def _challenge_expired(self, state: ClientState) -> bool:
        return not state.challenge or \
            time.monotonic() - state.challenge_at > self.config.challenge_timeout_s

    # -------------------------------------------------------------------------- requests
    def handle(self, peer: str, host: str, target: str) -> str | None:
        """One GET from `peer`: the Location of Chilli's 302, or None (no answer, the
        connection is closed: an unknown client or a malformed logon)."""
        with self.lock:
            state = self.clients.get(peer)
        if state is None:
            return None
        parts = urlsplit(target)
        path = parts.path.lstrip("/")
        query = parse_qs(parts.query, keep_blank_values=True)
        if path in ("logon", "login"):
            return self._logon(state, query)
        if path in ("logoff", "logout"):
            with self.lock:
                state.authenticated = False
                self._new_challenge(state)
                return self._url(state, "logoff", challenge=True)
        with self.lock:  # an original request: remembered as userurl
            state.userurl = f"http://{host}{target}"
            if state.authenticated:
                return self._url(state, "already")
            if self._challenge_expired(state):
                self._new_challenge(state)
            return self._url(state, "notyet", challenge=True)

    def _logon(self, state: ClientState, query: dict[str, list[str]]) -> str | None:
        username = query.get("username", [""])[0]
        password_hex = query.get("password", [None])[0]
        if "username" not in query or password_hex is None:
            return None  # redir_getreq: no username / no password: -1
        try:
            sent = bytes.fromhex(password_hex)
        except ValueError:
            return None
        with self.lock:
            state.lang = query.get("lang", [""])[0][:16]
            if state.authenticated:
                return self._url(state, "already")
            if self._challenge_expired(state):
                self._new_challenge(state)
                return self._url(state, "failed&reason=other", challenge=True)
            key = hashlib.md5(state.challenge + self.config.uamsecret.encode()).digest()
            state.logons += 1
        sent = sent[:RADIUS_PWSIZE]
        password = bytes(octet ^ key[i % 16] for i, octet in enumerate(sent))
        answer = self._access_request(state, username, password)
        with self.lock:
            if answer is None:
                return self._url(state, "failed&reason=timeout", challenge=True)
            code, values = answer
            if code == packet.AccessAccept:
                state.authenticated, state.username, state.accepted = True, username, values
                timeout = int(values.get("Session-Timeout", [0])[0])
                return self._url(state, "success", uid=username, timeleft=timeout,
                                 reply=str(values.get("Reply-Message", [""])[0]))
            self._new_challenge(state)
            return self._url(state, "failed&reason=reject", challenge=True,
                             reply=str(values.get("Reply-Message", [""])[0]))

    def _access_request(self, state: ClientState, username: str,
                        password: bytes) -> tuple[int, dict[str, list[Any]]] | None:
        config = self.config
        client = Client(server=config.radius_server, authport=config.radius_auth_port,
                        secret=config.radius_secret.encode(), dict=self._dictionary,
                        retries=2, timeout=config.radius_timeout_s, enforce_ma=True)
        client.bind((config.nas_ip, 0))
        request = client.CreateAuthPacket(code=packet.AccessRequest, message_authenticator=True)
        attributes: dict[str, Any] = {
            "User-Name": username,
            "Service-Type": "Login-User",
            "Acct-Session-Id": state.sessionid,
            "Framed-IP-Address": state.ip,
            "NAS-Port-Type": "Wireless-802.11",
            "Calling-Station-Id": state.mac,
            "Called-Station-Id": config.nas_mac,
            "NAS-IP-Address": config.nas_ip,
            "NAS-Identifier": config.nasid,
            "WISPr-Logoff-URL": f"http://{config.uamlisten}:{config.uamport}/logoff",
        }
        for key, value in attributes.items():
            request[key] = value
        request["User-Password"] = request.PwCrypt(password)
        try:
            reply = client.SendPacket(request)
        except (Timeout, OSError):
            return None
        finally:
            client._CloseSocket()
        return reply.code, {key: list(reply[key]) for key in reply.keys()
                            if isinstance(key, str)}


class _Handler(http.server.BaseHTTPRequestHandler):
    uam: ChilliUAM

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        location = self.uam.handle(self.client_address[0], self.headers.get("Host", ""),
                                   self.path)
        if location is None:
            self.close_connection = True
            return
        body = b"<HTML><BODY><H2>Browser error!</H2>Browser does not support redirects!</BODY>"
        self.send_response(302, "Moved Temporarily")
        self.send_header("Location", location)
        self.send_header("Content-Type", "text/html; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, must-revalidate")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("chilli uam: " + format, *args)


@contextmanager
def serve(uam: ChilliUAM, listen: tuple[str, int]) -> Iterator[http.server.HTTPServer]:
    """The UAM port on `listen` (a loopback stand-in for uamlisten:uamport) until the block
    ends."""
    handler = type("ChilliHandler", (_Handler,), {"uam": uam})
    server = http.server.ThreadingHTTPServer(listen, handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
