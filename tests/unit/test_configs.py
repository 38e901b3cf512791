"""Config engine, pure parts: rendering every demo device, strict templates, diffs, masking."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from controller.backups import BackupRepo, mask
from controller.configs import RenderError, render_intended_config, select_devices
from controller.devices import PLATFORMS, IntentError
from controller.inventory import load_inventory
from controller.secrets import SecretStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo(demo_secrets: Path):  # type: ignore[no-untyped-def]
    secrets = SecretStore.load(demo_secrets)
    return load_inventory(ROOT / "inventory", secrets), secrets


def test_every_demo_device_renders(demo) -> None:  # type: ignore[no-untyped-def]
    inventory, secrets = demo
    for device in inventory.devices.values():
        text = render_intended_config(inventory, device, secrets)
        assert text.strip(), device.name
        if device.platform == "mikrotik_routeros":
            assert f"set name={device.name}" in text
            PLATFORMS["mikrotik_routeros"].plan(text, "")  # every add is tagged
        elif device.platform == "cisco_ios":
            assert f"hostname {device.name}" in text
        else:
            assert "### file: " in text and "table inet simpul_portal" in text


def test_office_router_queue_holds_the_site_allocation(demo) -> None:  # type: ignore[no-untyped-def]
    inventory, secrets = demo
    text = render_intended_config(inventory, inventory.devices["setda-r1"], secrets)
    # setda is 40M down / 20M up; RouterOS max-limit is upload/download of the target
    assert "max-limit=20M/40M name=simpul-allocation" in text


def test_missing_variable_names_template_line_and_device(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    inventory, secrets = demo
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    path = templates / "mikrotik_routeros" / "office_router.j2"
    lines = path.read_text().splitlines()
    lines.insert(4, "/ip dns set servers={{ vars.no_such_variable }}")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RenderError) as info:
        render_intended_config(inventory, inventory.devices["setda-r1"], secrets, templates)
    message = str(info.value)
    assert "office_router.j2:5:" in message
    assert "device 'setda-r1'" in message
    assert "no_such_variable" in message


def test_syntax_error_and_missing_template_are_named(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    inventory, secrets = demo
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "cisco_ios" / "core.j2").write_text("hostname {{ device.name\n")
    with pytest.raises(RenderError, match=r"core\.j2:1: device 'noc-core': template syntax"):
        render_intended_config(inventory, inventory.devices["noc-core"], secrets, templates)
    (templates / "cisco_ios" / "distribution.j2").unlink()
    with pytest.raises(RenderError, match=r"distribution\.j2:1: device 'noc-dist': no template"):
        render_intended_config(inventory, inventory.devices["noc-dist"], secrets, templates)


def test_targets(demo) -> None:  # type: ignore[no-untyped-def]
    inventory, _ = demo
    assert [d.name for d in select_devices(inventory, site="noc")] == [
        "noc-border", "noc-core", "noc-dist"]
    assert len(select_devices(inventory, all_devices=True)) == len(inventory.devices)
    assert {d.platform for d in select_devices(inventory, role="core")} == {"cisco_ios"}
    with pytest.raises(Exception, match="unknown device"):
        select_devices(inventory, ["nope"])


EXPORT = """# 2026-11-23 22:04:26 by RouterOS 7.14.3
# software id = 7QXN-4K2B
/ip firewall filter
add action=accept chain=input comment="defconf: accept established" \\
    connection-state=established
