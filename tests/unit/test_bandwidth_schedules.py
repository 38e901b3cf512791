"""Allocation schedules: boundaries in WIB and WITA, holidays, RouterOS time= strings, and the
inventory check (overlaps, allocations beyond the uplinks) with path:line."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from controller.cli import app
from controller.inventory import check_inventory, load_inventory
from controller.schedules import allocation_in_force, holiday_dates, queue_windows, window_at
from tests.conftest import DEMO_INVENTORY
from tests.unit.bandwidth_helpers import HOLIDAYS, OFFICE_SCHEDULE, write_mini

M = 1_000_000


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize("tz, offset_h", [("Asia/Jakarta", 7), ("Asia/Makassar", 8)])
def test_office_hours_boundaries_in_local_time(tmp_path: Path, tz: str, offset_h: int) -> None:
    inv = load_inventory(write_mini(tmp_path, tz=tz, schedule=OFFICE_SCHEDULE,
                                    holidays=HOLIDAYS))
    site, holidays = inv.sites["kantor"], holiday_dates(inv)

    def at(local_day: int, hour: int, minute: int) -> str | None:
        # October 2026: the 5th is a Monday. Local time -> UTC by the zone's fixed offset.
        hours = (local_day - 5) * 24 + hour - offset_h
        when = utc(2026, 10, 5) + timedelta(hours=hours, minutes=minute)
        window = window_at(site, when, holidays)
        return window.name if window else None

    assert at(6, 7, 29) == "luar-jam-kerja"          # Tuesday 07:29 local
    assert at(6, 7, 30) == "jam-kerja"               # Tuesday 07:30 local
    assert at(9, 15, 59) == "jam-kerja"              # Friday 15:59
    assert at(9, 16, 0) == "luar-jam-kerja"          # Friday 16:00
    assert at(9, 23, 59) == "luar-jam-kerja"
    assert at(10, 0, 0) == "akhir-pekan"             # Saturday 00:00
    assert at(11, 23, 59) == "akhir-pekan"           # Sunday 23:59
    assert at(12, 0, 0) == "luar-jam-kerja"          # Monday 00:00
    down = [allocation_in_force(site, when, holidays).down_bps for when in (
        utc(2026, 10, 6, 9 - offset_h), utc(2026, 10, 6, 10), utc(2026, 10, 10, 10))]
    assert down == [20 * M, 6 * M, 5 * M]  # office hours, after hours (30% of 20M), weekend
    # The same moments as Unix times (the statistics' fast path) give the same windows.
    for hour in range(0, 7 * 24):
        when = utc(2026, 10, 5) + timedelta(hours=hour, minutes=30)
        assert window_at(site, when.timestamp(), holidays) == window_at(site, when, holidays)


def test_holiday_follows_the_local_date(tmp_path: Path) -> None:
    wita = load_inventory(write_mini(tmp_path / "wita", tz="Asia/Makassar",
                                     schedule=OFFICE_SCHEDULE, holidays=HOLIDAYS))
    wib = load_inventory(write_mini(tmp_path / "wib", tz="Asia/Jakarta",
                                    schedule=OFFICE_SCHEDULE, holidays=HOLIDAYS))
    # 2026-12-24 16:30 UTC is already 00:30 on the 25th in WITA, still the 24th (23:30) in WIB.
    moment = utc(2026, 12, 24, 16, 30)
    wita_window = window_at(wita.sites["kantor"], moment, holiday_dates(wita))
    wib_window = window_at(wib.sites["kantor"], moment, holiday_dates(wib))
    assert wita_window is not None and wita_window.name == "hari-libur"
    assert wib_window is not None and wib_window.name == "luar-jam-kerja"
    assert window_at(wita.sites["kantor"], moment.timestamp(), holiday_dates(wita)) == wita_window
    # A Friday holiday at 10:00 local: the holiday window, not office hours.
    assert allocation_in_force(wita.sites["kantor"], utc(2026, 12, 25, 2),
                               holiday_dates(wita)).down_bps == 2 * M


def test_queue_windows_are_routeros_time_strings(tmp_path: Path) -> None:
    inv = load_inventory(write_mini(tmp_path, schedule=OFFICE_SCHEDULE, holidays=HOLIDAYS))
    site = inv.sites["kantor"]
    queues = queue_windows(site, inv)
    assert [(q.name, q.time, q.max_limit) for q in queues] == [
        ("simpul-kantor-jam-kerja", "7h30m-16h,mon,tue,wed,thu,fri", "10M/20M"),
        ("simpul-kantor-luar-jam-kerja-1", "0s-7h30m,mon,tue,wed,thu,fri", "3M/6M"),
        ("simpul-kantor-luar-jam-kerja-2", "16h-1d,mon,tue,wed,thu,fri", "3M/6M"),
        ("simpul-kantor-akhir-pekan", "0s-1d,sat,sun", "2M/5M"),
    ]
    holiday = queue_windows(site, inv, today=date(2026, 12, 25))
    assert [(q.time, q.max_limit) for q in holiday] == [
        ("0s-1d,mon,tue,wed,thu,fri,sat,sun", "1M/2M")]


def _line(path: Path, needle: str) -> int:
    text = path.read_text()
    return text.count("\n", 0, text.index(needle)) + 1


def test_overlapping_windows_are_rejected_with_path_and_line(tmp_path: Path) -> None:
    schedule = OFFICE_SCHEDULE + """  - name: rapat
    days: [wed]
    times: ["15:00-17:00"]
    allocation: 50%
