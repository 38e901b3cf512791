"""The config engine's Linux hotspot gateway ruleset, with its scheduled site limits, loaded by
the real nft in a network namespace made here: the rules read back in the site's local time,
and reloading keeps the allowed clients."""

from __future__ import annotations

import os
import random
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.configs import render_intended_config
from controller.inventory import check_inventory
from controller.secrets import SecretStore
from tests.conftest import DEMO_INVENTORY, require_root

pytestmark = pytest.mark.integration


@pytest.fixture
def ns() -> Iterator[str]:
    require_root()
    name = f"simpul-hs-{random.randint(10**5, 10**6 - 1)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def _nft(ns: str, *args: str) -> str:
    env = {**os.environ, "TZ": "Asia/Jakarta"}  # the gateway's zone is the site's (WIB)
    done = subprocess.run(["ip", "netns", "exec", ns, "nft", *args], env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_site_limits_load_in_real_nft_and_reload_keeps_clients(ns: str, tmp_path: Path) -> None:
    inventory = check_inventory(DEMO_INVENTORY)[0]
    secrets = SecretStore({n: f"value-of-{n}" for n in inventory.secret_names()}, {})
    text = render_intended_config(inventory, inventory.devices["taman-kota-gw"], secrets)
    ruleset = tmp_path / "simpul_portal.nft"
    ruleset.write_text(text.split("### file: /etc/nftables.d/simpul_portal.nft\n", 1)[1])
    _nft(ns, "-f", str(ruleset))
    _nft(ns, "add", "element", "inet", "simpul_portal", "allowed",
         "{ 10.200.0.20 . 02:00:00:00:00:01 timeout 1h }")
    _nft(ns, "-f", str(ruleset))  # a re-push
    assert "10.200.0.20 . 02:00:00:00:00:01" in _nft(ns, "list", "set", "inet", "simpul_portal",
                                                      "allowed")
    down = _nft(ns, "list", "chain", "inet", "simpul_portal", "client_down")
    site = [line.strip() for line in down.splitlines() if "ip daddr 10.200.0.0/22" in line]
    assert len(site) == 4, down
    office = next(line for line in site if "jam-kerja 50M" in line)
    assert re.search(r'meta hour "07:30"-"15:59:59" limit rate over 6250000 bytes/second', office)
    weekend = next(line for line in site if "akhir-pekan" in line)
    assert '"Saturday"' in weekend and '"Sunday"' in weekend and "meta hour" not in weekend
    assert "18750000 bytes/second" in weekend  # 150M after the 300% of the schedule
    up = _nft(ns, "list", "chain", "inet", "simpul_portal", "client_up")
    assert len(re.findall(r"ip saddr 10\.200\.0\.0/22 .*limit rate over", up)) == 4