add action=accept chain=input comment="simpul: ping" protocol=icmp
/system identity
set name=old
"""


def test_routeros_normalise_joins_continuations_and_drops_header() -> None:
    platform = PLATFORMS["mikrotik_routeros"]
    text = platform.normalise(EXPORT)
    assert "#" not in text.split("\n")[0]
    assert 'comment="defconf: accept established" connection-state=established' in text


def test_routeros_plan_touches_only_tagged_items_and_is_idempotent() -> None:
    platform = PLATFORMS["mikrotik_routeros"]
    running = platform.normalise(EXPORT)
    intent = ("/system identity\nset name=new\n/ip firewall filter\n"
              'add action=accept chain=input comment="simpul: ping" protocol=icmp\n'
              'add action=drop chain=input comment="simpul: drop" protocol=tcp\n')
    plan = platform.plan(intent, running)
    assert "/system identity set name=new" in plan.actions
    assert '/ip firewall filter remove [ find where comment~"^simpul" ]' in plan.actions
    assert not any("defconf" in a for a in plan.actions)
    applied = running.replace("set name=old", "set name=new").replace(
        'add action=accept chain=input comment="simpul: ping" protocol=icmp',
        'add action=accept chain=input comment="simpul: ping" protocol=icmp\n'
        'add action=drop chain=input comment="simpul: drop" protocol=tcp')
    assert platform.plan(intent, applied).empty
    undo = platform.rollback_plan(running, applied)
    assert "/system identity set name=old" in undo.actions


def test_routeros_intent_without_tag_is_refused() -> None:
    with pytest.raises(IntentError, match="comment starting 'simpul'"):
        PLATFORMS["mikrotik_routeros"].plan("/ip pool\nadd name=x ranges=1.1.1.1\n", "")


RUNNING_IOS = """Building configuration...

Current configuration : 300 bytes
!
! Last configuration change at 22:04:26 UTC Mon Nov 23 2026 by simpul
!
hostname Switch
username simpul privilege 15 secret 9 $9$abc
ntp server 192.0.2.1
no aaa new-model
vlan 1
!
interface GigabitEthernet1/0/1
 description old
!
interface GigabitEthernet1/0/2
 description untouched
