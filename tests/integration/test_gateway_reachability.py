"""What a citizen reaches through a Linux hotspot gateway, before and after login: real packets
from a citizen namespace through the rendered ruleset in real nftables, and real dnsmasq.

citizen (c0) -- gateway (g0 | g1) -- NOC (n0 | n1) -- internet (i0). The NOC stands for the
backbone: the portal (8080 HTTP, 8443 HTTPS), the controller's other ports (8000 admin, 22,
5432) and hosts in other protected ranges; every listener answers with its own name, so a
DNAT to the portal is told apart from the real host. The login is the portal adapter's: an
element in the allowed sets.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from controller.hotspot_gateway import gateway_template_context, render_gateway_files
from controller.inventory import check_inventory
from tests.conftest import DEMO_INVENTORY, require_root

pytestmark = pytest.mark.integration

CITIZEN, GW_CLIENT = "10.200.0.20", "10.200.0.1"  # the demo taman-kota client subnet
GW_UP, NOC = "10.78.1.1", "10.78.1.2"
NOC_UP, INTERNET = "203.0.113.1", "203.0.113.2"  # TEST-NET-3 (RFC 5737): "the internet"
PROTECTED_HOSTS = ["172.16.5.5", "192.168.7.7", "100.64.1.1", "10.10.0.5"]  # on the NOC

LISTENER = textwrap.dedent('''
    import socket, sys, threading
    def serve(host, port, name):
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port)); s.listen(16)
        while True:
            c, _ = s.accept(); c.sendall(f"{name}:{port}".encode()); c.close()
    name = sys.argv[1]
    for port in map(int, sys.argv[2:]):
        threading.Thread(target=serve, args=("0.0.0.0", port, name), daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()
''')

# TCP connects in parallel: what answered (the listener's name:port), "refused" or "timeout".
PROBER = textwrap.dedent('''
    import json, socket, sys
    from concurrent.futures import ThreadPoolExecutor
    def probe(target):
        host, port = target.rsplit(":", 1)
        try:
            with socket.create_connection((host, int(port)), timeout=1.5) as s:
                s.settimeout(1.5)
                return s.recv(64).decode() or "open"
        except ConnectionRefusedError:
            return "refused"
        except OSError as exc:
            return "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
    targets = sys.argv[1:]
    with ThreadPoolExecutor(len(targets)) as pool:
        print(json.dumps(dict(zip(targets, pool.map(probe, targets)))))
''')

# A DNS query for portal.test (dnsmasq answers it from --address) to the gateway.
DNS_QUERY = textwrap.dedent('''
    import socket, sys
    q = (b"\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00"
         b"\\x06portal\\x04test\\x00\\x00\\x01\\x00\\x01")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
    s.sendto(q, (sys.argv[1], 53))
    try:
        answer = s.recv(512)
    except OSError:
        print("no answer"); raise SystemExit
    print(".".join(str(b) for b in answer[-4:]) if answer[:2] == b"\\x12\\x34" else "bad")
''')

# Router advertisements: `send` one on an interface (as radvd or dnsmasq would), `watch` for
# any on an interface for a while. RFC 4861 section 4.2: type 134, hop limit 255.
ROUTER_ADVERT = textwrap.dedent('''
    import socket, struct, sys, time
    mode, ifname = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
    if mode == "send":
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, socket.if_nametoindex(ifname))
        ra = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 1800, 0, 0)
        for _ in range(5):
            try:  # a firewall's drop in output fails the send with EPERM
                s.sendto(ra, ("ff02::1", 0, 0, socket.if_nametoindex(ifname)))
            except PermissionError:
                pass
            time.sleep(0.2)
    else:
        s.settimeout(0.2); seen = 0; end = time.monotonic() + float(sys.argv[3])
        print("ready", flush=True)
        while time.monotonic() < end:
            try:
                seen += s.recv(1500)[0] == 134
            except OSError:
                pass
        print(seen)
''')


def sh(*args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done


@dataclass
class Net:
    citizen: str
    gateway: str
    noc: str
    internet: str
    mac: str

    def run(self, ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return sh("ip", "netns", "exec", ns, *args, check=check)

    def connect(self, ns: str, *targets: str) -> dict[str, str]:
        return json.loads(self.run(ns, sys.executable, "-c", PROBER, *targets).stdout)

    def ping(self, ns: str, address: str, *extra: str) -> bool:
        return self.run(ns, "ping", "-n", "-q", "-c", "1", "-W", "1", *extra, address,
                        check=False).returncode == 0

    def login(self) -> None:
        for command in (f"add element inet simpul_portal allowed {{ {CITIZEN} . {self.mac} "
                        "timeout 1h }",
                        f"add element inet simpul_portal allowed_down {{ {CITIZEN} timeout 1h }}"):
            self.run(self.gateway, "nft", command)


def _listen(procs: list[subprocess.Popen[str]], ns: str, name: str, *ports: int) -> None:
    proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", LISTENER, name,
                             *map(str, ports)], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    procs.append(proc)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Net]:
    require_root()
    if shutil.which("nft") is None or shutil.which("dnsmasq") is None:
        pytest.skip("nftables and dnsmasq are needed")
    suffix = secrets.token_hex(3)
    names = [f"sr{role}-{suffix}" for role in "cgni"]
    c, g, n, i = names
    procs: list[subprocess.Popen[str]] = []
    try:
        for name in names:
            sh("ip", "netns", "add", name)
            sh("ip", "-n", name, "link", "set", "lo", "up")
        sh("ip", "link", "add", "c0", "netns", c, "type", "veth", "peer", "name", "g0", "netns", g)
        sh("ip", "link", "add", "g1", "netns", g, "type", "veth", "peer", "name", "n0", "netns", n)
        sh("ip", "link", "add", "n1", "netns", n, "type", "veth", "peer", "name", "i0", "netns", i)
        for ns, dev, addr in ((c, "c0", f"{CITIZEN}/22"), (g, "g0", f"{GW_CLIENT}/22"),
                              (g, "g1", f"{GW_UP}/30"), (n, "n0", f"{NOC}/30"),
                              (n, "n1", f"{NOC_UP}/24"), (i, "i0", f"{INTERNET}/24")):
            sh("ip", "-n", ns, "addr", "add", addr, "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
        for host in PROTECTED_HOSTS:
            sh("ip", "-n", n, "addr", "add", f"{host}/32", "dev", "lo")
        # IPv6 link-local on the client segment, usable at once (no duplicate detection).
        sh("ip", "-n", g, "addr", "add", "fe80::1/64", "dev", "g0", "nodad")
        sh("ip", "-n", c, "addr", "add", "fe80::2/64", "dev", "c0", "nodad")
        sh("ip", "-n", c, "route", "add", "default", "via", GW_CLIENT)
        sh("ip", "-n", g, "route", "add", "default", "via", NOC)
        sh("ip", "-n", n, "route", "add", "10.200.0.0/22", "via", GW_UP)
        sh("ip", "-n", i, "route", "add", "default", "via", NOC_UP)
        for ns in (g, n):
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")

        inventory = check_inventory(DEMO_INVENTORY)[0]
        hotspot = inventory.hotspots["taman-kota"]
        device = inventory.devices[hotspot.gateway].model_copy(update={"mgmt_port": 22})
        files = render_gateway_files(gateway_template_context(
            hotspot, device, f"http://{NOC}:8080",
            {"client_interface": "g0", "mgmt_networks": [f"{NOC}/32"],
             "dns_servers": [NOC]}))
        (tmp_path / "rules.nft").write_text(files["/etc/nftables.d/simpul_portal.nft"])
        (tmp_path / "dnsmasq.conf").write_text(files["/etc/dnsmasq.d/simpul-hotspot.conf"])
        sh("ip", "netns", "exec", g, "nft", "-f", str(tmp_path / "rules.nft"))
        procs.append(subprocess.Popen(
            ["ip", "netns", "exec", g, "dnsmasq", "--keep-in-foreground", "--no-hosts",
             f"--conf-file={tmp_path / 'dnsmasq.conf'}", f"--pid-file={tmp_path / 'dm.pid'}",
             f"--dhcp-leasefile={tmp_path / 'leases'}", "--address=/portal.test/192.0.2.80",
             "--user=root"],
            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "dnsmasq.log", "w"),  # noqa: SIM115
            start_new_session=True))
        _listen(procs, g, "gateway", 22, 8000)
        _listen(procs, n, "noc", 8080, 8443, 8000, 22, 5432, 80, 443)
        _listen(procs, i, "internet", 80, 443)
        mac = sh("ip", "netns", "exec", c, "cat", "/sys/class/net/c0/address").stdout.strip()
        time.sleep(0.5)  # dnsmasq binds
        yield Net(c, g, n, i, mac)
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)
        for name in names:
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


PORTAL_PORTS = [f"{NOC}:8080", f"{NOC}:8443"]
CONTROLLER_OTHER = [f"{NOC}:8000", f"{NOC}:22", f"{NOC}:5432"]
GATEWAY_ITSELF = [f"{GW_CLIENT}:22", f"{GW_CLIENT}:8000", f"{GW_UP}:22", f"{GW_UP}:8000"]
OTHER_PROTECTED = [f"{h}:{port}" for h in PROTECTED_HOSTS for port in (80, 443)]


def _blocked(results: dict[str, str], targets: list[str]) -> None:
    wrong = {t: results[t] for t in targets if results[t] not in ("refused", "timeout")}
    assert not wrong, f"reachable from the hotspot: {wrong}"


def _reaches_ipv6_or_ra(net: Net) -> list[str]:
    """IPv6 from the citizen to the gateway, and router advertisements onto the segment."""
    found = []
    if net.ping(net.citizen, "fe80::1%c0", "-6"):
        found.append("the citizen pings the gateway over IPv6")
    watcher = subprocess.Popen(["ip", "netns", "exec", net.citizen, sys.executable, "-c",
                                ROUTER_ADVERT, "watch", "c0", "3"], stdout=subprocess.PIPE,
                               text=True)
    assert watcher.stdout is not None and watcher.stdout.readline().strip() == "ready"
    net.run(net.gateway, sys.executable, "-c", ROUTER_ADVERT, "send", "g0")
    seen = int(watcher.communicate(timeout=20)[0].strip())
    if seen:
        found.append(f"{seen} router advertisements from the gateway reached the citizen")
    return found


def test_citizen_reaches_only_dns_dhcp_and_the_portal_before_login_then_never_the_backbone(
        net: Net) -> None:
    # -- before login -------------------------------------------------------------------------
    answer = net.run(net.citizen, sys.executable, "-c", DNS_QUERY, GW_CLIENT).stdout.strip()
    assert answer == "192.0.2.80"  # the gateway's dnsmasq answers the citizen
    before = net.connect(net.citizen, *PORTAL_PORTS, *CONTROLLER_OTHER, *GATEWAY_ITSELF,
                         *OTHER_PROTECTED, f"{INTERNET}:80", f"{INTERNET}:443")
    assert [before[t] for t in PORTAL_PORTS] == ["noc:8080", "noc:8443"], before
    http = [t for t in OTHER_PROTECTED if t.endswith(":80")] + [f"{INTERNET}:80"]
    assert {before[t] for t in http} == {"noc:8080"}, before  # HTTP anywhere: the portal
    _blocked(before, [*CONTROLLER_OTHER, *GATEWAY_ITSELF, f"{INTERNET}:443",
                      *(t for t in OTHER_PROTECTED if t not in http)])
    assert net.ping(net.citizen, GW_CLIENT)
    assert not net.ping(net.citizen, INTERNET)
    assert not net.ping(net.citizen, NOC)
    assert _reaches_ipv6_or_ra(net) == []

    # -- after login: the internet, never the backbone ----------------------------------------
    net.login()
    after = net.connect(net.citizen, *PORTAL_PORTS, *CONTROLLER_OTHER, *GATEWAY_ITSELF,
                        *OTHER_PROTECTED, f"{INTERNET}:80", f"{INTERNET}:443")
    assert [after[t] for t in (f"{INTERNET}:80", f"{INTERNET}:443")] == \
        ["internet:80", "internet:443"], after
    assert [after[t] for t in PORTAL_PORTS] == ["noc:8080", "noc:8443"], after
    _blocked(after, [*CONTROLLER_OTHER, *GATEWAY_ITSELF, *OTHER_PROTECTED])
    assert net.ping(net.citizen, INTERNET)
    assert not net.ping(net.citizen, NOC)
    assert not any(net.ping(net.citizen, host) for host in PROTECTED_HOSTS)
    assert _reaches_ipv6_or_ra(net) == []

    # -- the gateway's own input: management from the NOC only --------------------------------
    assert net.connect(net.noc, f"{GW_UP}:22")[f"{GW_UP}:22"] == "gateway:22"
    from_internet = net.connect(net.internet, f"{GW_UP}:22", f"{GW_UP}:8000")
    _blocked(from_internet, [f"{GW_UP}:22", f"{GW_UP}:8000"])
    _blocked(net.connect(net.noc, f"{GW_UP}:8000"), [f"{GW_UP}:8000"])
