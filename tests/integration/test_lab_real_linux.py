"""The lab's Linux hotspot gateways are real Linux when it runs as root: a network namespace
per device with OpenSSH sshd and the kernel's nftables (lab.linux_gateways), reached on the
device's inventory address. Simpul pushes to one; the lab removes the namespaces when it stops.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from controller.inventory import check_inventory
from controller.secrets import generate_missing
from lab.linux_gateways import namespace_name
from tests.conftest import ROOT, require_root
from tests.integration.config_lab import start_lab

pytestmark = pytest.mark.integration
GATEWAYS = ("taman-kota-gw", "tepian-kahayan-gw")


def _namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def test_the_labs_linux_gateways_are_namespaces_with_real_sshd_and_nftables(
        tmp_path: Path) -> None:
    require_root()
    secrets = tmp_path / "secrets.yaml"
    generate_missing(secrets, check_inventory(ROOT / "inventory")[0].secret_names())
    lab = start_lab(tmp_path, secrets, components=("ssh_sim", "linux_gw"))
    names = [namespace_name(lab.state_dir, gw) for gw in GATEWAYS]
    try:
        moved = check_inventory(Path(lab.env["SIMPUL_INVENTORY_DIR"]))[0]
        gateway = moved.devices["taman-kota-gw"]  # the demo's .55, moved to the test block
        assert str(gateway.mgmt_address) == f"127.0.{lab.octet}.55"
        with socket.create_connection((str(gateway.mgmt_address), gateway.mgmt_port),
                                      timeout=5) as conn:
            assert conn.recv(64).startswith(b"SSH-2.0-OpenSSH")  # the real daemon answers
        for name in names:
            assert name in _namespaces()

        code, rows = lab.json_lines("config", "push", "taman-kota-gw", "--yes", "--json")
        assert code == 0 and rows[0]["status"] == "changed", rows
        listed = subprocess.run(["ip", "netns", "exec", names[0], "nft", "list", "table",
                                 "inet", "simpul_portal"], capture_output=True, text=True)
        assert "set allowed {" in listed.stdout, listed.stderr
        forward = subprocess.run(["ip", "netns", "exec", names[0], "sysctl", "-n",
                                  "net.ipv4.ip_forward"], capture_output=True, text=True)
        assert forward.stdout.strip() == "1"
        # The gateway's /etc is its own: the pushed files are not on this machine's /etc.
        assert not Path("/etc/nftables.d/simpul_portal.nft").exists()
        assert (lab.state_dir / "linux_gw" / "taman-kota-gw" / "etc" / "upper" /
                "nftables.d" / "simpul_portal.nft").exists()
        code, rows = lab.json_lines("config", "push", "taman-kota-gw", "--yes", "--json")
        assert code == 0 and rows[0]["status"] == "unchanged", rows
        # The other gateway's namespace is untouched by this push.
        other = subprocess.run(["ip", "netns", "exec", names[1], "nft", "list", "tables"],
                               capture_output=True, text=True)
        assert "simpul_portal" not in other.stdout
    finally:
        lab.stop()
    assert not any(name in _namespaces() for name in names)
