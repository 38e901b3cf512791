"""The nftables adapter on a real gateway: sshd + nftables in a namespace, large batches."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from captive_portal.gateways.base import Client, Grant
from captive_portal.gateways.nftables import NftablesGateway
from captive_portal.gateways.ssh import GatewaySession
from controller.devices import DeviceTarget
from controller.devices.host_keys import trust_device
from controller.hotspot_gateway import gateway_template_context, render_gateway_files
from controller.inventory import check_inventory
from tests.conftest import DEMO_INVENTORY, require_root
from tests.integration.test_portal_e2e import sh

pytestmark = pytest.mark.integration

HOST_SIDE, GW_SIDE = "10.79.0.1", "10.79.0.2"


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[NftablesGateway, str]]:
    require_root()
    if shutil.which("nft") is None or not Path("/usr/sbin/sshd").exists():
        pytest.skip("nftables and OpenSSH server are needed")
    suffix = secrets.token_hex(3)
    ns, host_if = f"spn-{suffix}", f"spn{suffix}"
    sshd: subprocess.Popen[bytes] | None = None
    adapter: NftablesGateway | None = None
    try:
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", "g1", "netns", ns)
        sh("ip", "addr", "add", f"{HOST_SIDE}/30", "dev", host_if)
        sh("ip", "link", "set", host_if, "up")
        sh("ip", "-n", ns, "addr", "add", f"{GW_SIDE}/30", "dev", "g1")
        sh("ip", "-n", ns, "link", "set", "g1", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "link", "add", "g0", "type", "veth", "peer", "name", "c0")
        inventory, _ = check_inventory(DEMO_INVENTORY)
        hotspot = inventory.hotspots["taman-kota"]
        # sshd on 22: the ruleset lets SSH in on the device's mgmt_port only.
        device = inventory.devices[hotspot.gateway].model_copy(update={"mgmt_port": 22})
        files = render_gateway_files(gateway_template_context(
            hotspot, device, f"http://{HOST_SIDE}:8080", {"client_interface": "g0"}))
        ruleset = tmp_path / "ruleset.nft"
        ruleset.write_text(files["/etc/nftables.d/simpul_portal.nft"])
        sh("ip", "netns", "exec", ns, "nft", "-f", str(ruleset))
        for name in ("host", "client"):
            sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / name))
        shutil.copy(tmp_path / "client.pub", tmp_path / "authorized_keys")
        Path("/run/sshd").mkdir(exist_ok=True)
        (tmp_path / "sshd_config").write_text(textwrap.dedent(f"""\
            ListenAddress {GW_SIDE}:22
            HostKey {tmp_path / 'host'}
            PidFile {tmp_path / 'sshd.pid'}
            AuthorizedKeysFile {tmp_path / 'authorized_keys'}
            PermitRootLogin prohibit-password
            PasswordAuthentication no
            UsePAM no
            StrictModes no
            """))
        sshd = subprocess.Popen(["ip", "netns", "exec", ns, "/usr/sbin/sshd", "-D", "-e", "-f",
                                 str(tmp_path / "sshd_config")], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(0.5)
        known_hosts = tmp_path / "known_hosts"
        trust_device(known_hosts, "gw-test", GW_SIDE, 22, timeout_s=10)
        # The credential secret holds the private key, as an engineer's secrets file would.
        adapter = NftablesGateway(GatewaySession(DeviceTarget(
            name="gw-test", platform="linux", host=GW_SIDE, port=22, username="root",
            password=(tmp_path / "client").read_text(), timeout_s=10,
            known_hosts=known_hosts), "linux"))
        yield adapter, ns
    finally:
        if adapter is not None:
            adapter.close()
        if sshd is not None:
            os.killpg(sshd.pid, signal.SIGTERM)
            sshd.wait(timeout=10)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)


def test_batches_timeouts_and_revokes_on_real_nftables(
        gateway: tuple[NftablesGateway, str]) -> None:
    adapter, ns = gateway
    clients = [Client(f"10.200.{i // 250}.{i % 250 + 1}", f"06:00:00:00:{i // 256:02x}:"
                      f"{i % 256:02x}") for i in range(400)]
    adapter.allow([Grant(c, 3600) for c in clients])  # several shell-sized transactions
    allowed = {a.client: a for a in adapter.allowed()}
    assert set(allowed) == set(clients)
    assert all(3500 < (a.seconds_left or 0) <= 3600 for a in allowed.values())
    adapter.allow([Grant(clients[0], 60)])  # an allow refreshes the timeout
    assert next(a for a in adapter.allowed() if a.client == clients[0]).seconds_left <= 60
    adapter.revoke(clients[:390] + [Client("10.200.3.3", "02:00:00:00:00:03")])  # absent: ok
    assert {a.client for a in adapter.allowed()} == set(clients[390:])
    listing = sh("ip", "netns", "exec", ns, "nft", "list", "set", "inet", "simpul_portal",
                 "allowed_down").stdout
    assert clients[395].ip in listing and clients[0].ip not in listing
    assert adapter.mac_for_ip("10.200.0.1") is None  # no such neighbour
