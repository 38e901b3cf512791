"""The RFC 8908 API over HTTPS as a citizen's phone meets it: the citizen namespace looks the
portal's name up through the gateway's real dnsmasq (rendered from the template), which asks
the regency's DNS (dnsmasq in the NOC namespace); curl fetches /api/captive over TLS through the
gateway's real nftables, verified against the demo CA that `./run` makes (python -m lab.tls).
A renewed certificate is served without a restart, to a real TLS client (openssl s_client).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from controller.hotspot_gateway import gateway_template_context, render_gateway_files
from controller.inventory import load_inventory
from controller.secrets import SecretStore
from lab import netns
from tests.conftest import ROOT, require_root
from tests.integration.test_portal_e2e import wait_until

pytestmark = pytest.mark.integration

NAME = "portal.wifi.kualakahayan.test"
SUBNET, CITIZEN, GW_CLIENT = "10.79.0.0/24", "10.79.0.10", "10.79.0.1"
GW_UP, NOC = "10.79.1.1", "10.79.1.2"
TLS_PORT = 8443
API = f"https://{NAME}:{TLS_PORT}/api/captive"


@dataclass
class Net:
    citizen: str
    gateway: str
    noc: str
    tls: Path
    portal: subprocess.Popen[str]
    tmp: Path

    def citizen_run(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        return netns.run(*args, ns=self.citizen, check=check, timeout=30)

    def served_fingerprint(self) -> str:
        """The SHA-256 fingerprint of the certificate the portal presents to the citizen."""
        shown = subprocess.run(
            ["ip", "netns", "exec", self.citizen, "sh", "-c",
             f"openssl s_client -connect {NAME}:{TLS_PORT} -servername {NAME} "
             f"-CAfile {self.tls / 'ca.pem'} -verify_return_error </dev/null 2>/dev/null | "
             "openssl x509 -noout -fingerprint -sha256"], capture_output=True, text=True,
            timeout=30)
        return shown.stdout.strip()


def file_fingerprint(cert: Path) -> str:
    return subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in",
                           str(cert)], capture_output=True, text=True, check=True).stdout.strip()


def _inventory(tmp: Path) -> Path:
    target = tmp / "inventory"
    shutil.copytree(ROOT / "inventory", target)
    path = target / "hotspots.yaml"
    hotspots = yaml.safe_load(path.read_text())
    for hotspot in hotspots["hotspots"]:
        if hotspot["name"] == "taman-kota":
            hotspot["client_subnet"] = SUBNET
    path.write_text(yaml.safe_dump(hotspots, sort_keys=False))
    return target


def _dnsmasq(ns: str, tmp: Path, label: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["ip", "netns", "exec", ns, "dnsmasq", "--keep-in-foreground", "--user=root",
         f"--pid-file={tmp / (label + '.pid')}", f"--dhcp-leasefile={tmp / (label + '.leases')}",
         "--log-facility=-", *args], stdout=subprocess.DEVNULL,
        stderr=open(tmp / f"{label}.log", "w"), text=True, start_new_session=True)  # noqa: SIM115


@pytest.fixture
def net(tmp_path: Path, demo_secrets: Path) -> Iterator[Net]:
    require_root()
    for tool in ("nft", "curl", "openssl", "dnsmasq"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    suffix = os.urandom(3).hex()
    c, g, n = (f"st{role}-{suffix}" for role in "cgn")
    etc = Path("/etc/netns") / c
    procs: list[subprocess.Popen[str]] = []
    try:
        for name in (c, g, n):
            netns.add_namespace(name)
        netns.veth(c, "c0", g, "g0")
        netns.veth(g, "g1", n, "n0")
        for ns, dev, cidr in ((c, "c0", f"{CITIZEN}/24"), (g, "g0", f"{GW_CLIENT}/24"),
                              (g, "g1", f"{GW_UP}/30"), (n, "n0", f"{NOC}/30")):
            netns.address(ns, dev, cidr)
        netns.run("ip", "-n", c, "route", "add", "default", "via", GW_CLIENT)
        netns.run("ip", "-n", g, "route", "add", "default", "via", NOC)
        netns.run("ip", "-n", n, "route", "add", SUBNET, "via", GW_UP)
        netns.run("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=g)
        # The citizen's resolver is the gateway, as the hotspot's DHCP tells it; no hosts entry.
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "resolv.conf").write_text(f"nameserver {GW_CLIENT}\n")
        (etc / "hosts").write_text("127.0.0.1 localhost\n")

        inventory_dir = _inventory(tmp_path)
        inventory = load_inventory(inventory_dir, SecretStore.load(demo_secrets))
        hotspot = inventory.hotspots["taman-kota"]
        files = render_gateway_files(gateway_template_context(
            hotspot, inventory.devices[hotspot.gateway], f"http://{NOC}:8080",
            variables={"client_interface": "g0", "dns_servers": [NOC]},
            portal_https_url=f"https://{NAME}:{TLS_PORT}"))
        dnsmasq_conf = tmp_path / "gateway-dnsmasq.conf"
        dnsmasq_conf.write_text(files["/etc/dnsmasq.d/simpul-hotspot.conf"])
        assert f'dhcp-option=114,"{API}"' in dnsmasq_conf.read_text()
        ruleset = tmp_path / "simpul_portal.nft"
        ruleset.write_text(files["/etc/nftables.d/simpul_portal.nft"])
        netns.run("nft", "-f", str(ruleset), ns=g)
        # The regency's DNS knows the portal's name; the gateway's dnsmasq forwards to it.
        procs.append(_dnsmasq(n, tmp_path, "regency-dns", "--no-resolv", "--no-hosts",
                              "--bind-interfaces", f"--listen-address={NOC}",
                              f"--host-record={NAME},{NOC}",
                              "--host-record=connectivitycheck.gstatic.com,10.79.2.2"))
        procs.append(_dnsmasq(g, tmp_path, "gateway-dns", f"--conf-file={dnsmasq_conf}"))

        tls = tmp_path / "data" / "tls"
        made = subprocess.run([sys.executable, "-m", "lab.tls", str(tls), NAME], cwd=ROOT,
                              capture_output=True, text=True)
        assert made.returncode == 0, made.stderr
        env = {**os.environ, "SIMPUL_DATA_DIR": str(tmp_path / "data"),
               "SIMPUL_INVENTORY_DIR": str(inventory_dir),
               "SIMPUL_SECRETS_FILE": str(demo_secrets), "SIMPUL_PORTAL_NAME": NAME,
               "SIMPUL_PORTAL_TLS_CERT": str(tls / "cert.pem"),
               "SIMPUL_PORTAL_TLS_KEY": str(tls / "key.pem"),
               "SIMPUL_PORTAL_TLS_LISTEN": f"0.0.0.0:{TLS_PORT}",
               "SIMPUL_PORTAL_LISTEN": "0.0.0.0:8080", "SIMPUL_PORTAL_GATEWAY": "memory",
               "SIMPUL_ADMIN_LISTEN": "127.0.0.1:8000",
               "SIMPUL_INVENTORY_WATCH_INTERVAL_S": "3600", "SIMPUL_LOG_LEVEL": "info"}
        env.pop("SIMPUL_PORTAL_URL", None)
        portal = subprocess.Popen(
            ["ip", "netns", "exec", n, sys.executable, "-m", "controller.cli", "serve",
             "--only", "portal"], cwd=ROOT, env=env, text=True, start_new_session=True,
            stdout=open(tmp_path / "serve.log", "w"), stderr=subprocess.STDOUT)  # noqa: SIM115
        procs.append(portal)
        net = Net(c, g, n, tls, portal, tmp_path)
        try:
            wait_until("the portal answers over HTTPS", lambda: netns.run(
                "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert",
                str(tls / "ca.pem"), "--resolve", f"{NAME}:{TLS_PORT}:127.0.0.1",
                f"https://{NAME}:{TLS_PORT}/healthz", ns=n, check=False).stdout == "200", 90)
        except AssertionError:
            raise AssertionError("the portal did not answer; its log ends:\n" +
                                 (tmp_path / "serve.log").read_text()[-3000:]) from None
        yield net
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        for name in (c, g, n):
            netns.delete_namespace(name)
        shutil.rmtree(etc, ignore_errors=True)


def test_a_citizen_fetches_the_captive_api_over_tls_by_the_portals_name(net: Net) -> None:
    # The name is looked up for real: through the gateway's dnsmasq to the regency's DNS.
    looked_up = net.citizen_run("getent", "ahosts", NAME)
    assert looked_up.stdout.split()[:1] == [NOC], looked_up.stdout + looked_up.stderr
    fetched = net.citizen_run("curl", "-sS", "--max-time", "10", "--cacert",
                              str(net.tls / "ca.pem"), API)
    assert fetched.returncode == 0, fetched.stderr
    body = json.loads(fetched.stdout)
    assert body["captive"] is True
    assert body["user-portal-url"] == f"https://{NAME}:{TLS_PORT}/login"
    # Verification is real: without the demo CA the same fetch is refused.
    untrusted = net.citizen_run("curl", "-sS", "--max-time", "10", API)
    assert untrusted.returncode == 60, untrusted.stderr  # CURLE_PEER_FAILED_VERIFICATION
    # Plain HTTP interception on 8080 stays: a probe is redirected to the HTTPS login page.
    probe = net.citizen_run("curl", "-s", "-o", "/dev/null", "-w", "%{http_code} "
                            "%{redirect_url}", "--max-time", "10",
                            "http://connectivitycheck.gstatic.com/generate_204")
    assert probe.stdout == f"302 https://{NAME}:{TLS_PORT}/login", probe.stdout


def test_a_renewed_certificate_is_served_without_a_restart(net: Net) -> None:
    first = file_fingerprint(net.tls / "cert.pem")
    assert net.served_fingerprint() == first
    renewed = subprocess.run([sys.executable, "-m", "lab.tls", str(net.tls), NAME, "--force"],
                             cwd=ROOT, capture_output=True, text=True)
    assert renewed.returncode == 0, renewed.stderr
    second = file_fingerprint(net.tls / "cert.pem")
    assert second != first
    os.killpg(net.portal.pid, signal.SIGHUP)  # what a renewal hook sends
    wait_until("the portal serves the renewed certificate",
               lambda: net.served_fingerprint() == second, 30)
    assert net.portal.poll() is None  # the same process: no restart
    fetched = net.citizen_run("curl", "-sS", "--max-time", "10", "--cacert",
                              str(net.tls / "ca.pem"), API)
    assert fetched.returncode == 0 and json.loads(fetched.stdout)["captive"] is True
