"""The variables templates/linux/hotspot_gateway.j2 needs, and a plain renderer for it.

The config engine renders and pushes device configs; this module says what a Linux hotspot
gateway's template gets from the inventory and the portal settings (portal address, client
subnet, DHCP option 114), so the engine and the portal's tests render the same text.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from controller.devices import escape
from controller.inventory import Device, Hotspot

TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "linux" / "hotspot_gateway.j2"
FILE_MARK = re.compile(r"^### file: (\S+)\s*$", re.MULTILINE)


def captive_api_url(portal_https_url: str | None) -> str | None:
    """The RFC 8908 API's URL for DHCP option 114 (RFC 8910) from the portal's HTTPS base
    (settings.portal_https_url()), or None without a portal name: phones ignore an http or
    IP-literal URL, so none is sent. Anything else than https://DNS-NAME is refused."""
    if portal_https_url is None:
        return None
    parts = urlsplit(portal_https_url)
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        is_ip = False
    else:
        is_ip = True
    if parts.scheme != "https" or not host or is_ip:
        raise ValueError(f"captive portal API URL {portal_https_url!r}: DHCP option 114 and "
                         "RFC 8908 need https:// and the portal's DNS name (SIMPUL_PORTAL_NAME), "
                         "never an IP address")
    return portal_https_url.rstrip("/") + "/api/captive"


def gateway_template_context(hotspot: Hotspot, device: Device, portal_url: str,
                             variables: Mapping[str, Any] | None = None,
                             portal_https_url: str | None = None) -> dict[str, Any]:
    """Template context of a hotspot gateway; `portal_url` is the portal as clients reach it
    (the DNAT target), `portal_https_url` the portal by its name (option 114's API URL).

    `variables` are the device's merged template vars (defaults < site < device); without them
    the device's own `vars` are used.
    """
    merged = variables if variables is not None else device.vars
    parts = urlsplit(portal_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"portal URL {portal_url!r} must look like http://ADDRESS:PORT")
    portal_address = str(ipaddress.ip_address(parts.hostname))
    portal_port = parts.port or (443 if parts.scheme == "https" else 80)
    subnet = hotspot.client_subnet
    hosts = list(_first_hosts(subnet, 1))
    gateway_address = str(ipaddress.ip_address(str(merged.get("client_address", hosts[0]))))
    first = subnet.network_address + 10
    last = subnet.broadcast_address - 1
    # IPv4 only: the gateway drops every IPv6 packet of its clients (client subnets are IPv4).
    protected = [str(n) for n in hotspot.protected_ranges if n.version == 4]
    # SSH (and SNMP) from the NOC's management networks; without them, from the backbone.
    management = [str(ipaddress.ip_network(n)) for n in merged.get("mgmt_networks", [])] \
        or protected
    # The portal's ports reachable before login: its HTTP port (the DNAT target) and its HTTPS
    # port (the RFC 8908 API; SIMPUL_PORTAL_TLS_LISTEN's port, template var portal_https_port).
    portal_ports = sorted({portal_port, int(merged.get("portal_https_port", 8443))})
    return {
        "device": device,
        "hotspot": hotspot,
        "portal_address": portal_address,
        "portal_port": portal_port,
        "captive_api_url": captive_api_url(portal_https_url),
        "gateway_address": gateway_address,
        "client_interface": str(merged.get("client_interface", "br-hotspot")),
        "walled_garden": [str(ipaddress.ip_network(w)) for w in
                          merged.get("walled_garden", [])],
        "dhcp_range": (str(first), str(last)),
        "dns_servers": [str(ipaddress.ip_address(a)) for a in
                        merged.get("dns_servers", ["1.1.1.1"])],
        "portal_ports": portal_ports,
        "protected_ranges": protected,
        "management_networks": management,
        "ssh_port": device.mgmt_port,
        "snmp_port": device.snmp_port if device.snmp else None,
    }


def _first_hosts(subnet: ipaddress.IPv4Network | ipaddress.IPv6Network, count: int) -> list[Any]:
    out = []
    for host in subnet.hosts():
        out.append(host)
        if len(out) >= count:
            break
    return out


def render_gateway_files(context: dict[str, Any], template: Path = TEMPLATE) -> dict[str, str]:
    """Render the template (values escaped as the config engine does) and split it into
    {path on the gateway: content}."""
    env = escape.environment("linux")
    text = env.from_string(template.read_text(encoding="utf-8")).render(**context)
    files: dict[str, str] = {}
    marks = list(FILE_MARK.finditer(text))
    for index, mark in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else len(text)
        files[mark.group(1)] = text[mark.end():end].strip("\n") + "\n"
    return files
