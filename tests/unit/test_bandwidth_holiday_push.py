"""Which devices need a holiday schedule push at a UTC instant, in their site's own zone."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from controller.bandwidth.holiday_push import (
    Due,
    Handled,
    dated_site,
    due_devices,
    holiday_push_loop,
    load_handled,
    save_handled,
    scheduled_devices,
)
from controller.inventory import DAYS, Inventory, load_inventory
from controller.schedules import queue_windows
from controller.store.db import Store, migrate
from tests.conftest import ROOT

HOLIDAY = date(2026, 8, 17)  # Hari Kemerdekaan RI


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory(ROOT / "inventory")


def with_zone(inventory: Inventory, site: str, zone: str) -> Inventory:
    sites = dict(inventory.sites)
    sites[site] = sites[site].model_copy(update={"timezone": zone})
    return dataclasses.replace(inventory, sites=sites)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def names(due: list[Due]) -> set[str]:
    return {d.device for d in due}


def test_scheduled_devices_are_office_routers_and_hotspot_gateways(inventory: Inventory
                                                                   ) -> None:
    found = scheduled_devices(inventory)
    assert found["setwan-r1"].code == "setwan"
    assert found["alun-alun-gw"].code == "alun-alun"
    assert found["taman-kota-gw"].code == "taman-kota"
    assert "noc-core" not in found and "noc-border" not in found


def test_holiday_starts_at_local_midnight_wib(inventory: Inventory) -> None:
    # 2026-08-16 16:55 UTC is 23:55 WIB: still the day before.
    assert due_devices(inventory, utc("2026-08-16T16:55:00"), {}) == []
    due = due_devices(inventory, utc("2026-08-16T17:05:00"), {})  # 00:05 WIB
    by_name = {d.device: d for d in due}
    assert {"setwan-r1", "alun-alun-gw", "taman-kota-gw"} <= set(by_name)
    assert by_name["setwan-r1"] == Due("setwan-r1", "setwan", HOLIDAY, True, "holiday starts")
    assert set(by_name) == set(scheduled_devices(inventory))


def test_wita_site_moves_an_hour_before_wib(inventory: Inventory) -> None:
    inv = with_zone(inventory, "setwan", "Asia/Makassar")
    due = due_devices(inv, utc("2026-08-16T16:05:00"), {})  # 00:05 WITA, 23:05 WIB
    assert names(due) == {"setwan-r1"}
    assert due[0].local_date == HOLIDAY and due[0].holiday
    # The day after, in WITA: 2026-08-17 16:05 UTC is 00:05 on the 18th.
    handled = {"setwan-r1": Handled(HOLIDAY, True)}
    due = due_devices(inv, utc("2026-08-17T16:05:00"), handled)
    assert [(d.device, d.local_date, d.holiday, d.reason) for d in due
            if d.device == "setwan-r1"] == [
        ("setwan-r1", date(2026, 8, 18), False, "holiday ends")]
    # ... while WIB sites are still on the holiday (23:05 WIB on the 17th).
    assert ("bappeda-r1", HOLIDAY, True) in [(d.device, d.local_date, d.holiday) for d in due]


def test_day_after_pushes_back_even_without_a_record(inventory: Inventory) -> None:
    due = due_devices(inventory, utc("2026-08-17T17:30:00"), {})  # 00:30 WIB on the 18th
    assert "setwan-r1" in names(due)
    assert all(not d.holiday and d.reason == "holiday ends" for d in due)


def test_ordinary_day_pushes_nothing(inventory: Inventory) -> None:
    assert due_devices(inventory, utc("2026-08-20T03:00:00"), {}) == []
    handled = {name: Handled(date(2026, 8, 18), False) for name in scheduled_devices(inventory)}
    assert due_devices(inventory, utc("2026-08-19T17:05:00"), handled) == []


def test_already_handled_today_is_not_pushed_again(inventory: Inventory) -> None:
    handled = {"setwan-r1": Handled(HOLIDAY, True)}
    due = due_devices(inventory, utc("2026-08-17T09:00:00"), handled)
    assert "setwan-r1" not in names(due) and "bappeda-r1" in names(due)


def test_missed_transition_is_caught_up_and_consecutive_holidays_are_one(
        inventory: Inventory) -> None:
    # Down from the holiday until two days after: the holiday config is still there.
    handled = {"setwan-r1": Handled(HOLIDAY, True)}
    due = due_devices(inventory, utc("2026-08-20T05:00:00"), handled)
    assert [(d.device, d.holiday) for d in due if d.device == "setwan-r1"] == [
        ("setwan-r1", False)]
    # Cuti bersama Natal (24th) then Natal (25th): nothing to change on the 25th.
    handled = {"setwan-r1": Handled(date(2026, 12, 24), True)}
    due = due_devices(inventory, utc("2026-12-24T17:05:00"), handled)
    assert "setwan-r1" not in names(due)


def test_dated_site_renders_like_a_render_on_the_date(inventory: Inventory) -> None:
    site = inventory.sites["setwan"]
    holiday = dated_site(site, True)
    assert [w.name for w in holiday.schedule] == ["hari-libur"]
    assert holiday.schedule[0].days == DAYS
    assert queue_windows(holiday) == queue_windows(site, inventory, HOLIDAY)
    ordinary = dated_site(site, False)
    assert queue_windows(ordinary) == queue_windows(site, inventory, date(2026, 8, 18))
    assert all("holiday" not in w.days for w in ordinary.schedule)


def test_handled_dates_persist_in_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    migrate(url)
    store = Store(url)
    now = utc("2026-08-16T17:05:00")
    save_handled(store, Due("setwan-r1", "setwan", HOLIDAY, True, "holiday starts"), now)
    save_handled(store, Due("setwan-r1", "setwan", date(2026, 8, 18), False, "holiday ends"),
                 now)
    assert load_handled(store) == {"setwan-r1": Handled(date(2026, 8, 18), False)}
    store.dispose()


def test_loop_is_off_by_setting_and_survives_a_failing_pass(
        caplog: pytest.LogCaptureFixture) -> None:
    off = SimpleNamespace(settings=SimpleNamespace(schedule_push=False))
    asyncio.run(asyncio.wait_for(holiday_push_loop(off), 5))  # returns at once

    class Broken:
        calls = 0

        def session(self) -> None:
            Broken.calls += 1
            raise RuntimeError("database is locked")

    ctx = SimpleNamespace(settings=SimpleNamespace(schedule_push=True, data_dir=Path("/x"),
                                                   templates_dir=None, push_concurrency=1),
                          inventory=None, secrets=None, store=Broken())

    async def two_cycles() -> None:
        task = asyncio.create_task(holiday_push_loop(
            ctx, clock=lambda: utc("2026-08-16T17:05:00"), cycle_s=0.01,
            initial_delay_s=0))
        while Broken.calls < 2:
            await asyncio.sleep(0.01)
        task.cancel()

    with caplog.at_level(logging.ERROR, "simpul.bandwidth.holiday_push"):
        asyncio.run(asyncio.wait_for(two_cycles(), 10))
    assert "retried next cycle" in caplog.text
