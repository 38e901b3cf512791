"""The open month from its cached closed days (open_month.py) gives the figures worked out here
by hand from hand-made samples (the month's p95 is over every sample: no per-day p95 gives
it); today's samples count at once; an allocation, holiday or schedule change covering a cached
day, and every rollup writer, leave no stale day behind. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from unittest.mock import patch

import pytest
from sqlalchemy import insert, select

from controller.allocation_history import load_histories, record_changes
from controller.bandwidth import open_month
from controller.bandwidth.recommend import monthly_plan, saturated_hours
from controller.bandwidth.stats import (
    Sample,
    SiteStats,
    compute_regency,
    period_for,
    rank,
    regency_stats,
)
from controller.inventory import Inventory, load_inventory
from controller.store.bandwidth import Bandwidth5m, BandwidthDayPart, forget_month_figures
from controller.store.db import Store
from controller.units import Allocation
from tests.unit.bandwidth_helpers import OFFICE_SCHEDULE, write_mini

NOVEMBER = date(2026, 11, 1)  # Sunday 1, Monday 2, Tuesday 3 (WIB, UTC+7)
WIB = 7 * 3600
NOW = datetime(2026, 11, 3, 12, tzinfo=UTC).timestamp() - WIB  # Tuesday 3 noon WIB
STEP = 300_000  # bit/s: sample k runs at k * 300 kbit/s down, half that up


def day_start(day: int) -> int:
    return int(datetime(2026, 11, day, tzinfo=UTC).timestamp()) - WIB


def rows(day: int, ks: range) -> list[dict[str, object]]:
    """One 5-minute row per k from 08:00 WIB of November `day`."""
    start = day_start(day) + 8 * 3600
    return [{"site": "kantor", "ts": start + i * 300, "in_bytes": k * STEP * 300 // 8,
             "out_bytes": k * STEP * 300 // 16, "covered_s": 300.0}
            for i, k in enumerate(ks)]


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """Sunday 1: k = 1..20, Monday 2: 21..40, Tuesday 3 (today): 41..60."""
    store = Store(store_url)
    with store.session() as session:
        for day, ks in ((1, range(1, 21)), (2, range(21, 41)), (3, range(41, 61))):
            session.execute(insert(Bandwidth5m), rows(day, ks))
    yield store
    store.dispose()


def mini(tmp_path: Path, name: str, **kwargs: str) -> Inventory:
    return load_inventory(write_mini(tmp_path / name, **kwargs))


def figures(store: Store, inventory: Inventory, now: float = NOW) -> SiteStats:
    with store.session() as session:
        (kantor,) = regency_stats(session, inventory, "month", NOVEMBER, now=now)
    return kantor


def computed(store: Store, inventory: Inventory) -> SiteStats:
    """The month computed from the rollups, no cache."""
    with store.session() as session:
        (kantor,) = rank(compute_regency(session, inventory, "month", NOVEMBER,
                                         load_histories(session, inventory)))
    return kantor


def cached_days(store: Store) -> list[date]:
    with store.session() as session:
        return sorted(session.scalars(select(BandwidthDayPart.day)))


def reads(store: Store, inventory: Inventory) -> tuple[SiteStats, list[tuple[int, int]]]:
    """The figures, and the spans of 5-minute rows they read."""
    spans: list[tuple[int, int]] = []
    real = open_month._fine

    def spy(session, site, start_ts, end_ts):  # type: ignore[no-untyped-def]
        spans.append((start_ts, end_ts))
        return real(session, site, start_ts, end_ts)

    with patch.object(open_month, "_fine", spy):
        return figures(store, inventory), spans


def test_the_open_month_from_cached_days_is_worked_out_by_hand(store: Store,
                                                               tmp_path: Path) -> None:
    inventory = mini(tmp_path, "plain")  # kantor 20M/10M, no schedule
    cold, cold_spans = reads(store, inventory)
    assert cached_days(store) == [date(2026, 11, 1), date(2026, 11, 2)]  # not today
    warm, warm_spans = reads(store, inventory)
    assert cold_spans[0][0] == day_start(1)
    assert warm_spans == [(day_start(3), day_start(1) + 30 * 86400)]  # today onwards only
    assert repr(warm) == repr(cold) == repr(computed(store, inventory))
    # 60 samples, nearest rank: the 57th smallest rate (k = 57); each day's own p95 is
    # k = 19, 39, 59, so neither their maximum nor their mean is the month's.
    assert warm.down.p95_bps == 57 * STEP and warm.up.p95_bps == 57 * STEP / 2
    assert warm.down.peak_bps == 60 * STEP
    assert warm.down.volume_bytes == sum(k * STEP * 300 // 8 for k in range(1, 61))
    assert warm.down.avg_bps == pytest.approx(30.5 * STEP)
    assert warm.observed_s == 60 * 300.0
    assert warm.down.p95_utilisation == pytest.approx(57 * STEP / 20e6)
    # above 80% of 20M = 16M: k >= 54 (16.2M), seven samples of 300 s
    assert warm.down.hours_above == pytest.approx(7 * 300 / 3600)
    assert [(d.day, p95) for d, _, p95, _ in warm.daily] == [
        (1, 19 * STEP), (2, 39 * STEP), (3, 59 * STEP)]
    assert warm.daily[0][1] == pytest.approx(10.5 * STEP)


def test_todays_samples_count_at_once(store: Store, tmp_path: Path) -> None:
    inventory = mini(tmp_path, "plain")
    figures(store, inventory)
    with store.session() as session:  # the poller's next bucket, today
        session.execute(insert(Bandwidth5m), [{**rows(3, range(100, 101))[0],
                                               "ts": day_start(3) + 11 * 3600}])
    now = figures(store, inventory)
    assert now.down.peak_bps == 100 * STEP
    assert now.observed_s == 61 * 300.0
    assert now.daily[-1][0] == date(2026, 11, 3)
    assert now.daily[-1][1] == pytest.approx((sum(range(41, 61)) + 100) / 21 * STEP)
    assert repr(now) == repr(computed(store, inventory))


def test_an_allocation_recorded_over_a_cached_day_drops_it(store: Store,
                                                          tmp_path: Path) -> None:
    inventory = mini(tmp_path, "plain")
    kantor = inventory.sites["kantor"]
    with store.session() as session:
        record_changes(session, [kantor], source="inventory", actor="test",
                       at=day_start(1) - 30 * 86400)
    assert figures(store, inventory).down.p95_utilisation == pytest.approx(57 * STEP / 20e6)
    with store.session() as session:  # 40M/20M from Monday 2 on, recorded late
        record_changes(session, [kantor.model_copy(update={
            "allocation": Allocation(40_000_000, 20_000_000)})],
            source="inventory", actor="test", at=day_start(2))
    after = figures(store, inventory)
    # Sunday's k/20M (at most 0.3) and Monday's and Tuesday's k/40M: the 57th smallest is
    # Tuesday's k = 57 (a stale Monday at 20M would make it Monday's k = 37: 0.555).
    assert after.down.p95_utilisation == pytest.approx(57 * STEP / 40e6)
    assert after.down.allocation_bps == 40_000_000
    assert repr(after) == repr(computed(store, inventory))


def test_an_inventory_allocation_never_recorded_drops_every_cached_day(
        store: Store, tmp_path: Path) -> None:
    figures(store, mini(tmp_path, "plain"))
    inventory = mini(tmp_path, "plain")
    inventory.sites["kantor"] = inventory.sites["kantor"].model_copy(
        update={"allocation": Allocation(40_000_000, 20_000_000)})
    after = figures(store, inventory)
    assert after.down.p95_utilisation == pytest.approx(57 * STEP / 40e6)
    assert after.down.hours_above == 0.0  # none above 32M


def test_a_holiday_added_on_a_cached_day_drops_it(store: Store, tmp_path: Path) -> None:
    working = mini(tmp_path, "working", schedule=OFFICE_SCHEDULE)
    before = figures(store, working)
    # Sunday: weekend 5M (k*0.06: 0.06 .. 1.2); Monday and Tuesday 08:00-09:40: office
    # hours, 100% of 20M (at most 0.6, 0.9): the 57th smallest is Sunday's k = 17.
    assert before.down.p95_utilisation == pytest.approx(17 * STEP / 5e6)
    holiday = mini(tmp_path, "holiday", schedule=OFFICE_SCHEDULE, holidays=(
        "holidays:\n- name: Cuti bersama\n  date: 2026-11-02\n"))
    after = figures(store, holiday)
    # Monday a holiday: 2M, so Monday's k/2M (3.15 .. 6.0) are the largest: the 57th
    # smallest is Monday's fourth largest, k = 37.
    assert after.down.p95_utilisation == pytest.approx(37 * STEP / 2e6)
    assert repr(after) == repr(computed(store, holiday))


def test_a_schedule_change_drops_the_cached_saturated_hours(store: Store,
                                                           tmp_path: Path) -> None:
    plain = mini(tmp_path, "plain")
    with store.session() as session:  # the history keeps the plain site: only the
        record_changes(session, [plain.sites["kantor"]], source="inventory", actor="test",
                       at=day_start(1) - 30 * 86400)  # inventory's schedule changes
        monthly_plan(session, plain, NOVEMBER)
    working = mini(tmp_path, "working", schedule=OFFICE_SCHEDULE)
    with store.session() as session:
        _, uses = open_month.open_month_stats(
            session, working, [working.sites["kantor"]],
            {"kantor": period_for("month", NOVEMBER, "Asia/Jakarta")},
            load_histories(session, working), NOW)
    # at 10M/5M: Sunday's weekend window gives 5M/2M, so down k*300k > 5M (k >= 17) or up
    # k*150k > 2M (k >= 14): k = 14..20; Monday, Tuesday 100% of 10M/5M: k >= 34, 27 more
    # (without the windows: those 27 only).
    kantor = working.sites["kantor"]
    assert uses["kantor"].saturated_hours(kantor, Allocation(10_000_000, 5_000_000)) == \
        pytest.approx(34 * 300 / 3600)


def test_saturated_hours_from_samples_by_hand(tmp_path: Path) -> None:
    """The month's samples read again (a closed month) give the same hours as the parts."""
    kantor = mini(tmp_path, "working", schedule=OFFICE_SCHEDULE).sites["kantor"]
    samples = [Sample(int(r["ts"]), 300, int(r["in_bytes"]), int(r["out_bytes"]), 300.0)  # type: ignore[call-overload]
               for day, ks in ((1, range(1, 21)), (2, range(21, 41))) for r in rows(day, ks)]
    # at 10M/5M: Sunday's weekend window 5M/2M: k = 14..20; Monday 100%: k >= 34, 7 more
    assert saturated_hours(samples, kantor, Allocation(10_000_000, 5_000_000)) == \
        pytest.approx(14 * 300 / 3600)


def test_every_rollup_writer_drops_the_days_its_rows_fall_in(store: Store,
                                                            tmp_path: Path) -> None:
    inventory = mini(tmp_path, "plain")
    figures(store, inventory)
    with store.session() as session:
        forget_month_figures(session, day_start(1) + 8 * 3600, day_start(1) + 8 * 3600 + 300)
    assert cached_days(store) == [date(2026, 11, 2)]
    with store.session() as session:  # a late row on Sunday, as the writer would
        session.execute(insert(Bandwidth5m), [{**rows(1, range(100, 101))[0],
                                               "ts": day_start(1) + 20 * 3600}])
    assert figures(store, inventory).down.peak_bps == 100 * STEP
