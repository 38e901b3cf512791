"""Hotspot gateways enforce their site's allocation schedule (RouterOS scheduler + parent
queue, nftables meta day/hour limits), at the site's local times (WIB, WITA)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from controller import schedules
from controller.configs import render_intended_config
from controller.devices import PLATFORMS
from controller.inventory import Inventory, check_inventory
from controller.secrets import SecretStore
from lab.ssh_sim.routeros import RouterOSCli, RouterOSDevice
from tests.conftest import DEMO_INVENTORY

# Tuesday 2026-11-24
TUE_1000_WIB = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
TUE_1700_WIB = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
TUE_0645_WIB = datetime(2026, 11, 23, 23, 45, tzinfo=UTC)  # = Tue 07:45 WITA
CHRISTMAS_NOON_WIB = datetime(2026, 12, 25, 5, 0, tzinfo=UTC)  # a Friday, a holiday


def _render(inventory: Inventory, device: str, now: datetime,
            monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(schedules, "utc_now", lambda: now)
    secrets = SecretStore({n: f"value-of-{n}" for n in inventory.secret_names()}, {})
    return render_intended_config(inventory, inventory.devices[device], secrets)


@pytest.fixture(scope="module")
def demo() -> Inventory:
    return check_inventory(DEMO_INVENTORY)[0]


def _queue(text: str, name: str) -> str:
    lines = [line for line in text.splitlines() if f"name={name} " in line]
    assert len(lines) == 1, lines
    return lines[0]


def _schedulers(text: str) -> list[str]:
    body = text.split("/system scheduler\n", 1)[1] if "/system scheduler\n" in text else ""
    return [line for line in body.splitlines() if line.startswith("add ")]


@pytest.mark.parametrize("device,hotspot", [("alun-alun-gw", "alun-alun"),
                                            ("pasar-besar-gw", "pasar-besar")])
def test_routeros_hotspot_parent_queue_and_weekly_schedulers_in_wib(
        demo: Inventory, device: str, hotspot: str, monkeypatch: pytest.MonkeyPatch) -> None:
    text = _render(demo, device, TUE_1000_WIB, monkeypatch)
    queue = f"simpul-hotspot-{hotspot}"
    assert "set time-zone-name=Asia/Jakarta" in text
    # Office hours in WIB: the hotspot has its 50M/25M (max-limit is upload/download).
    line = _queue(text, queue)
    assert f"max-limit=25M/50M name={queue} target=10.200." in line
    assert line.startswith('add comment="simpul')
    profile = next(x for x in text.splitlines() if x.startswith("add ") and "rate-limit=" in x)
    assert f"parent-queue={queue} " in profile
    entries = _schedulers(text)
    assert len(entries) == 10  # mon-fri at 07:30 (office hours) and 16:00 (after hours)
    by_name = {re.search(r" name=(\S+)", e)[1]: e for e in entries}  # type: ignore[index]
    monday_morning = by_name[f"{queue}-mon-0730"]
    assert "start-date=2024-01-01 start-time=07:30:00" in monday_morning  # 2024-01-01: Monday
    assert "interval=1w" in monday_morning and "policy=read,write" in monday_morning
    assert (f'on-event="/queue simple set [find name={queue}] max-limit=25M/50M"'
            in monday_morning)
    friday_evening = by_name[f"{queue}-fri-1600"]
    assert "start-date=2024-01-05 start-time=16:00:00" in friday_evening
    assert "max-limit=75M/150M" in friday_evening  # 300% after hours
    assert "WIB" in friday_evening
    assert not any("-sat-" in n or "-sun-" in n for n in by_name)  # Fri 16:00 lasts to Monday
    assert all(e.startswith('add comment="simpul schedule ') for e in entries)
    PLATFORMS["mikrotik_routeros"].plan(text, "")  # every add is tagged

    evening = _render(demo, device, TUE_1700_WIB, monkeypatch)
    assert "max-limit=75M/150M name=" + queue in _queue(evening, queue)
    assert _schedulers(evening) == entries


def test_routeros_hotspot_on_a_holiday_keeps_the_holiday_allocation(
        demo: Inventory, monkeypatch: pytest.MonkeyPatch) -> None:
    text = _render(demo, "alun-alun-gw", CHRISTMAS_NOON_WIB, monkeypatch)
    assert "max-limit=75M/150M name=simpul-hotspot-alun-alun" in text  # 300% all day
    assert _schedulers(text) == []  # no office-hours switch on a holiday
    assert "\n/system scheduler\n" not in text


def test_linux_hotspot_site_limits_by_day_and_hour_in_wib(
        demo: Inventory, monkeypatch: pytest.MonkeyPatch) -> None:
    text = _render(demo, "taman-kota-gw", TUE_1000_WIB, monkeypatch)
    weekdays = 'meta day { "Monday", "Tuesday", "Wednesday", "Thursday", "Friday" }'
    rule = "add rule inet simpul_portal"
    # Days and hours are the kernel's (UTC): office hours 07:30-16:00 WIB are 00:30-09:00 UTC,
    # seconds 1800-32399 of the day. 50M down (6250000 B/s) to the subnet, 25M up from it.
    assert (f"{rule} client_down ip daddr 10.200.0.0/22 {weekdays} meta hour 1800-32399 "
            "counter limit rate over 6250000 bytes/second") in text
    assert (f"{rule} client_up ip saddr 10.200.0.0/22 {weekdays} meta hour 1800-32399 "
            "counter limit rate over 3125000 bytes/second") in text
    # 07:00-07:30 WIB (00:00-00:30 UTC); 16:00 WIB to 07:00 WIB next day (09:00-24:00 UTC,
    # Saturday 00:00-07:00 WIB falling on Friday UTC).
    for hours in ("0-1799", "32400-86399"):
        assert (f"{rule} client_down ip daddr 10.200.0.0/22 {weekdays} meta hour {hours} "
                "counter limit rate over 18750000 bytes/second") in text
    # The weekend (and Monday 00:00-07:00 WIB, which is Sunday UTC).
    assert (f'{rule} client_down ip daddr 10.200.0.0/22 meta day {{ "Saturday", "Sunday" }} '
            f'counter limit rate over 18750000 bytes/second') in text
    site_rules = [x for x in text.splitlines() if "ip daddr 10.200.0.0/22" in x]
    assert len(site_rules) == 4  # the week in four non-overlapping spans
    assert "by schedule (WIB, Asia/Jakarta), as UTC days and seconds" in text
    # The site limits come after the per-client meters, and every limit is passed before the
    # allowed sets' counted lookups (a dropped packet must not count against a quota).
    lines = text.splitlines()
    meter = next(i for i, x in enumerate(lines) if "client_down update @meter_down" in x)
    limits = next(i for i, x in enumerate(lines) if x.endswith("jump client_down"))
    lookup = next(i for i, x in enumerate(lines) if "@allowed_down accept" in x)
    assert all(meter < lines.index(x) < limits < lookup for x in site_rules)
    assert not any("@allowed" in x and "jump client_" in x for x in lines)
    # The allowed-clients sets are still only declared (kept on reload), never flushed.
    assert "flush set inet simpul_portal allowed" not in text
    assert "flush set inet simpul_portal meter" not in text
    tepian = _render(demo, "tepian-kahayan-gw", TUE_1000_WIB, monkeypatch)
    assert "ip daddr 10.200.8.0/22" in tepian and "meta hour" in tepian


def _wita_inventory(demo_inventory: Path) -> Inventory:
    path = demo_inventory / "sites.yaml"
    data = yaml.safe_load(path.read_text())
    for site in data["sites"]:
        if site["code"] in ("alun-alun", "taman-kota"):
            site["timezone"] = "Asia/Makassar"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    inventory, problems = check_inventory(demo_inventory)
    assert not problems, problems
    return inventory


def test_wita_site_renders_local_times_and_switches_an_hour_earlier(
        demo: Inventory, demo_inventory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wita = _wita_inventory(demo_inventory)
    # Mon 23:45 UTC: 06:45 WIB (after hours) but 07:45 WITA (office hours).
    text = _render(wita, "alun-alun-gw", TUE_0645_WIB, monkeypatch)
    assert "set time-zone-name=Asia/Makassar" in text
    assert "max-limit=25M/50M name=simpul-hotspot-alun-alun" in text
    entries = _schedulers(text)
    assert any("start-time=07:30:00" in e and "WITA" in e for e in entries)
    wib = _render(demo, "alun-alun-gw", TUE_0645_WIB, monkeypatch)
    assert "max-limit=75M/150M name=simpul-hotspot-alun-alun" in wib

    linux = _render(wita, "taman-kota-gw", TUE_0645_WIB, monkeypatch)
    assert "by schedule (WITA, Asia/Makassar)" in linux
    # 07:30-16:00 WITA is 23:30 (the day before) to 08:00 UTC: cut at the UTC midnight.
    weekdays = 'meta day { "Monday", "Tuesday", "Wednesday", "Thursday", "Friday" }'
    evenings = 'meta day { "Monday", "Tuesday", "Wednesday", "Thursday", "Sunday" }'
    assert f"{weekdays} meta hour 0-28799 counter limit rate over 6250000" in linux
    assert f"{evenings} meta hour 84600-86399 counter limit rate over 6250000" in linux


def test_routeros_simulator_takes_the_hotspot_gateway_config(
        demo: Inventory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every line of the rendered config is accepted by the simulator, and /export gives
    back what was rendered (so a push is followed by `unchanged`)."""
    from lab.ssh_sim.routeros_files import handle_action, running_config
    from lab.ssh_sim.state import DeviceState

    text = _render(demo, "alun-alun-gw", TUE_1000_WIB, monkeypatch)
    device = RouterOSDevice("alun-alun-gw", DeviceState(tmp_path, "alun-alun-gw"))
    cli = RouterOSCli(device, "simpul")
    driver = PLATFORMS["mikrotik_routeros"]
    plan = driver.plan(text, "")
    for command in plan.actions:
        assert handle_action(cli, command) == "", command
    running = running_config(cli, text)
    assert "parent-queue=simpul-hotspot-alun-alun" in running
    assert "/system scheduler" in running
    assert driver.plan(text, running).actions == []
    # The simulator refuses what RouterOS refuses.
    assert "invalid value for argument start-time" in cli.handle_line(
        "/system scheduler add name=x start-time=25:00:00")
    assert "input does not match any value of policy" in cli.handle_line(
        "/system scheduler add name=y policy=read,fly")
