"""ICMP echo probes of every device's management address, with scapy, many targets per `sr()`.

Each cycle sends `count` echoes to every address; targets go in batches (one send-and-receive
call per batch and outgoing interface), so a thousand devices cost a handful of calls. Needs
raw sockets (root); without them the probe loop logs once and reports nothing.
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

    Targets are grouped by outgoing interface; each batch of a group is one send-and-receive
    call on one raw IP socket (the kernel routes and resolves neighbours: scapy's own layer-2
    path would ARP for every echo to a silent address, seconds each, in series). Run it in a
    thread (asyncio.to_thread): it blocks while it waits for answers.
    """
    from scapy.all import conf
    from scapy.layers.inet import ICMP, IP
    from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
    from scapy.sendrecv import sndrcv, sr
    from scapy.supersocket import L3RawSocket

    conf.verb = 0
    conf.route.resync()
    groups: dict[tuple[str, bool], list[ProbeTarget]] = {}
    for target in targets:
        v6 = ipaddress.ip_address(target.address).version == 6
        table = conf.route6 if v6 else conf.route
        iface = str(table.route(target.address)[0])
        groups.setdefault((iface, v6), []).append(target)

    results: dict[str, ProbeReading] = {}
    for (iface, v6), group in groups.items():
        for start in range(0, len(group), batch_size):
            batch = group[start:start + batch_size]
            ident = random.randrange(1, 0xFFFF)
            packets: list[Any] = [
                (IPv6(dst=t.address) / ICMPv6EchoRequest(id=ident, seq=seq)) if v6
                else (IP(dst=t.address) / ICMP(id=ident, seq=seq))
                for t in batch for seq in range(count)]
            if v6:
                answered, _ = sr(packets, iface=iface, timeout=timeout_s, verbose=0)
            else:
                sock = L3RawSocket(iface=iface)
                try:
                    answered, _ = sndrcv(sock, packets, timeout=timeout_s, verbose=0)
                finally:
                    sock.close()
            rtts: dict[str, list[float]] = {}
            for sent, received in answered:
                rtt = float(received.time) - float(sent.sent_time or received.time)
                rtts.setdefault(sent.dst, []).append(max(0.0, rtt))
            for target in batch:
                got = rtts.get(ipaddress.ip_address(target.address).compressed, [])[:count]
                results[target.device] = ProbeReading(
                    device=target.device, site=target.site, sent=count, received=len(got),
                    rtt_s=sum(got) / len(got) if got else None)
    return results
