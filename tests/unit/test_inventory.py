"""Inventory validation: the demo is valid; each broken inventory names the right path:line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from controller.inventory import check_inventory, load_inventory
from controller.secrets import SecretsError, SecretStore
from tests.conftest import DEMO_INVENTORY, ROOT


def line_of(path: Path, needle: str) -> int:
    """Line number where the last occurrence of `needle` starts."""
    text = path.read_text()
    index = text.rfind(needle)
    assert index >= 0, f"{needle!r} not in {path}"
    return text.count("\n", 0, index) + 1


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} must occur once in {path.name}"
    path.write_text(text.replace(old, new))


def all_secrets() -> SecretStore:
    inventory, _ = check_inventory(DEMO_INVENTORY)
    return SecretStore({name: "x" for name in inventory.secret_names()}, {})


def test_demo_inventory_is_valid_and_has_the_promised_shape() -> None:
    inventory = load_inventory(DEMO_INVENTORY, all_secrets())
    kinds = inventory.summary()["sites_by_kind"]
    assert kinds["noc"] == 1 and kinds["sopd"] >= 25 and kinds["kecamatan"] == 5
    assert kinds["desa"] == 10 and len(inventory.hotspots) == 4
    assert {h.adapter for h in inventory.hotspots.values()} == {"nftables", "mikrotik",
                                                                 "radius"}
    uplinks = [link for link in inventory.links if link.medium == "isp"]
    assert len(uplinks) == 2
    # Allocations fit the two uplinks.
    allocated = sum(s.allocation.down_bps for s in inventory.sites.values() if s.kind != "noc")
    assert allocated <= inventory.uplink_capacity().down_bps
    # Inheritance: defaults < group < item.
    assert inventory.devices["dinkes-r1"].platform == "mikrotik_routeros"  # from group
    assert inventory.devices["dinkes-r1"].snmp == "offices-v2c"  # group overrides defaults
    assert inventory.devices["noc-core"].snmp == "backbone-v3"  # from defaults
    assert inventory.sites["dinkes"].kind == "sopd"
    hotspot = inventory.hotspots["taman-kota"]
    assert hotspot.session_timeout == 7200 and hotspot.daily_quota.bytes == 2 * 10**9
    assert hotspot.branding.title == "Taman Kota Kuala Kahayan"  # item
    assert hotspot.branding.terms_id.startswith("Layanan WiFi publik")  # nested default
    assert inventory.hotspot_for_ip("10.200.1.7") is hotspot
    assert inventory.hotspot_for_ip("10.9.9.9") is None
    for site in inventory.sites.values():
        assert abs(site.lat - -1.94) < 0.2 and abs(site.lon - 113.76) < 0.2


# (file, old text, new text, needle whose line the error must name, message fragment)
BROKEN = [
    pytest.param("devices.yaml", "- name: dinkes-r1\n", "- name: [dinkes-r1\n",
                 "  site: dinkes", "YAML syntax error", id="yaml-syntax"),
    pytest.param("sites.yaml", "  allocation: 50M/25M\n- code: disdik",
                 "  allocation: 50M/25M\n  colour: red\n- code: disdik",
                 "colour: red", "site 'dinkes': unknown field 'colour'", id="unknown-field"),
    pytest.param("devices.yaml", "  site: dinkes\n", "  site: dinkes2\n",
                 "site: dinkes2", "device 'dinkes-r1': unknown site 'dinkes2'",
                 id="unknown-site"),
    pytest.param("devices.yaml", "  role: core\n", "  role: core\n  credentials: nobody\n",
                 "credentials: nobody", "device 'noc-core': unknown credential profile 'nobody'",
                 id="unknown-profile"),
    pytest.param("links.yaml", "    device: dinkes-r1\n", "    device: dinkes-r9\n",
                 "device: dinkes-r9", "unknown device 'dinkes-r9'", id="unknown-link-device"),
    pytest.param("devices.yaml", "- name: setwan-r1\n", "- name: setda-r1\n",
                 "- name: setda-r1", "duplicate device 'setda-r1' (first at", id="dup-name"),
    pytest.param("sites.yaml", "- code: setwan\n", "- code: setda\n",
                 "- code: setda", "duplicate site 'setda'", id="dup-code"),
    pytest.param("devices.yaml", "  mgmt_address: 127.0.0.14\n", "  mgmt_address: 127.0.0.13\n",
                 "mgmt_address: 127.0.0.13", "duplicate management address 127.0.0.13",
                 id="dup-address"),
    pytest.param("hotspots.yaml", "client_subnet: 10.200.4.0/22", "client_subnet: 10.200.2.0/24",
                 "client_subnet: 10.200.2.0/24", "overlaps hotspot 'taman-kota' (10.200.0.0/22)",
                 id="overlapping-subnets"),
    pytest.param("hotspots.yaml", "client_subnet: 10.200.4.0/22", "client_subnet: 10.200.0.0/16",
                 "client_subnet: 10.200.0.0/16",
                 "client subnet 10.200.0.0/16 overlaps hotspot 'taman-kota' (10.200.0.0/22)",
                 id="later-subnet-covers-an-earlier-one"),
    pytest.param("devices.yaml", "  mgmt_address: 127.0.0.13\n", "  mgmt_address: 10.200.0.5\n",
                 "mgmt_address: 10.200.0.5",
                 "management address 10.200.0.5 is inside the client subnet",
                 id="mgmt-in-hotspot-subnet"),
    pytest.param("sites.yaml", "  allocation: 50M/25M\n- code: disdik",
                 "  allocation: 50MB/25M\n- code: disdik", "allocation: 50MB/25M",
                 "site 'dinkes': allocation: bad bandwidth '50MB'", id="bad-bandwidth-unit"),
    pytest.param("devices.yaml", "  platform: mikrotik_routeros\n  role: hotspot_gateway\n"
                 "  mgmt_address: 127.0.0.58", "  platform: junos\n  role: hotspot_gateway\n"
                 "  mgmt_address: 127.0.0.58", "platform: junos",
                 "unknown platform 'junos'", id="unknown-platform"),
    pytest.param("defaults.yaml", "timezone: Asia/Jakarta", "timezone: Asia/Singapore",
                 "timezone: Asia/Singapore", "unknown timezone 'Asia/Singapore'",
                 id="unknown-timezone"),
    pytest.param("sites.yaml", "- code: setwan\n  name: Sekretariat DPRD\n  group: sopd\n",
                 "- code: setwan\n  name: Sekretariat DPRD\n  group: sopdd\n",
                 "group: sopdd", "site 'setwan': unknown group 'sopdd'", id="unknown-group"),
    pytest.param("devices.yaml", "  site: dinkes\n", "  site: dinkes\n  site: dinkes-again\n",
                 "site: dinkes-again", "key 'site' is written twice", id="duplicate-yaml-key"),
    pytest.param("hotspots.yaml", "  adapter: nftables\n  client_subnet: 10.200.0.0/22",
                 "  adapter: mikrotik\n  client_subnet: 10.200.0.0/22",
                 "adapter: mikrotik\n  client_subnet: 10.200.0.0/22",
                 "adapter mikrotik needs a mikrotik_routeros gateway", id="adapter-platform"),
    pytest.param("hotspots.yaml", "dns_name: wifi-alun-alun.kualakahayan.go.id",
                 "dns_name: wifi.alun-alun.local", "dns_name: wifi.alun-alun.local",
                 "hotspot 'alun-alun': dns_name: 'wifi.alun-alun.local' is under .local",
                 id="hotspot-dns-name-mdns"),
    pytest.param("hotspots.yaml", "dns_name: wifi-alun-alun.kualakahayan.go.id",
                 "dns_name: wifi_alun alun", "dns_name: wifi_alun alun",
                 "'wifi_alun alun' is not a DNS name", id="hotspot-dns-name-bad"),
    pytest.param("hotspots.yaml", "  dns_name: wifi-alun-alun.kualakahayan.go.id\n", "",
                 "adapter: mikrotik\n  client_subnet: 10.200.4.0/22",
                 "hotspot 'alun-alun': adapter mikrotik needs dns_name", id="hotspot-no-dns-name"),
    pytest.param("hotspots.yaml", "  adapter: nftables\n  client_subnet: 10.200.0.0/22",
                 "  adapter: radius\n  client_subnet: 10.200.0.0/22",
                 "adapter: radius\n  client_subnet: 10.200.0.0/22",
                 "hotspot 'taman-kota': adapter radius needs a radius block",
                 id="hotspot-radius-no-block"),
    pytest.param("hotspots.yaml", "  adapter: nftables\n  client_subnet: 10.200.0.0/22",
                 "  adapter: nftables\n  radius: {secret: radius_x, server: 127.0.0.1}\n"
                 "  client_subnet: 10.200.0.0/22",
                 "radius: {secret: radius_x", "a radius block is only for adapter radius",
                 id="hotspot-radius-block-wrong-adapter"),
    pytest.param("hotspots.yaml", "radius: {secret: radius_pasar_besar, server: 127.0.0.1}",
                 "radius: {secret: radius_pasar_besar, server: 127.0.0.1, nas: chilli}",
                 "radius: {secret: radius_pasar_besar", "hotspot 'pasar-besar': radius.nas "
                 "chilli needs uam_secret", id="hotspot-chilli-no-uam-secret"),
    pytest.param("hotspots.yaml", "radius: {secret: radius_pasar_besar, server: 127.0.0.1}",
                 "radius: {secret: radius_pasar_besar, server: 127.0.0.1, nas: unifi}",
                 "radius: {secret: radius_pasar_besar", "hotspot 'pasar-besar': unknown radius.nas "
                 "'unifi' (expected 'mikrotik' or 'chilli')",
                 id="hotspot-radius-nas-unknown"),
    pytest.param("hotspots.yaml", "radius: {secret: radius_pasar_besar, server: 127.0.0.1}",
                 "radius: {secret: radius_pasar_besar, server: 127.0.0.1, uam_secret: uam_x}",
                 "radius: {secret: radius_pasar_besar", "hotspot 'pasar-besar': "
                 "radius.uam_secret is only for nas chilli, not mikrotik",
                 id="hotspot-uam-secret-not-chilli"),
    pytest.param("sites.yaml", "  allocation: 50M/25M\n- code: disdik",
                 "  protected: ya\n  allocation: 50M/25M\n- code: disdik", "protected: ya",
                 "site 'dinkes': protected:", id="protected-not-a-boolean"),
]


@pytest.mark.parametrize(("file", "old", "new", "needle", "message"), BROKEN)
def test_broken_inventory_names_path_and_line(
    demo_inventory: Path, file: str, old: str, new: str, needle: str, message: str
) -> None:
    path = demo_inventory / file
    replace(path, old, new)
    _, problems = check_inventory(demo_inventory, all_secrets())
    expected = f"{demo_inventory / file}:{line_of(path, needle)}: "
    assert any(str(p).startswith(expected) and message in str(p) for p in problems), (
        f"wanted {expected}...{message}; got:\n" + "\n".join(map(str, problems))
    )


def test_missing_secret_is_reported_at_its_profile(demo_inventory: Path) -> None:
    inventory, _ = check_inventory(demo_inventory)
    values = {name: "x" for name in inventory.secret_names() if name != "snmp_community"}
    _, problems = check_inventory(demo_inventory, SecretStore(values, {}))
    path = demo_inventory / "profiles.yaml"
    assert [str(p) for p in problems] == [
        f"{path}:{line_of(path, 'community_secret: snmp_community')}: SNMP profile "
        "'offices-v2c': secret 'snmp_community' is not set "
        "(set SIMPUL_SECRET_SNMP_COMMUNITY or add it to the secrets file)"
    ]
    # The environment variable is enough.
    env = {"SIMPUL_SECRET_SNMP_COMMUNITY": "public-ish"}
    _, problems = check_inventory(demo_inventory, SecretStore(values, env))
    assert problems == []


def test_all_errors_are_listed_not_just_the_first(demo_inventory: Path) -> None:
    replace(demo_inventory / "devices.yaml", "  site: dinkes\n", "  site: dinkes2\n")
    replace(demo_inventory / "sites.yaml", "- code: setwan\n", "- code: setda\n")
    replace(demo_inventory / "hotspots.yaml", "- name: pasar-besar\n",
            "- name: pasar-besar\n  wifi6: true\n")
    _, problems = check_inventory(demo_inventory, all_secrets())
    text = "\n".join(map(str, problems))
    assert "unknown site 'dinkes2'" in text
    assert "duplicate site 'setda'" in text
    assert "unknown field 'wifi6'" in text


def test_a_bad_default_is_reported_for_every_item_inheriting_it(demo_inventory: Path) -> None:
    path = demo_inventory / "defaults.yaml"
    replace(path, "timezone: Asia/Jakarta", "timezone: Asia/Tokyo")
    _, problems = check_inventory(demo_inventory, all_secrets())
    where = f"{path}:{line_of(path, 'Tokyo')}: "
    tz = [p for p in problems if "unknown timezone 'Asia/Tokyo'" in str(p)]
    assert len(tz) == 47 and all(str(p).startswith(where) for p in tz)


def test_secrets_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secrets.yaml"
    path.write_text("snmp_community: s3cret-value\n")
    os.chmod(path, 0o644)
    with pytest.raises(SecretsError, match="chmod 600") as info:
        SecretStore.load(path)
    assert "s3cret-value" not in str(info.value)
    os.chmod(path, 0o600)
    assert SecretStore.load(path, {}).get("snmp_community") == "s3cret-value"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "controller.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, env=full_env, timeout=120)


def test_cli_check_valid_prints_summary_and_exits_0(demo_secrets: Path) -> None:
    result = run_cli("inventory", "check", str(DEMO_INVENTORY),
                     env={"SIMPUL_SECRETS_FILE": str(demo_secrets)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout and "sopd 27" in result.stdout
    as_json = run_cli("inventory", "check", str(DEMO_INVENTORY), "--json",
                      env={"SIMPUL_SECRETS_FILE": str(demo_secrets)})
    data = json.loads(as_json.stdout)
    assert data["ok"] is True and data["summary"]["hotspots"] == 4


def test_cli_check_invalid_lists_every_problem_without_traceback(
    demo_inventory: Path, demo_secrets: Path
) -> None:
    replace(demo_inventory / "devices.yaml", "  site: dinkes\n", "  site: dinkes2\n")
    replace(demo_inventory / "hotspots.yaml", "- name: pasar-besar\n", "- name: pasar-besar\n"
            "  wifi6: true\n")
    result = run_cli("inventory", "check", str(demo_inventory),
                     env={"SIMPUL_SECRETS_FILE": str(demo_secrets)})
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{demo_inventory}/devices.yaml:")
    assert lines[1] == (f"{demo_inventory}/hotspots.yaml:"
                        f"{line_of(demo_inventory / 'hotspots.yaml', 'wifi6')}: "
                        "hotspot 'pasar-besar': unknown field 'wifi6'")
    data = json.loads(run_cli("inventory", "check", str(demo_inventory), "--json",
                              env={"SIMPUL_SECRETS_FILE": str(demo_secrets)}).stdout)
    assert data["ok"] is False and len(data["problems"]) == 2


def test_cli_check_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("inventory", "check", str(tmp_path / "nope"), "--skip-secrets")
    assert result.returncode == 1
    assert "inventory directory not found" in result.stdout
    assert "Traceback" not in result.stderr


def test_mikrotik_hotspot_needs_its_portal_login_secret(demo_inventory: Path) -> None:
    values = {name: "x" for name in all_secrets_names() if name != "hotspot_login_password"}
    _, problems = check_inventory(demo_inventory, SecretStore(values, {}))
    messages = [p.message for p in problems]
    assert messages == [
        f"hotspot {name!r}: secret 'hotspot_login_password' is not set (set "
        "SIMPUL_SECRET_HOTSPOT_LOGIN_PASSWORD or add it to the secrets file)"
        for name in ("alun-alun",)  # pasar-besar is adapter radius: no portal login user
    ]


def test_radius_hotspot_needs_its_nas_secret(demo_inventory: Path) -> None:
    values = {name: "x" for name in all_secrets_names() if name != "radius_pasar_besar"}
    _, problems = check_inventory(demo_inventory, SecretStore(values, {}))
    assert [p.message for p in problems] == [
        "hotspot 'pasar-besar': secret 'radius_pasar_besar' is not set (set "
        "SIMPUL_SECRET_RADIUS_PASAR_BESAR or add it to the secrets file)"]


def test_chilli_hotspot_needs_its_uam_secret(demo_inventory: Path) -> None:
    replace(demo_inventory / "hotspots.yaml",
            "radius: {secret: radius_pasar_besar, server: 127.0.0.1}",
            "radius: {secret: radius_pasar_besar, server: 127.0.0.1, nas: chilli, "
            "uam_secret: chilli_pasar_besar}")
    _, problems = check_inventory(demo_inventory, all_secrets())
    assert [p.message for p in problems] == [
        "hotspot 'pasar-besar': secret 'chilli_pasar_besar' is not set (set "
        "SIMPUL_SECRET_CHILLI_PASAR_BESAR or add it to the secrets file)"]
    assert "chilli_pasar_besar" in check_inventory(demo_inventory)[0].secret_names()


def all_secrets_names() -> set[str]:
    return check_inventory(DEMO_INVENTORY)[0].secret_names()


@pytest.mark.parametrize(("version", "refused"), [("7.14.3", True), ("7.9", True),
                                                  ("6.49.10", True), ("7.15", False),
                                                  ("7.15rc2", False), ("7.20", False)])
def test_radius_hotspot_on_routeros_before_7_15_is_refused(
        demo_inventory: Path, version: str, refused: bool) -> None:
    """RouterOS has require-message-auth from 7.15 (community.routeros CHANGELOG v3.3.0): an
    older router's Access-Requests lack Message-Authenticator and FreeRADIUS drops them."""
    path = demo_inventory / "devices.yaml"
    replace(path, 'mgmt_address: 127.0.0.58\n  vars: {routeros_version: "7.20"}',
            f'mgmt_address: 127.0.0.58\n  vars: {{routeros_version: "{version}"}}')
    _, problems = check_inventory(demo_inventory, all_secrets())
    hotspots = demo_inventory / "hotspots.yaml"
    line = line_of(hotspots, "adapter: radius ")
    expected = (f"{hotspots}:{line}: hotspot 'pasar-besar': adapter radius needs RouterOS 7.15 "
                f"or later on 'pasar-besar-gw' (vars.routeros_version is {version})")
    assert [str(p) for p in problems] == ([expected + (
        ": older RouterOS cannot send Message-Authenticator, and FreeRADIUS "
        "(require_message_authenticator = yes, BlastRADIUS) drops its Access-Requests; "
        "upgrade it or use adapter mikrotik")] if refused else [])


def test_a_malformed_routeros_version_is_named(demo_inventory: Path) -> None:
    path = demo_inventory / "devices.yaml"
    replace(path, '127.0.0.58\n  vars: {routeros_version: "7.20"}',
            '127.0.0.58\n  vars: {routeros_version: "latest"}')
    _, problems = check_inventory(demo_inventory, all_secrets())
    line = line_of(path, 'routeros_version: "latest"')
    assert [str(p) for p in problems] == [
        f"{path}:{line}: device 'pasar-besar-gw': "
        "vars.routeros_version 'latest' is not a RouterOS version (like 7.15.3)"]
