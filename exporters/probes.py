"""ICMP echo probes of every device's management address, with scapy, many targets per `sr()`.

Each cycle sends `count` echoes to every address; targets go in batches (one `sr()` call per
batch), so a thousand devices cost a handful of calls, not a thousand. Needs raw sockets (root);
without them the probe loop logs once and reports nothing rather than guessing.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import random
from dataclasses import dataclass
from typing import Any

from controller.inventory import Inventory
from exporters.state import ProbeReading

log = logging.getLogger("simpul.probes")


@dataclass(frozen=True)
class ProbeTarget:
    device: str
    site: str
    address: str


def targets_from(inventory: Inventory) -> list[ProbeTarget]:
    return [ProbeTarget(d.name, d.site, str(d.mgmt_address)) for d in inventory.devices.values()]


def can_probe() -> bool:
    return os.geteuid() == 0


def probe(targets: list[ProbeTarget], count: int = 3, timeout_s: float = 1.0,
          batch_size: int = 256) -> dict[str, ProbeReading]:
    """Blocking: echo every target `count` times; returns loss and mean RTT per device.

    Run it in a thread (asyncio.to_thread): scapy's sr() blocks while it waits for answers.
    """
    from scapy.all import conf, sr
    from scapy.layers.inet import ICMP, IP
    from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6

    conf.verb = 0
    results: dict[str, ProbeReading] = {}
    for start in range(0, len(targets), batch_size):
        batch = targets[start:start + batch_size]
        ident = random.randrange(1, 0xFFFF)
        packets: list[Any] = []
        for target in batch:
            v6 = ipaddress.ip_address(target.address).version == 6
            for seq in range(count):
                if v6:
                    packets.append(IPv6(dst=target.address) / ICMPv6EchoRequest(id=ident, seq=seq))
                else:
                    packets.append(IP(dst=target.address) / ICMP(id=ident, seq=seq))
        answered, _ = sr(packets, timeout=timeout_s, verbose=0, retry=0)
        rtts: dict[str, list[float]] = {}
        for sent, received in answered:
            rtt = float(received.time) - float(sent.sent_time or received.time)
            rtts.setdefault(sent.dst, []).append(max(0.0, rtt))
        for target in batch:
            got = rtts.get(ipaddress.ip_address(target.address).compressed, [])
            got = got[:count]
            results[target.device] = ProbeReading(
                device=target.device, site=target.site, sent=count, received=len(got),
                rtt_s=sum(got) / len(got) if got else None)
    return results
