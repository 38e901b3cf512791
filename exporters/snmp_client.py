"""The SNMP wire side of the poller: one shared pysnmp 7 asyncio engine, GETBULK only.

`SnmpClient` is the Protocol the poller needs; `PysnmpClient` implements it on pysnmp's
high-level asyncio API with `lookupMib=False` (no MIB resolution of replies), one engine for all
devices, and one transport target and auth object per device built once and reused. Replies are
turned into plain Python values here, so the table logic in snmp.py never sees pysnmp types.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pyasn1.type import univ
from pysnmp.carrier.asyncio.dgram import udp, udp6
from pysnmp.entity import config as snmp_config
from pysnmp.error import PySnmpError
from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    Udp6TransportTarget,
    UdpTransportTarget,
    UsmUserData,
    bulk_cmd,
)
from pysnmp.hlapi.v3arch.asyncio import auth as snmp_auth
from pysnmp.hlapi.v3arch.asyncio.cmdgen import LCD
from pysnmp.proto.error import StatusInformation
from pysnmp.proto.rfc1905 import EndOfMibView, NoSuchInstance, NoSuchObject

from controller.inventory import SnmpProfile
from controller.secrets import SecretStore

log = logging.getLogger("simpul.snmp")

Oid = tuple[int, ...]
RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024  # the kernel caps it at net.core.rmem_max


class _End:
    """The end of a column: endOfMibView, noSuchObject or noSuchInstance."""

    def __repr__(self) -> str:
        return "END"


END = _End()
# An OBJECT IDENTIFIER value (e.g. hrStorageType) is a tuple; None: a type the poller does not
# use (IpAddress, Opaque).
Value = int | bytes | tuple[int, ...] | _End | None


class SnmpError(Exception):
    """The agent did not answer usefully (timeout, auth failure, error-status)."""


@dataclass(frozen=True)
class Target:
    device: str
    address: str
    port: int
    profile: SnmpProfile


class SnmpClient(Protocol):
    async def prepare(self, targets: Sequence[Target]) -> None: ...

    async def get_bulk(self, target: Target, oids: Sequence[Oid], non_repeaters: int,
                       max_repetitions: int) -> list[tuple[Oid, Value]]: ...

    async def aclose(self) -> None: ...


AUTH_PROTOCOLS = {
    "MD5": snmp_auth.USM_AUTH_HMAC96_MD5,
    "SHA": snmp_auth.USM_AUTH_HMAC96_SHA,
    "SHA256": snmp_auth.USM_AUTH_HMAC192_SHA256,
    "SHA512": snmp_auth.USM_AUTH_HMAC384_SHA512,
}
PRIV_PROTOCOLS = {
    "DES": snmp_auth.USM_PRIV_CBC56_DES,
    "AES": snmp_auth.USM_PRIV_CFB128_AES,
    "AES256": snmp_auth.USM_PRIV_CFB256_AES,
}


def auth_data(profile: SnmpProfile, secrets: SecretStore) -> CommunityData | UsmUserData:
    """pysnmp auth object for a profile; secrets are read here and never logged."""
    if profile.version == "v2c":
        assert profile.community_secret
        return CommunityData(f"simpul-{profile.name}", secrets.require(profile.community_secret),
                             mpModel=1)
    assert profile.username and profile.auth_protocol and profile.priv_protocol
    assert profile.auth_secret and profile.priv_secret
    return UsmUserData(
        profile.username,
        authKey=secrets.require(profile.auth_secret),
        privKey=secrets.require(profile.priv_secret),
        authProtocol=AUTH_PROTOCOLS[profile.auth_protocol],
        privProtocol=PRIV_PROTOCOLS[profile.priv_protocol],
    )


def _plain(value: Any) -> Value:
    if isinstance(value, univ.Integer):  # Integer32, Counter32/64, Gauge32, TimeTicks
        return int(value)
    if isinstance(value, univ.OctetString):
        return value.asOctets()
    if isinstance(value, univ.ObjectIdentifier):
        return tuple(value)
    if isinstance(value, EndOfMibView | NoSuchObject | NoSuchInstance):
        return END
    return None


class _UdpTarget(UdpTransportTarget):
    """A target whose address is already an IP literal (the inventory validates it): no
    getaddrinfo in the executor. At a thousand devices those thread hops, fighting the busy
    event loop for the GIL, stretched the first cycle several times over."""

    async def _resolve_address(self, transportAddr: tuple[Any, ...]) -> tuple[str, int]:
        return str(transportAddr[0]), int(transportAddr[1])


class _Udp6Target(Udp6TransportTarget):
    async def _resolve_address(self, transportAddr: tuple[Any, ...]) -> tuple[Any, ...]:
        return str(transportAddr[0]), int(transportAddr[1]), 0, 0


class PysnmpClient:
    """All devices share one SnmpEngine; per-device targets and auth objects are cached."""

    def __init__(self, secrets: SecretStore, timeout_s: float, retries: int):
        self.engine = SnmpEngine()
        self._secrets = secrets
        self._timeout_s = timeout_s
        self._retries = retries
        self._context = ContextData()
        self._targets: dict[tuple[str, int], UdpTransportTarget | Udp6TransportTarget] = {}
        self._auth: dict[str, CommunityData | UsmUserData] = {}
        self._requests: dict[Oid, ObjectType] = {}
        self._opened = False
        self._open_lock = asyncio.Lock()

    async def _target(self, target: Target) -> UdpTransportTarget | Udp6TransportTarget:
        key = (target.address, target.port)
        transport = self._targets.get(key)
        if transport is None:
            kind = _Udp6Target if ":" in target.address else _UdpTarget
            transport = await kind.create(key, timeout=self._timeout_s, retries=self._retries)
            self._targets[key] = transport
        return transport

    def _auth_for(self, target: Target) -> CommunityData | UsmUserData:
        auth = self._auth.get(target.profile.name)
        if auth is None:
            auth = self._auth[target.profile.name] = auth_data(target.profile, self._secrets)
        return auth

    async def prepare(self, targets: Sequence[Target]) -> None:
        """Register every target with the engine before the first requests go out.

        pysnmp rebuilds its whole transport-to-community map (a walk of the target address
        table) on the first answer after any target was added. Added one by one during a
        burst, each answer found the table changed: O(devices^2), ~20 s of the first cycle at
        a thousand devices. Registered together, the map is built once.
        """
        if not self._opened:
            await self._open_transport()  # ours, with the large buffer, before pysnmp's own
        for target in targets:
            transport = await self._target(target)
            LCD.configure(self.engine, self._auth_for(target), transport,
                          self._context.contextName)

    def _object(self, oid: Oid) -> ObjectType:
        obj = self._requests.get(oid)
        if obj is None:
            obj = ObjectType(ObjectIdentity(univ.ObjectIdentifier(oid)))
            if len(self._requests) < 1_000:  # column roots; cursors vary
                self._requests[oid] = obj
        return obj

    async def get_bulk(self, target: Target, oids: Sequence[Oid], non_repeaters: int,
                       max_repetitions: int) -> list[tuple[Oid, Value]]:
        auth = self._auth_for(target)
        transport = await self._target(target)
        if not self._opened:
            await self._open_transport()
        try:
            error_indication, error_status, error_index, var_binds = await bulk_cmd(
                self.engine, auth, transport, self._context, non_repeaters, max_repetitions,
                *(self._object(oid) for oid in oids), lookupMib=False)
        except (PySnmpError, StatusInformation) as exc:
            raise SnmpError(str(exc)) from None
        if error_indication:
            raise SnmpError(str(error_indication))
        if error_status:
            raise SnmpError(f"{error_status.prettyPrint()} at varbind {int(error_index)}")
        return [(tuple(name), _plain(value)) for name, value in var_binds]

    async def _open_transport(self) -> None:
        """Open the engine's shared UDP socket before the first burst and give it a large
        receive buffer: replies of many devices arrive together while the loop decodes, and a
        full buffer drops them (then only a retry after the timeout recovers the device)."""
        async with self._open_lock:
            if self._opened:
                return
            transport = udp.UdpAsyncioTransport().open_client_mode()
            snmp_config.add_transport(self.engine, udp.DOMAIN_NAME, transport)
            await asyncio.wait_for(transport._lport, 10)  # the endpoint is made asynchronously
            sock = transport.transport.get_extra_info("socket") if transport.transport else None
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
                except OSError:
                    log.warning("could not enlarge the SNMP socket's receive buffer")
            self._opened = True

    async def aclose(self) -> None:
        """Stop reading, let answers already queued in the loop drain, then close the engine:
        late answers to requests nobody waits for any more are dropped quietly instead of
        surfacing as pysnmp 'unregistered transport' tracebacks at shutdown."""
        dispatcher = self.engine.transport_dispatcher
        if dispatcher is not None:
            for domain in (udp.DOMAIN_NAME, udp6.DOMAIN_NAME):
                try:
                    transport = dispatcher.get_transport(domain)
                except PySnmpError:
                    continue
                transport.datagram_received = _ignore_datagram
                if transport.transport is not None:
                    transport.transport.close()
            for _ in range(3):
                await asyncio.sleep(0)
        self.engine.close_dispatcher()


def _ignore_datagram(*_args: object) -> None:
    return None
