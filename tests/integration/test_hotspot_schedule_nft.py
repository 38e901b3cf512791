"""The config engine's Linux hotspot gateway ruleset, with its scheduled site limits, loaded by
the real nft in a network namespace made here: the rules read back in the site's local time,
and reloading keeps the allowed clients. The lab's simulated gateway lists the table as real nft
does."""

from __future__ import annotations

import json
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
from lab.ssh_sim.linux_nft import Ruleset
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


def _gateway_ruleset(tmp_path: Path) -> Path:
    """The demo taman-kota gateway's nftables file, as the config engine renders it."""
    inventory = check_inventory(DEMO_INVENTORY)[0]
    secrets = SecretStore({n: f"value-of-{n}" for n in inventory.secret_names()}, {})
    text = render_intended_config(inventory, inventory.devices["taman-kota-gw"], secrets)
    ruleset = tmp_path / "simpul_portal.nft"
    ruleset.write_text(text.split("### file: /etc/nftables.d/simpul_portal.nft\n", 1)[1])
    return ruleset


def test_site_limits_load_in_real_nft_and_reload_keeps_clients(ns: str, tmp_path: Path) -> None:
    ruleset = _gateway_ruleset(tmp_path)
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


def _shape(listing: str) -> dict[str, object]:
    """What `nft -j list table` says of sets and chains, less handles, rules and the values that
    move with time (seconds left, counted bytes): which keys an element carries stays."""
    items = json.loads(listing)["nftables"]
    sets = {i["set"]["name"]: {
        **{k: v for k, v in i["set"].items() if k not in ("handle", "elem")},
        "elem": [{k: (v if k == "val" else type(v).__name__) for k, v in e["elem"].items()}
                 if isinstance(e, dict) else e for e in i["set"].get("elem", [])]}
        for i in items if "set" in i}
    chains = {i["chain"]["name"]: {k: v for k, v in i["chain"].items() if k != "handle"}
              for i in items if "chain" in i}
    tables = [i["table"]["name"] for i in items if "table" in i]
    return {"tables": tables, "sets": sets, "chains": chains}


def test_the_lab_simulator_lists_the_table_as_real_nft_does(ns: str, tmp_path: Path) -> None:
    """The portal reads both counters from one `nft -j list table`; the lab's simulated gateway
    must answer it in real nft's shape, with the same sets, elements and chains."""
    ruleset = _gateway_ruleset(tmp_path)
    client = "{ 10.200.0.20 . 02:00:00:00:00:01 timeout 1h }"
    _nft(ns, "-f", str(ruleset))
    _nft(ns, "add", "element", "inet", "simpul_portal", "allowed", client)
    _nft(ns, "add", "element", "inet", "simpul_portal", "allowed_down",
         "{ 10.200.0.20 timeout 1h }")
    real = _nft(ns, "-j", "list", "table", "inet", "simpul_portal")

    sim = Ruleset()
    sim.run(ruleset.read_text())
    sim.run(f"add element inet simpul_portal allowed {client}")
    sim.run("add element inet simpul_portal allowed_down { 10.200.0.20 timeout 1h }")
    simulated = sim.run("list table inet simpul_portal", json_output=True)
    assert _shape(simulated) == _shape(real)
    assert _shape(real)["sets"]["allowed"]["elem"] == [  # type: ignore[index]
        {"val": {"concat": ["10.200.0.20", "02:00:00:00:00:01"]}, "timeout": "int",
         "expires": "int", "counter": "dict"}]
