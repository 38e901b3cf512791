"""A real Linux hotspot gateway: OpenSSH sshd + nftables in a network namespace made here.

The controller reaches the gateway on 127.0.N.x: each connection is handed to `sshd -i`
started inside the namespace (inetd style, lab.netns.InetdSshd, as the demo's gateways), so
the shell, `nft` and `sysctl` act on the namespace only. Files go under a private
config_root. netmiko's `linux` driver, key auth.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from controller.inventory import check_inventory
from controller.secrets import generate_missing
from lab import netns
from tests.conftest import require_root

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
DEVICE = "taman-kota-gw"


def sh(*args: str, ns: str | None = None, check: bool = True) -> str:
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=60).stdout


@dataclass
class Gateway:
    ns: str
    root: Path  # config_root on the gateway
    env: dict[str, str]
    tmp: Path

    def simpul(self, *args: str, env: dict[str, str] | None = None) -> tuple[int, list[dict]]:
        done = subprocess.run([sys.executable, "-m", "controller.cli", *args], cwd=ROOT,
                              env={**self.env, **(env or {})}, capture_output=True, text=True,
                              timeout=180)
        rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        assert rows or done.returncode != 0, done.stderr
        return done.returncode, rows


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    require_root()
    ns = f"simpul-cfg-{random.randint(0, 0xFFFFFF):06x}"
    octet = random.randint(100, 250)
    sshd = None
    netns.add_namespace(ns)
    try:
        sshdir = tmp_path / "sshd"
        host_key = netns.keypair(sshdir / "host_key")
        client_key = netns.keypair(sshdir / "client_key")
        (sshdir / "authorized_keys").write_text((sshdir / "client_key.pub").read_text())
        config = netns.sshd_config(sshdir, host_key, sshdir / "authorized_keys")
        sshd = netns.InetdSshd(ns, config, f"127.0.{octet}.55")

        inventory = tmp_path / "inventory"
        shutil.copytree(ROOT / "inventory", inventory)
        secrets = tmp_path / "secrets.yaml"
        inv, _ = check_inventory(ROOT / "inventory")
        generate_missing(secrets, inv.secret_names())
        values = yaml.safe_load(secrets.read_text())
        values["linux_gateway_password"] = client_key.read_text()
        secrets.write_text(yaml.safe_dump(values))
        gw_root = tmp_path / "gateway-root"
        gw_root.mkdir()
        devices = inventory / "devices.yaml"
        text = devices.read_text()
        text = text.replace(
            "- name: taman-kota-gw\n  site: taman-kota\n  platform: linux\n"
            "  role: hotspot_gateway\n  mgmt_address: 127.0.0.55\n",
            "- name: taman-kota-gw\n  site: taman-kota\n  platform: linux\n"
            f"  role: hotspot_gateway\n  mgmt_address: 127.0.{octet}.55\n"
            f"  mgmt_port: {sshd.port}\n  vars:\n    config_root: {gw_root}\n")
        assert f"127.0.{octet}.55" in text
        devices.write_text(text)
        data = tmp_path / "data"
        env = {**os.environ, "SIMPUL_DATA_DIR": str(data),
               "SIMPUL_INVENTORY_DIR": str(inventory), "SIMPUL_SECRETS_FILE": str(secrets),
               "SIMPUL_LOG_LEVEL": "warning", "PYTHONPATH": str(ROOT),
               "SIMPUL_PORTAL_NAME": "portal.wifi.kualakahayan.test"}
        # The engineer trusts the gateway's host key; the fingerprint is OpenSSH's own.
        trusted = subprocess.run([sys.executable, "-m", "controller.cli", "devices", "trust",
                                  DEVICE], cwd=ROOT, env=env, capture_output=True, text=True,
                                 timeout=60)
        assert trusted.returncode == 0, trusted.stderr
        openssh = sh("ssh-keygen", "-l", "-f", f"{host_key}.pub").split()[1]
        assert f"trusted ssh-ed25519 {openssh}" in trusted.stdout, trusted.stdout
        yield Gateway(ns, gw_root, env, tmp_path)
    finally:
        if sshd is not None:
            sshd.close()
        netns.delete_namespace(ns)


def test_linux_gateway_push_verify_and_rollback(gateway: Gateway) -> None:
    code, rows = gateway.simpul("config", "push", DEVICE, "--yes", "--json")
    assert code == 0, rows
    assert rows[0]["status"] == "changed", rows
    assert "/etc/nftables.d/simpul_portal.nft (absent)" in rows[0]["diff"]
    ruleset = sh("nft", "list", "ruleset", ns=gateway.ns)
    assert "table inet simpul_portal" in ruleset
    assert "set allowed" in ruleset and "dnat ip to" in ruleset
    assert sh("sysctl", "-n", "net.ipv4.ip_forward", ns=gateway.ns).strip() == "1"
    dnsmasq = (gateway.root / "etc/dnsmasq.d/simpul-hotspot.conf").read_text()
    assert 'dhcp-option=114,"https://portal.wifi.kualakahayan.test:8443/api/captive"' in dnsmasq
    assert "simpul_portal" not in sh("nft", "list", "tables")  # the host's own is untouched

    code, rows = gateway.simpul("config", "push", DEVICE, "--yes", "--json")
    assert code == 0 and rows[0]["status"] == "unchanged", rows

    # The live table vanishes (someone flushed the ruleset): drift, and a push restores it.
    sh("nft", "flush", "ruleset", ns=gateway.ns)
    code, rows = gateway.simpul("config", "drift", DEVICE, "--json")
    assert rows[0]["status"] == "changed" and "inet simpul_portal" in rows[0]["diff"]
    code, rows = gateway.simpul("config", "push", DEVICE, "--yes", "--json")
    assert rows[0]["status"] == "changed"
    assert "table inet simpul_portal" in sh("nft", "list", "ruleset", ns=gateway.ns)

    # A ruleset nft refuses: rolled back, files and live table as before.
    templates = gateway.tmp / "templates"
    shutil.copytree(ROOT / "templates", templates)
    template = templates / "linux" / "hotspot_gateway.j2"
    template.write_text(template.read_text().replace(
        "chain input {", "chain input {\n\t\tthis is not nft syntax"))
    before_file = (gateway.root / "etc/nftables.d/simpul_portal.nft").read_text()
    before_rules = sh("nft", "list", "table", "inet", "simpul_portal", ns=gateway.ns)
    code, rows = gateway.simpul("config", "push", DEVICE, "--yes", "--json",
                                env={"SIMPUL_TEMPLATES_DIR": str(templates)})
    assert code == 1 and rows[0]["status"] == "rolled_back", rows
    assert "Error: syntax error" in rows[0]["error"]  # nft's own message
    assert (gateway.root / "etc/nftables.d/simpul_portal.nft").read_text() == before_file
    assert sh("nft", "list", "table", "inet", "simpul_portal", ns=gateway.ns) == before_rules
