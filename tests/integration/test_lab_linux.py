"""The lab's Linux gateway simulator through Simpul's two real clients of Linux gateways.

The config engine (controller/devices/linux.py over netmiko `linux`) renders, diffs and pushes
the hotspot gateway's files and nftables table; the captive portal's nftables adapter allows,
lists, revokes and looks up clients. Both talk to lab.ssh_sim.linux on a loopback address.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from captive_portal.errors import PortalError
from captive_portal.gateways.base import Client, GatewayError, Grant
from captive_portal.gateways.nftables import NftablesGateway
from captive_portal.gateways.ssh import GatewaySession
from captive_portal.service import Portal
from controller.configs import DEFAULT_TEMPLATES_DIR
from controller.context import Context
from controller.devices import build_target
from controller.devices.host_keys import known_hosts_path, trust_device
from controller.inventory import Device, Inventory, load_inventory
from controller.jobs import ConfigJobs
from controller.secrets import SecretStore
from controller.settings import Settings
from lab.ssh_sim.state import read_command_log
from tests.conftest import free_port, move_device
from tests.integration.config_lab import simulated

pytestmark = pytest.mark.integration

GW = "taman-kota-gw"
ROOT_VAR = "/srv/simpul-gw"  # device var config_root: every managed path is under it
NFT_FILE = "/etc/nftables.d/simpul_portal.nft"
DNSMASQ_FILE = "/etc/dnsmasq.d/simpul-hotspot.conf"
CLIENT = Client("10.200.0.31", "0a:bc:de:01:02:03")


@dataclass
class Sim:
    inventory: Inventory
    secrets: SecretStore
    state_dir: Path
    data_dir: Path

    @property
    def device(self) -> Device:
        return self.inventory.devices[GW]

    @property
    def root(self) -> Path:
        """Where the simulated gateway keeps the files of its `/`."""
        return self.state_dir / "ssh_sim" / f"{GW}.root"

    def jobs(self) -> ConfigJobs:
        return ConfigJobs(self.inventory, self.secrets, self.data_dir)

    def adapter(self) -> NftablesGateway:
        target = build_target(self.inventory, self.device, self.secrets, timeout_s=10,
                              known_hosts=known_hosts_path(self.data_dir))
        return NftablesGateway(GatewaySession(target, "linux"))


@pytest.fixture
def sim(demo_inventory: Path, demo_secrets: Path, tmp_path: Path) -> Iterator[Sim]:
    """The demo inventory with taman-kota-gw on a test address, simulated there."""
    address = f"127.0.{random.randint(100, 250)}.55"
    port = free_port(address)
    move_device(demo_inventory, GW, address, port, config_root=ROOT_VAR)
    inventory = load_inventory(demo_inventory)
    secrets = SecretStore.load(demo_secrets)
    state_dir = tmp_path / "lab"
    with simulated(inventory, secrets, state_dir, GW):
        trust_device(known_hosts_path(tmp_path / "data"), GW, address, port)
        yield Sim(inventory, secrets, state_dir, tmp_path / "data")


def _set_elements(gateway: NftablesGateway, name: str) -> list[object]:
    text = gateway.run(f"nft -j list set inet simpul_portal {name}")
    doc = json.loads(text[text.index('{"nftables"'):])
    return [e["elem"]["val"] if isinstance(e, dict) else e
            for e in doc["nftables"][1]["set"].get("elem", [])]


def test_config_push_writes_files_loads_the_table_and_shows_drift(sim: Sim) -> None:
    jobs = sim.jobs()
    intent = jobs.render(sim.device)
    first = jobs.diff_one(sim.device)
    assert first.status == "changed", first.error
    assert f"{NFT_FILE} (absent)" in first.diff and "+table inet simpul_portal {" in first.diff

    pushed = jobs.push_one(sim.device)
    assert (pushed.status, pushed.error) == ("changed", None)
    nft_text = (sim.root / ROOT_VAR.lstrip("/") / NFT_FILE.lstrip("/")).read_text()
    assert nft_text in intent and "set allowed {" in nft_text
    assert not (sim.root / "etc").exists()  # config_root prefixed every path
    staging = [p.name for p in sim.root.rglob("*.simpul-*")]
    assert staging == []  # base64 staging files renamed or removed
    log = read_command_log(sim.state_dir, GW)
    assert any(line.startswith("echo __simpul_begin_") and f"nft -f {ROOT_VAR}{NFT_FILE} ;"
               in line for line in log), log[-5:]
    assert any("sysctl -q -p" in line for line in log)
    assert any("systemctl restart dnsmasq" in line for line in log)

    gateway = sim.adapter()
    try:
        listing = gateway.run("nft list table inet simpul_portal")
        for name in ("set allowed {", "set allowed_down {", "chain forward {",
                     "ip saddr . ether saddr @allowed jump client_up"):
            assert name in listing
    finally:
        gateway.close()

    second = jobs.diff_one(sim.device)
    assert (second.status, second.diff, second.error) == ("unchanged", "", None)

    # an engineer edits a file by hand on the gateway: drift shows it, a push restores it
    gateway = sim.adapter()
    try:
        gateway.run(f"echo cache-size=5 >> {ROOT_VAR}{DNSMASQ_FILE}")
        drift = jobs.diff_one(sim.device)
        assert drift.status == "changed" and "-cache-size=5" in drift.diff, drift
        assert "nftables" not in drift.diff

        # someone deletes the live table: the files are unchanged, the live state is not
        assert jobs.push_one(sim.device).status == "changed"
        gateway.run("nft delete table inet simpul_portal")
        live = jobs.diff_one(sim.device)
        assert live.status == "changed"
        assert "--- live nftables inet simpul_portal" in live.diff and "-(absent)" in live.diff
        assert jobs.push_one(sim.device).status == "changed"
        assert "set allowed {" in gateway.run("nft list table inet simpul_portal")
    finally:
        gateway.close()
    assert jobs.diff_one(sim.device).status == "unchanged"


def test_a_ruleset_nft_refuses_is_rolled_back_with_nfts_own_words(sim: Sim,
                                                                  tmp_path: Path) -> None:
    assert sim.jobs().push_one(sim.device).status == "changed"
    templates = tmp_path / "bad-templates"
    shutil.copytree(DEFAULT_TEMPLATES_DIR, templates)
    template = templates / "linux" / "hotspot_gateway.j2"  # its last file is the ruleset
    template.write_text(template.read_text().rstrip("\n") +
                        "\nadd element inet simpul_portal walled_garden { 999.1.1.1 }\n")
    bad = ConfigJobs(sim.inventory, sim.secrets, sim.data_dir,
                     templates_dir=templates).push_one(sim.device)
    assert bad.status == "rolled_back", bad
    assert "Could not resolve hostname: 999.1.1.1" in (bad.error or "")
    assert f"nft -f {ROOT_VAR}{NFT_FILE}" in (bad.error or "")
    # the file and the live table are as before the push
    assert sim.jobs().diff_one(sim.device).status == "unchanged"


def test_nftables_adapter_allow_list_expire_count_and_revoke(sim: Sim) -> None:
    gateway = sim.adapter()
    try:
        with pytest.raises(GatewayError, match=GW):  # no table before the first push
            gateway.allowed()
        assert sim.jobs().push_one(sim.device).status == "changed"
        assert gateway.allowed() == []

        assert gateway.mac_for_ip(CLIENT.ip) is None  # the gateway has not seen the client
        gateway.run(f"ip neigh replace {CLIENT.ip} lladdr {CLIENT.mac.upper()} dev wlan0")
        assert gateway.mac_for_ip(CLIENT.ip) == CLIENT.mac
        assert gateway.mac_for_ip("10.200.0.99") is None

        gateway.allow([Grant(CLIENT, 600)])
        [entry] = gateway.allowed()
        assert entry.client == CLIENT
        assert entry.seconds_left is not None and 0 < entry.seconds_left <= 600
        # the simulated client moves data: both counters grow, upload less than download
        first_down = entry.bytes_down
        deadline = time.monotonic() + 15
        while True:
            [entry] = gateway.allowed()
            if entry.bytes_down > first_down:
                break
            assert time.monotonic() < deadline, "counters did not grow"
            time.sleep(0.5)
        assert 0 < entry.bytes_up < entry.bytes_down

        gateway.allow([Grant(CLIENT, 7200)])  # allowing again refreshes the timeout
        [entry] = gateway.allowed()
        assert entry.seconds_left is not None and 600 < entry.seconds_left <= 7200

        brief = Client("10.200.0.32", "0a:bc:de:01:02:04")
        gateway.allow([Grant(brief, 1)])
        assert {a.client for a in gateway.allowed()} == {CLIENT, brief}
        deadline = time.monotonic() + 15
        while brief in {a.client for a in gateway.allowed()}:
            assert time.monotonic() < deadline, "a 1 s element did not expire"
            time.sleep(0.3)
        assert "10.200.0.32" not in _set_elements(gateway, "allowed_down")

        gateway.revoke([CLIENT])
        assert gateway.allowed() == []
        assert _set_elements(gateway, "allowed_down") == []
        gateway.revoke([CLIENT])  # revoking an absent client is not an error
    finally:
        gateway.close()


def test_nft_transactions_and_unknown_commands_fail_loudly(sim: Sim) -> None:
    gateway = sim.adapter()
    try:
        assert sim.jobs().push_one(sim.device).status == "changed"
        # one nft command line is one transaction: a failing delete undoes the add before it
        with pytest.raises(GatewayError, match="No such file or directory"):
            gateway.run("nft 'add element inet simpul_portal allowed_down { 10.200.0.40 }; "
                        "delete element inet simpul_portal allowed_down { 10.200.0.41 }'")
        assert _set_elements(gateway, "allowed_down") == []
        with pytest.raises(GatewayError, match=r"exit 127"):
            gateway.run("iptables -L")
        with pytest.raises(GatewayError, match=r"exit 1\b"):
            gateway.run("ip neigh replace 10.200.0.42 lladdr zz dev wlan0")
        # paths stay inside the simulator's own root
        with pytest.raises(GatewayError, match=r"exit 1\b"):
            gateway.run("echo owned > /../../escaped")
        assert not list(sim.state_dir.parent.rglob("escaped"))
    finally:
        gateway.close()


def test_portal_login_accounting_and_disconnect_over_the_simulated_gateway(
        sim: Sim, demo_inventory: Path, tmp_path: Path) -> None:
    assert sim.jobs().push_one(sim.device).status == "changed"
    ctx = Context.open(Settings(data_dir=tmp_path / "data", inventory_dir=demo_inventory,
                                portal_url="http://portal.test",
                                portal_sms_outbox=tmp_path / "outbox.jsonl"))
    portal = Portal(ctx)
    try:
        gateway = portal.gateways.get("taman-kota")
        assert isinstance(gateway, NftablesGateway)
        with pytest.raises(PortalError) as unknown:
            portal.login.log_in(CLIENT.ip, "click_through", accepted_terms=True)
        assert unknown.value.code == "no_mac"  # the gateway has not seen this client
        gateway.run(f"ip neigh replace {CLIENT.ip} lladdr {CLIENT.mac} dev wlan0")

        view = portal.login.log_in(CLIENT.ip, "click_through", accepted_terms=True)
        assert [a.client for a in gateway.allowed()] == [CLIENT]
        deadline = time.monotonic() + 30
        while not portal.stats.list_active_sessions("taman-kota")[0].bytes_down:
            assert time.monotonic() < deadline, "no bytes accounted from the nftables counters"
            time.sleep(0.5)
            portal.accounting.account_and_reap()
        [session] = portal.stats.list_active_sessions("taman-kota")
        assert 0 < session.bytes_up < session.bytes_down

        assert portal.accounting.disconnect(view.id, "budi")
        assert gateway.allowed() == []
    finally:
        portal.close()
        ctx.close()


def test_gateway_state_survives_a_simulator_restart(sim: Sim) -> None:
    from lab.ssh_sim.linux import LinuxCli, LinuxGateway
    from lab.ssh_sim.state import DeviceState

    assert sim.jobs().push_one(sim.device).status == "changed"
    gateway = sim.adapter()
    try:
        gateway.run(f"ip neigh replace {CLIENT.ip} lladdr {CLIENT.mac} dev wlan0")
        gateway.allow([Grant(CLIENT, 600)])
    finally:
        gateway.close()
    # a new simulator process reads the same state directory
    shell = LinuxCli(LinuxGateway(GW, DeviceState(sim.state_dir, GW)), "simpul")
    listing = shell.handle_line("nft -j list set inet simpul_portal allowed")
    [element] = json.loads(listing)["nftables"][1]["set"]["elem"]
    assert element["elem"]["val"] == {"concat": [CLIENT.ip, CLIENT.mac]}
    assert 0 < element["elem"]["expires"] <= 600
    assert CLIENT.mac in shell.handle_line(f"ip -j neigh show to {CLIENT.ip}")
    assert "set meter_up {" in shell.handle_line("nft list table inet simpul_portal")
    assert shell.handle_line("reboot").startswith("bash: reboot: command not found")
