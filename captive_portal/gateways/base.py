"""What every enforcement adapter shares: the GatewayAdapter Protocol, its data, its errors.

Adapters (nftables, mikrotik, memory) import this module; the registry in the package's
__init__ imports them lazily, so there is no import circle.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_IDENTITY_RE = re.compile(
    r"\b(?:\d{1,3}\.){3}\d{1,3}\b|\b[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5}\b")


def redact(text: str) -> str:
    """Device output for a log line: addresses and MACs (a citizen's identity) removed."""
    return _IDENTITY_RE.sub("<redacted>", text)


@dataclass(frozen=True)
class SshTimeouts:
    """How long a gateway's SSH may take: to connect (TCP, banner, auth) and to answer one
    command; and how long a gateway that could not be reached counts as down (every caller
    is refused at once, then one tries again). A login waits on the first two when the
    gateway's SSH hangs, so they are settings (SIMPUL_PORTAL_GATEWAY_CONNECT_TIMEOUT_S,
    SIMPUL_PORTAL_GATEWAY_READ_TIMEOUT_S, SIMPUL_PORTAL_GATEWAY_RETRY_S)."""

    connect_s: float = 10.0
    read_s: float = 30.0
    retry_s: float = 10.0


class GatewayError(Exception):
    """The gateway could not be reached or refused a command; the message names the gateway.
    `retry_after_s`: when it is worth trying again (a gateway known down), if known."""

    def __init__(self, message: str, retry_after_s: int | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


def normalise_mac(value: str) -> str:
    """'02-AB-...' / '02:ab:...' -> '02:ab:...'; raises ValueError for anything else."""
    mac = value.strip().lower().replace("-", ":")
    if not MAC_RE.match(mac):
        raise ValueError(f"not a MAC address: {value!r}")
    return mac


def normalise_ip(value: str) -> str:
    return str(ipaddress.ip_address(value.strip()))


@dataclass(frozen=True)
class Client:
    """A client as the gateway sees it."""

    ip: str
    mac: str


@dataclass(frozen=True)
class Grant:
    """Let `client` through for `timeout_s` seconds."""

    client: Client
    timeout_s: int


@dataclass(frozen=True)
class AllowedClient:
    """One element of a gateway's allowed set, with its byte counters since it was added."""

    client: Client
    seconds_left: int | None
    bytes_up: int
    bytes_down: int


class GatewayAdapter(Protocol):
    def allow(self, grants: Sequence[Grant]) -> None:
        """Let the clients through (replacing any earlier timeout); one batch, all or nothing."""

    def revoke(self, clients: Sequence[Client]) -> None:
        """Stop the clients; absent ones are ignored."""

    def allowed(self) -> list[AllowedClient]:
        """The allowed set as the gateway holds it now."""

    def mac_for_ip(self, ip: str) -> str | None:
        """The MAC the gateway sees for a client IP (its neighbour table), or None."""

    def close(self) -> None: ...