end
"""


def test_ios_plan_touches_only_what_the_intent_owns() -> None:
    platform = PLATFORMS["cisco_ios"]
    running = platform.normalise(RUNNING_IOS)
    assert "Last configuration change" not in running and "Current configuration" not in running
    intent = ("hostname core1\nntp server 10.10.0.1\naaa new-model\n"
              "interface GigabitEthernet1/0/1\n description new\nvlan 10\n name MGMT\n")
    plan = platform.plan(intent, running)
    assert "ntp server 10.10.0.1" in plan.actions
    assert " description new" in plan.actions
    # Nothing Simpul never pushed is negated: not the other NTP server, not a user.
    assert not any(a.strip().startswith("no ") for a in plan.actions), plan.actions
    assert not any("username" in a or "GigabitEthernet1/0/2" in a for a in plan.actions)
    # Once Simpul pushed `ntp server 192.0.2.1` and the intent dropped it, it goes.
    pushed = "ntp server 192.0.2.1\nhostname core1\n"
    assert "no ntp server 192.0.2.1" in platform.plan(intent, running, pushed=pushed).actions


def test_masking_hides_secrets() -> None:
    text = ("/snmp community\nadd authentication-password=abc123 name=simpul\n"
            "snmp-server community Sup3rS3cret RO\nusername simpul privilege 15 secret 9 $9$x\n"
            "snmp-server user simpul G v3 auth sha AUTHKEY priv aes 128 PRIVKEY\n"
            "my value knownsecretvalue here\n")
    masked = mask(text, ["knownsecretvalue"])
    for secret in ("abc123", "Sup3rS3cret", "$9$x", "AUTHKEY", "PRIVKEY", "knownsecretvalue"):
        assert secret not in masked


def test_backups_commit_once_per_change_and_diff(tmp_path: Path) -> None:
    import subprocess

    repo = BackupRepo(tmp_path / "backups")
    first = repo.save("r1", "a\nb\n", "backup")
    assert first and repo.save("r1", "a\nb\n", "backup") is None
    running = ("a\n/snmp community\nadd addresses=10.10.0.5/32 name=topsecretvalue\n"
               "/ip hotspot user\nadd name=portal password=hunter2hunter2\n")
    second = repo.save("r1", running, "push", actor="cli:ana", secrets=["topsecretvalue"])
    assert second and len(repo.history("r1")) == 2
    # What the backup holds: the known secret and a password the device printed, masked.
    assert repo.show("r1", second) == (
        "a\n/snmp community\nadd addresses=10.10.0.5/32 name=********\n"
        "/ip hotspot user\nadd name=portal password=********\n")
    diff = repo.diff("r1", first, second)
    assert "-b" in diff and "+add name=portal password=********" in diff
    assert repo.show("r1", first) == "a\nb\n"
    assert repo.history("r1")[0].author == "cli:ana"
    # Nothing in the repository's history or files holds either secret.
    history = subprocess.run(["git", "-C", str(tmp_path / "backups"), "log", "-p", "--all"],
                             capture_output=True, text=True, check=True).stdout
    assert "add name=portal password=********" in history
    on_disk = "".join(p.read_text() for p in (tmp_path / "backups").glob("*.cfg"))
    for secret in ("topsecretvalue", "hunter2hunter2"):
        assert secret not in history and secret not in on_disk
    # Commits are written in-process (libgit2): git itself finds a sound repository whose
    # files and index match the last commit, and each commit holds one device's file.
    git = ["git", "-C", str(tmp_path / "backups")]
    assert subprocess.run([*git, "fsck", "--strict"], capture_output=True).returncode == 0
    assert subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True,
                          check=True).stdout == ""
    repo.save("r2", "c\n", "backup")
    assert subprocess.run([*git, "show", "--name-only", "--format=%an|%cn|%s", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.split() == [
        "system|Simpul|r2:", "backup", "r2.cfg"]


def test_ios_snmpv3_user_is_write_only() -> None:
    """IOS never shows `snmp-server user`: not compared, but sent along with any change."""
    platform = PLATFORMS["cisco_ios"]
    user = "snmp-server user simpul SIMPUL v3 auth sha KEY1 priv aes 128 KEY2"
    intent = f"hostname core1\nsnmp-server group SIMPUL v3 priv\n{user}\n"
    in_sync = "hostname core1\nsnmp-server group SIMPUL v3 priv\n"
    assert platform.plan(intent, in_sync).empty
    plan = platform.plan(intent, "hostname old\nsnmp-server group SIMPUL v3 priv\n")
    assert plan.actions[-1] == user and "hostname core1" in plan.actions


def test_mikrotik_hotspot_gateway_has_the_portal_user_and_masks_its_password() -> None:
    from controller.configs import device_secret_values, render_intended_config
    from controller.inventory import check_inventory
    from controller.secrets import SecretStore
    from tests.conftest import DEMO_INVENTORY

    inventory = check_inventory(DEMO_INVENTORY)[0]
    secrets = SecretStore({n: f"value-of-{n}" for n in inventory.secret_names()}, {})
    device = inventory.devices["alun-alun-gw"]
    text = render_intended_config(inventory, device, secrets)
    assert ('add comment="simpul: the portal logs clients in as this user" name=simpul-portal '
            'password="value-of-hotspot_login_password" profile=simpul-alun-alun') in text
    assert "shared-users=unlimited" in text
    assert "value-of-hotspot_login_password" in device_secret_values(inventory, device, secrets)


def test_office_router_renders_holiday_windows_on_the_sites_local_holiday() -> None:
    from datetime import UTC, datetime

    from controller.configs import render_context
    from controller.inventory import check_inventory
    from controller.secrets import SecretStore
    from tests.conftest import DEMO_INVENTORY

    inventory = check_inventory(DEMO_INVENTORY)[0]
    secrets = SecretStore({n: "x" for n in inventory.secret_names()}, {})
    device = inventory.devices["setwan-r1"]
    # 2026-08-16 17:30 UTC is 2026-08-17 00:30 WIB: Hari Kemerdekaan at the site.
    holiday = render_context(inventory, device, secrets, now=datetime(2026, 8, 16, 17, 30,
                                                                      tzinfo=UTC))
    names = [q.name for q in holiday["site_queues"]]
    assert names == ["simpul-setwan-hari-libur"]
    assert holiday["site_queues"][0].time == "0s-1d,mon,tue,wed,thu,fri,sat,sun"
    ordinary = render_context(inventory, device, secrets, now=datetime(2026, 8, 16, 16, 30,
                                                                       tzinfo=UTC))
    assert "simpul-setwan-hari-libur" not in [q.name for q in ordinary["site_queues"]]
    assert ordinary["site_queues"]  # the weekly windows
