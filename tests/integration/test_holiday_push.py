"""Holiday schedule pushes against the RouterOS simulator, with an injected clock: on the
holiday an office router and a MikroTik hotspot gateway get the holiday window, the day after
they get the weekly schedule back, and a second pass the same day sends nothing."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from controller.bandwidth.holiday_push import ACTOR, load_handled, run_pass
from controller.devices import PLATFORMS, build_target
from controller.devices.host_keys import known_hosts_path, trust_device
from controller.inventory import Inventory, load_inventory
from controller.secrets import SecretStore
from controller.store.db import Store, migrate
from controller.store.models import AuditLog
from controller.units import format_rate
from tests.conftest import free_port
from tests.integration.config_lab import Lab, config_commands, start_demo_lab

pytestmark = pytest.mark.integration

OFFICE, HOTSPOT_GW, LINUX_GW = "setwan-r1", "alun-alun-gw", "taman-kota-gw"
HOLIDAY_0005 = datetime(2026, 8, 16, 17, 5, tzinfo=UTC)  # 2026-08-17 00:05 WIB
HOLIDAY_NOON = datetime(2026, 8, 17, 5, 0, tzinfo=UTC)  # 12:00 WIB, same local date
DAY_AFTER_0005 = datetime(2026, 8, 17, 17, 5, tzinfo=UTC)  # 2026-08-18 00:05 WIB


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    tmp = tmp_path_factory.mktemp("holiday-push")
    lab = start_demo_lab(tmp)
    yield lab
    lab.stop()


def subset(inventory: Inventory) -> Inventory:
    """Three scheduled devices; the Linux gateway is made unreachable on purpose (a closed
    port), so a failed push and its retry on the next pass are tested too."""
    keep = {OFFICE, HOTSPOT_GW, LINUX_GW}
    devices = {n: d for n, d in inventory.devices.items() if n in keep}
    devices[LINUX_GW] = devices[LINUX_GW].model_copy(update={"mgmt_port": free_port()})
    return dataclasses.replace(inventory, devices=devices)


def running(inventory: Inventory, secrets: SecretStore, name: str, data: Path) -> str:
    device = inventory.devices[name]
    platform = PLATFORMS[device.platform]
    conn = platform.connect(build_target(inventory, device, secrets,
                                         known_hosts=known_hosts_path(data)))
    try:
        return str(platform.fetch(conn, ""))
    finally:
        conn.disconnect()


def test_holiday_pushed_then_back_then_nothing_twice(lab: Lab, tmp_path: Path) -> None:
    secrets = SecretStore.load(lab.root / "secrets.yaml")
    inventory = subset(load_inventory(lab.root / "inventory", secrets))
    url = f"sqlite:///{tmp_path / 's.db'}"
    migrate(url)
    store = Store(url)
    data = tmp_path / "data"
    for name in (OFFICE, HOTSPOT_GW):  # the engineer trusted them; the Linux one is not reached
        device = inventory.devices[name]
        trust_device(known_hosts_path(data), name, str(device.mgmt_address), device.mgmt_port)

    def one_pass(now: datetime):  # noqa: ANN202
        return asyncio.run(run_pass(inventory, secrets, store, data, now=now, concurrency=3))

    # The night before nothing is due.
    assert one_pass(datetime(2026, 8, 16, 16, 55, tzinfo=UTC)).due == []

    # Just after midnight on the holiday.
    done = one_pass(HOLIDAY_0005)
    status = {n: r.status for n, r in done.results.items()}
    assert status[OFFICE] == "changed" and status[HOTSPOT_GW] == "changed", done.results
    assert status[LINUX_GW] == "failed" and done.failed == [LINUX_GW]
    office = running(inventory, secrets, OFFICE, data)
    assert "name=simpul-setwan-hari-libur" in office
    assert "time=0s-1d,mon,tue,wed,thu,fri,sat,sun" in office
    assert "simpul-setwan-jam-kerja" not in office
    gateway = running(inventory, secrets, HOTSPOT_GW, data)
    assert "name=simpul-hotspot-alun-alun-" not in gateway  # no weekly switches on a holiday
    site = inventory.sites["alun-alun"]
    window = next(w for w in site.schedule if "holiday" in w.days)
    alloc = window.allocation.resolve(site.allocation)
    holiday_limit = f"max-limit={format_rate(alloc.up_bps)}/{format_rate(alloc.down_bps)}"
    assert any("name=simpul-hotspot-alun-alun " in line + " " and holiday_limit in line
               for line in gateway.splitlines()), gateway
    handled = load_handled(store)
    assert set(handled) == {OFFICE, HOTSPOT_GW}  # the failed one is retried next cycle
    sent = {n: config_commands(lab, n) for n in (OFFICE, HOTSPOT_GW)}

    # Later the same day (or after a restart): nothing sent again; the failed one retried.
    again = one_pass(HOLIDAY_NOON)
    assert [d.device for d in again.due] == [LINUX_GW]
    assert {n: config_commands(lab, n) for n in (OFFICE, HOTSPOT_GW)} == sent

    # The day after: the weekly schedule comes back.
    back = one_pass(DAY_AFTER_0005)
    status = {n: r.status for n, r in back.results.items()}
    assert status[OFFICE] == "changed" and status[HOTSPOT_GW] == "changed", back.results
    assert all(not d.holiday and d.reason == "holiday ends" for d in back.due)
    office = running(inventory, secrets, OFFICE, data)
    assert "simpul-setwan-hari-libur" not in office
    assert "name=simpul-setwan-jam-kerja" in office and "time=7h30m-16h,mon,tue,wed,thu,fri" \
        in office
    gateway = running(inventory, secrets, HOTSPOT_GW, data)
    assert "name=simpul-hotspot-alun-alun-mon-0730" in gateway

    with store.session() as session:
        rows = session.scalars(select(AuditLog).where(AuditLog.actor == ACTOR)).all()
        pushed = [(r.target, r.result) for r in rows if r.action == "config.push"]
    assert pushed.count((OFFICE, "changed")) == 2 and pushed.count((HOTSPOT_GW, "changed")) == 2
    store.dispose()


def test_cli_dry_run_lists_due_devices_and_sends_nothing(lab: Lab) -> None:
    before = config_commands(lab, OFFICE)
    done = lab.simpul("bandwidth", "holiday-push", "--date", "2026-08-17", "--dry-run")
    assert done.returncode == 0, done.stdout + done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith(OFFICE + " "))
    assert "2026-08-17" in line and "holiday starts" in line and line.endswith("due")
    assert "noc-core" not in done.stdout
    done = lab.simpul("bandwidth", "holiday-push", "--date", "2026-08-20", "--dry-run")
    assert done.returncode == 0 and "no device needs" in done.stdout, done.stdout
    done = lab.simpul("bandwidth", "holiday-push", "--date", "17-08-2026")
    assert done.returncode == 2 and "YYYY-MM-DD" in done.stderr
    assert config_commands(lab, OFFICE) == before
