"""adapter radius: the NAS admits clients itself when FreeRADIUS (asking Simpul) accepts them;
Simpul ends a session with an RFC 5176 Disconnect-Request to the NAS (pyrad), with a
Message-Authenticator (BlastRADIUS, CVE-2024-3596).

allow() has nothing to do: the browser posts the one-time credential to the NAS. The NAS's
accounting lives in the store (captive_portal/radius.py), so allowed() is empty here and
mac_for_ip has no table to ask: the MAC is the one the NAS passed along, which RADIUS checks
against the Calling-Station-Id the NAS reports.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from pyrad import packet
from pyrad.client import Client as PyradClient
from pyrad.client import Timeout
from pyrad.dictionary import Dictionary

from captive_portal.gateways.base import (
    AllowedClient,
    Client,
    GatewayError,
    Grant,
    normalise_ip,
    normalise_mac,
)
from controller.inventory import Device, Hotspot
from controller.secrets import SecretStore

log = logging.getLogger("simpul.portal.radius")
DICTIONARY = Path(__file__).with_name("radius_dictionary")
# A client -> the NAS's (User-Name, Acct-Session-Id) of its session, each None if unknown
Identify = Callable[[Client], tuple[str | None, str | None]]


def calling_station_id(mac: str) -> str:
    """RFC 3580 3.21's form of a MAC: '02-00-5E-00-00-01'."""
    return normalise_mac(mac).upper().replace(":", "-")


class RadiusGateway:
    def __init__(self, name: str, nas_address: str, coa_port: int, secret: str,
                 timeout_s: float = 3.0, retries: int = 2):
        self.name = name
        self._nas = nas_address
        self._port = coa_port
        self._secret = secret.encode()
        self._timeout_s = timeout_s
        self._retries = retries
        self._dictionary = Dictionary(str(DICTIONARY))
        self._identify: Identify | None = None
        self._source: str | None = None

    def send_from(self, source: str | None) -> None:
        """The local address Disconnect-Requests leave from (SIMPUL_RADIUS_DISCONNECT_SOURCE):
        a NAS takes them only from its RADIUS server's address (MikroTik: a /radius entry's).
        None: the OS chooses by its routes."""
        self._source = source

    def identify_with(self, identify: Identify) -> None:
        """Where revoke() learns the session's User-Name and Acct-Session-Id (the portal's
        RADIUS logins: the one-time credential and the NAS's accounting Start)."""
        self._identify = identify

    @classmethod
    def for_hotspot(cls, hotspot: Hotspot, device: Device,
                    secrets: SecretStore) -> RadiusGateway:
        if hotspot.radius is None:
            raise GatewayError(f"hotspot {hotspot.name}: adapter radius without a radius block")
        address = hotspot.radius.nas_address or device.mgmt_address
        return cls(hotspot.name, str(address), hotspot.radius.coa_port,
                   secrets.require(hotspot.radius.secret))

    def allow(self, grants: Sequence[Grant]) -> None:
        """Nothing: the NAS admits the client on FreeRADIUS's Access-Accept."""

    def allowed(self) -> list[AllowedClient]:
        return []

    def mac_for_ip(self, ip: str) -> str | None:
        return None

    def close(self) -> None:
        pass

    def disconnect(self, client: Client, user_name: str | None = None,
                   acct_session_id: str | None = None) -> bool:
        """One Disconnect-Request; True on Disconnect-ACK, False on NAK (the NAS has no such
        session: RFC 5176 Error-Cause 503). GatewayError if the NAS does not answer.

        Session identification (RFC 5176 3: the NAS acts on the session that matches every
        identification attribute sent, else NAKs with 503): everything known of the session,
        as the NAS itself named it in its requests. MikroTik's manual ("RADIUS", Connection
        Terminating from RADIUS, /radius incoming: https://help.mikrotik.com/docs/spaces/ROS/
        pages/328097/RADIUS) documents Disconnect-Messages but not which attributes it
        matches; its hotspot Access- and Accounting-Requests name a session by User-Name (the
        login name), Acct-Session-Id ("unique session ID"), Calling-Station-Id (the client's
        MAC) and Framed-IP-Address (the client's address), so those four are sent. RFC 3580
        3.21's MAC form here; the lab RouterOS accepts either spelling like FreeRADIUS."""
        attributes: dict[str, str] = {
            "Calling-Station-Id": calling_station_id(client.mac),
            "Framed-IP-Address": normalise_ip(client.ip),
            "Event-Timestamp": str(int(time.time())),  # RFC 5176 3.5: replay protection
        }
        if user_name:
            attributes["User-Name"] = user_name
        if acct_session_id:
            attributes["Acct-Session-Id"] = acct_session_id
        radius = PyradClient(server=self._nas, coaport=self._port, secret=self._secret,
                             dict=self._dictionary, retries=self._retries,
                             timeout=self._timeout_s, enforce_ma=True)
        if self._source is not None:
            try:
                radius.bind((self._source, 0))
            except OSError as exc:
                radius._CloseSocket()
                raise GatewayError(f"gateway {self.name}: cannot send from "
                                   f"SIMPUL_RADIUS_DISCONNECT_SOURCE {self._source}: "
                                   f"{exc.strerror or exc}") from None
        request = radius.CreateCoAPacket(code=packet.DisconnectRequest)
        request.add_message_authenticator()
        for key, value in attributes.items():
            request[key] = int(value) if key == "Event-Timestamp" else value
        try:
            reply = radius.SendPacket(request)
        except (Timeout, OSError) as exc:
            raise GatewayError(f"gateway {self.name}: no answer to Disconnect-Request "
                               f"({type(exc).__name__})") from None
        finally:
            radius._CloseSocket()
        return bool(reply.code == packet.DisconnectACK)

    def revoke(self, clients: Sequence[Client]) -> None:
        for client in clients:
            user_name, acct_session_id = (self._identify(client) if self._identify
                                          else (None, None))
            if not self.disconnect(client, user_name, acct_session_id):
                log.info("hotspot %s: the NAS had no such session (Disconnect-NAK)", self.name)
