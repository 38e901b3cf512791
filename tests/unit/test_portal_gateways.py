"""Gateway adapters' pure parts: nft commands and output parsing, batching, the template."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from captive_portal.gateways.base import Client, GatewayError, Grant
from captive_portal.gateways.batching import GroupCommit
from captive_portal.gateways.mikrotik import parse_duration, parse_terse
from captive_portal.gateways.nftables import element_commands, pack_scripts, parse_sets
from captive_portal.gateways.pool import GatewayPool
from captive_portal.otp import normalise_phone
from captive_portal.vouchers import normalise_code
from controller.context import Context
from controller.devices import DeviceTarget
from controller.hotspot_gateway import gateway_template_context, render_gateway_files
from controller.inventory import check_inventory
from controller.ratelimit import RateLimiter
from controller.settings import Settings
from tests.conftest import DEMO_INVENTORY


def test_allow_refreshes_timeout_in_one_transaction_and_revoke_never_fails() -> None:
    grant = Grant(Client("10.200.0.5", "06:AA:bb:cc:dd:ee"), 7200)
    commands = element_commands("allow", grant)
    up = "element inet simpul_portal allowed { 10.200.0.5 . 06:aa:bb:cc:dd:ee"
    assert commands[0] == f"add {up} }}" and commands[2] == f"delete {up} }}"
    assert commands[-2] == f"add {up} timeout 7200s }}"
    assert commands[-1] == \
        "add element inet simpul_portal allowed_down { 10.200.0.5 timeout 7200s }"
    revoke = element_commands("revoke", grant.client)
    assert revoke[-1].startswith("delete element") and len(revoke) == 4


@pytest.mark.parametrize("client", [Client("10.0.0.1; rm -rf /", "02:00:00:00:00:01"),
                                    Client("10.0.0.1", "02:00:00:00:00:01' ; reboot"),
                                    Client("2001:db8::1", "02:00:00:00:00:01")])
def test_bad_client_values_never_reach_the_shell(client: Client) -> None:
    with pytest.raises((ValueError, GatewayError)):
        element_commands("revoke", client)


def test_parse_nft_json_table_listing_with_counters() -> None:
    """`nft -j list table` (as nft 1.0.6 prints it): each set's elements, chains ignored."""
    text = json.dumps({"nftables": [
        {"metainfo": {"version": "1.0.6"}},
        {"table": {"family": "inet", "name": "simpul_portal", "handle": 1}},
        {"set": {"family": "inet", "name": "allowed", "table": "simpul_portal",
                 "elem": [{"elem": {"val": {"concat": ["10.200.0.5", "02:00:00:00:00:01"]},
                                    "timeout": 7200, "expires": 7100,
                                    "counter": {"packets": 9, "bytes": 1234}}}]}},
        {"set": {"family": "inet", "name": "allowed_down", "table": "simpul_portal",
                 "elem": [{"elem": {"val": "10.200.0.5", "timeout": 7200, "expires": 7100,
                                    "counter": {"packets": 90, "bytes": 98765}}}]}},
        {"set": {"family": "inet", "name": "walled_garden", "table": "simpul_portal"}},
        {"chain": {"family": "inet", "table": "simpul_portal", "name": "forward",
                   "handle": 1, "type": "filter", "hook": "forward", "prio": 0}}]})
    assert parse_sets(text, "gw") == {
        "allowed": [{"key": ["10.200.0.5", "02:00:00:00:00:01"], "expires": 7100,
                     "bytes": 1234}],
        "allowed_down": [{"key": "10.200.0.5", "expires": 7100, "bytes": 98765}],
        "walled_garden": []}
    with pytest.raises(GatewayError, match="gw: unexpected"):
        parse_sets("Error: No such file or directory", "gw")


