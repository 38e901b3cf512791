"""Enforcement adapters: a gateway lets a client (IP + MAC) through for a time, or stops it.

An adapter is any class with the GatewayAdapter methods (base.py); each platform is one module,
found through ADAPTERS by the hotspot's `adapter` name. Calls are blocking (SSH): run them in a
thread.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from captive_portal.gateways.base import GatewayAdapter, SshTimeouts
from controller.inventory import Device, Hotspot, Inventory
from controller.secrets import SecretStore

# hotspot, its gateway device, inventory, secrets, the known_hosts file with pinned host keys,
# the SSH time bounds
GatewayFactory = Callable[[Hotspot, Device, Inventory, SecretStore, Path, SshTimeouts],
                          GatewayAdapter]


def _nftables(hotspot: Hotspot, device: Device, inv: Inventory, secrets: SecretStore,
              known_hosts: Path, timeouts: SshTimeouts) -> GatewayAdapter:
    from captive_portal.gateways.nftables import NftablesGateway

    return NftablesGateway.for_device(device, inv, secrets, known_hosts, timeouts)


def _mikrotik(hotspot: Hotspot, device: Device, inv: Inventory, secrets: SecretStore,
              known_hosts: Path, timeouts: SshTimeouts) -> GatewayAdapter:
    from captive_portal.gateways.mikrotik import MikrotikGateway

    return MikrotikGateway.for_device(device, inv, secrets, hotspot, known_hosts, timeouts)


def _radius(hotspot: Hotspot, device: Device, inv: Inventory, secrets: SecretStore,
            known_hosts: Path, timeouts: SshTimeouts) -> GatewayAdapter:
    from captive_portal.gateways.radius import RadiusGateway

    return RadiusGateway.for_hotspot(hotspot, device, secrets)


def _memory(hotspot: Hotspot, device: Device, inv: Inventory, secrets: SecretStore,
            known_hosts: Path, timeouts: SshTimeouts) -> GatewayAdapter:
    from captive_portal.gateways.memory import MemoryGateway

    return MemoryGateway()


ADAPTERS: dict[str, GatewayFactory] = {
    "nftables": _nftables,
    "mikrotik": _mikrotik,
    "radius": _radius,  # RFC 5176 Disconnect-Request; the NAS admits on Access-Accept
    "memory": _memory,  # no enforcement: the demo without gateways, and unit tests
}