"""
    directory = write_mini(tmp_path, schedule=schedule)
    _, problems = check_inventory(directory)
    path = directory / "inventory.yaml"
    texts = [str(p) for p in problems]
    assert any(t.startswith(f"{path}:{_line(path, '- name: rapat')}: ") and "overlaps window "
               "'jam-kerja'" in t and "wed 15:00-17:00" in t for t in texts), texts
    assert any("overlaps window 'luar-jam-kerja'" in t for t in texts), texts


def test_bad_windows_name_the_field(tmp_path: Path) -> None:
    schedule = """  schedule:
  - name: malam
    days: [fri-mon]
    times: ["22:00-06:00"]
    allocation: lots
"""
    directory = write_mini(tmp_path, schedule=schedule)
    _, problems = check_inventory(directory)
    texts = "\n".join(str(p) for p in problems)
    assert "bad day range 'fri-mon'" in texts
    assert "split a range that crosses midnight in two" in texts
    assert "bad bandwidth 'lots'" in texts


def test_windows_beyond_the_uplinks_are_rejected(tmp_path: Path) -> None:
    schedule = OFFICE_SCHEDULE.replace("allocation: 5M/2M", "allocation: 150M/20M")
    directory = write_mini(tmp_path, schedule=schedule, uplink="100M")
    _, problems = check_inventory(directory)
    path = directory / "inventory.yaml"
    line = _line(path, "- name: akhir-pekan")
    assert [str(p) for p in problems] == [
        f"{path}:{line}: site 'kantor': schedule window 'akhir-pekan': on sat at 00:00 WIB the "
        "sites' allocations add up to 150M/20M, more than the uplinks' 100M/100M"]
    ok = write_mini(tmp_path / "ok", schedule=OFFICE_SCHEDULE, uplink="100M")
    assert check_inventory(ok)[1] == []


def test_demo_schedules_pass_the_check_and_move_capacity_after_hours() -> None:
    result = CliRunner().invoke(app, ["inventory", "check", str(DEMO_INVENTORY),
                                      "--skip-secrets"])
    assert result.exit_code == 0, result.output
    inv = load_inventory(DEMO_INVENTORY)
    holidays = holiday_dates(inv)
    office, evening = utc(2026, 10, 6, 3), utc(2026, 10, 6, 13)     # 10:00 and 20:00 WIB

    def total(kind: str, when: datetime) -> int:
        return sum(allocation_in_force(s, when, holidays).down_bps for s in inv.sites.values()
                   if s.kind == kind)

    assert total("sopd", evening) < total("sopd", office)
    assert total("hotspot", evening) == 3 * total("hotspot", office)


def test_allocation_in_force_metric_follows_the_schedule() -> None:
    from prometheus_client import CollectorRegistry

    from exporters.collectors import ScheduledAllocationCollector

    inv = load_inventory(DEMO_INVENTORY)
    clock = [utc(2026, 10, 6, 3).timestamp()]            # Tuesday 10:00 WIB
    registry = CollectorRegistry()
    registry.register(ScheduledAllocationCollector(lambda: inv, lambda: clock[0]))
    name = "simpul_site_allocation_in_force_bits_per_second"

    def value(site: str, window: str) -> float | None:
        return registry.get_sample_value(name, {"site": site, "direction": "down",
                                                "window": window})

    assert value("setda", "jam-kerja") == 40 * M
    assert value("taman-kota", "jam-kerja") == 50 * M
    assert value("noc", "") == 1000 * M
    clock[0] = utc(2026, 10, 6, 13).timestamp()           # 20:00 WIB
    assert value("setda", "luar-jam-kerja") == 12 * M
    assert value("taman-kota", "luar-jam-kerja") == 150 * M
    clock[0] = utc(2026, 12, 25, 3).timestamp()           # Christmas, 10:00 WIB
    assert value("setda", "hari-libur") == 8 * M