def test_group_commit_sends_concurrent_changes_together() -> None:
    sent: list[list[int]] = []

    def send(batch: list[int]) -> None:
        time.sleep(0.05)
        sent.append(batch)

    commit: GroupCommit[int] = GroupCommit(send)
    threads = [threading.Thread(target=commit.submit, args=([n],)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(n for batch in sent for n in batch) == list(range(20))
    assert len(sent) < 20

    def fail(batch: list[int]) -> None:
        raise GatewayError("gw: down")

    with pytest.raises(GatewayError, match="down"):
        GroupCommit(fail).submit([1])


def test_routeros_terse_output() -> None:
    text = (' 0   server=hotspot1 user="simpul-portal" address=10.200.4.31 '
            'mac-address=0A:BC:DE:01:02:03 uptime=1h2m3s session-time-left=58m '
            'bytes-in=1200 bytes-out=34000\n')
    [item] = parse_terse(text)
    assert item["user"] == "simpul-portal" and item["bytes-out"] == "34000"
    assert parse_duration(item["uptime"]) == 3723 and parse_duration("") is None


def test_routeros_terse_values_are_read_with_routeros_escapes() -> None:
    # MikroTik manual, Scripting, "Constant Escape Sequences": \" \\ \$ and \XX hex bytes.
    text = r' 0   server=hotspot1 user="Taman \\ \"Kota\" \$x \C3\A7" bytes-in=1' + '\n'
    [item] = parse_terse(text)
    assert item["user"] == 'Taman \\ "Kota" $x \u00e7'


def test_gateway_template_renders_table_dhcp_option_114_and_forwarding() -> None:
    inventory, _ = check_inventory(DEMO_INVENTORY)
    hotspot = inventory.hotspots["taman-kota"]
    files = render_gateway_files(gateway_template_context(
        hotspot, inventory.devices[hotspot.gateway], "http://10.1.0.2:8080",
        portal_https_url="https://portal.wifi.example.go.id"))
    nft = files["/etc/nftables.d/simpul_portal.nft"]
    assert "table inet simpul_portal {" in nft
    assert "flags timeout" in nft and "counter" in nft
    assert "tcp dport 80 dnat ip to 10.1.0.2:8080" in nft
    assert "meta l4proto tcp reject with tcp reset" in nft
    assert "limit rate over 625000 bytes/second" in nft  # 5M down per client
    assert "limit rate over 250000 bytes/second" in nft  # 2M up per client
    dnsmasq = files["/etc/dnsmasq.d/simpul-hotspot.conf"]
    # RFC 8910 option 114: the RFC 8908 API over HTTPS by the portal's name, not the DNAT target
    assert 'dhcp-option=114,"https://portal.wifi.example.go.id/api/captive"' in dnsmasq
    assert "dhcp-range=10.200.0.10,10.200.3.254" in dnsmasq
    assert "net.ipv4.ip_forward = 1" in files["/etc/sysctl.d/60-simpul-hotspot.conf"]
    with pytest.raises(ValueError, match="portal URL"):
        gateway_template_context(hotspot, inventory.devices[hotspot.gateway], "portal")


@pytest.mark.parametrize("typed, expected", [
    ("0812-3456-7890", "+6281234567890"), ("+62 812 3456 7890", "+6281234567890"),
    ("6281234567", "+6281234567"), ("12345", None), ("0212345678", None),
    ("08123abc", None), ("", None)])
def test_indonesian_mobile_numbers(typed: str, expected: str | None) -> None:
    assert normalise_phone(typed) == expected


def test_voucher_codes_and_rate_limiter() -> None:
    assert normalise_code(" abcd efgh ") == "ABCD-EFGH"
    assert normalise_code("abc") is None
    limiter = RateLimiter(2, 60)
    assert [limiter.allow("a", now=t) for t in (0, 1, 2)] == [True, True, False]
    assert limiter.allow("b", now=2) is True
    assert limiter.allow("a", now=61) is True


def test_large_batches_are_split_into_shell_sized_transactions() -> None:
    grants = [Grant(Client(f"10.200.{i // 250}.{i % 250 + 1}", f"02:00:00:00:{i // 256:02x}:"
                           f"{i % 256:02x}"), 3600) for i in range(300)]
    batches = [element_commands("allow", g) for g in grants]
    scripts = pack_scripts(batches)
    assert len(scripts) > 1 and all(len(s) <= 3500 for s in scripts)
    assert "; ".join(scripts) == "; ".join("; ".join(b) for b in batches)
    assert all(s.startswith("add element") for s in scripts)


def test_gateway_ssh_time_bounds_are_the_settings(
        tmp_path: Path, demo_secrets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A gateway whose SSH hangs holds a login only as long as the two settings say."""
    seen: dict[str, object] = {}

    class Conn:
        def send_command(self, command: str, read_timeout: float, **options: object) -> str:
            seen["read_timeout"] = read_timeout
            return "[]\n__SIMPUL_RC=0\n"

        def disconnect(self) -> None: ...

    def connect(target: DeviceTarget, device_type: str) -> Conn:
        seen["connect_timeout"] = target.timeout_s
        return Conn()

    monkeypatch.setattr("captive_portal.gateways.ssh.netmiko_connect", connect)
    settings = Settings(data_dir=tmp_path / "data", inventory_dir=DEMO_INVENTORY,
                        secrets_file=demo_secrets, portal_gateway_connect_timeout_s=1.5,
                        portal_gateway_read_timeout_s=2.5)
    ctx = Context.open(settings)
    try:
        pool = GatewayPool(ctx)
        assert pool.get("taman-kota").mac_for_ip("10.200.0.9") is None
        pool.close()
    finally:
        ctx.close()
    assert seen == {"connect_timeout": 1.5, "read_timeout": 2.5}
