"""A closed month's figures come from the store's cache and equal the computed ones exactly (the
page, the API and the report read the same); every rollup writer, an edit of an allocation in
force then, and an open month leave no stale cache. SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from unittest.mock import patch

import pytest
from sqlalchemy import delete, func, insert, select

from controller.accountability.costs import with_costs
from controller.allocation_history import SiteHistory, load_histories, site_from
from controller.bandwidth.reports import build_monthly_report, render_csv, render_html, render_pdf
from controller.bandwidth.rollups import RollupConsumer, prune, rollup_hours
from controller.bandwidth.stats import (
    Sample,
    SiteStats,
    _in_force,
    compute_regency,
    period_for,
    rank,
    regency_stats,
)
from controller.inventory import Holiday, Inventory, load_inventory
from controller.schedules import allocation_in_force, holiday_dates
from controller.store.bandwidth import Bandwidth1h, Bandwidth5m, BandwidthMonthFigures
from controller.store.db import Store
from tests.conftest import DEMO_INVENTORY
from tests.unit.bandwidth_helpers import HOLIDAYS, OFFICE_SCHEDULE, write_mini

OCTOBER = date(2026, 10, 1)
NOVEMBER_5 = datetime(2026, 11, 5, tzinfo=UTC).timestamp()   # October closed, in every zone
OCTOBER_20 = datetime(2026, 10, 20, tzinfo=UTC).timestamp()  # October still open
M = 1_000_000


def october_rows(site: str, seed: int) -> list[dict[str, object]]:
    """Every 5-minute bucket of October 2026 (WIB) for one site: office hours busy, random
    around a level per site, some buckets half covered (a restart), one hour missing."""
    rng = random.Random(seed)
    period = period_for("month", OCTOBER, "Asia/Jakarta")
    level = rng.choice([3, 8, 15, 25]) * M
    rows = []
    for ts in range(period.start_ts, period.end_ts, 300):
        local = ts + 7 * 3600
        if local // 3600 % 500 == 7:   # a gap
            continue
        office = (local // 86400 + 3) % 7 < 5 and 450 <= (local % 86400) // 60 < 960
        down = level * (rng.uniform(0.5, 1.3) if office else rng.uniform(0.02, 0.2))
        covered = 150.0 if rng.random() < 0.01 else 300.0
        rows.append({"site": site, "ts": ts, "in_bytes": int(down * covered / 8),
                     "out_bytes": int(down * 0.3 * covered / 8), "covered_s": covered})
    return rows


def computed(store: Store, inventory: Inventory, kinds: set[str] | None = None
             ) -> list[SiteStats]:
    """The month's figures computed from the rollups, bypassing the cache."""
    with store.session() as session:
        return rank(compute_regency(session, inventory, "month", OCTOBER,
                                    load_histories(session, inventory), kinds))


def stats(store: Store, inventory: Inventory, now: float = NOVEMBER_5,
          kinds: set[str] | None = None) -> list[SiteStats]:
    with store.session() as session:
        return regency_stats(session, inventory, "month", OCTOBER, kinds, now=now)


def cached_row(store: Store) -> BandwidthMonthFigures | None:
    with store.session() as session:
        return session.get(BandwidthMonthFigures, "2026-10")


def never_computed():  # type: ignore[no-untyped-def]
    return patch("controller.bandwidth.month_cache.compute_regency",
                 side_effect=AssertionError("the month was computed, not read from the cache"))


@pytest.fixture
def demo() -> Inventory:
    return load_inventory(DEMO_INVENTORY)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """October for three offices: setwan and bpbd at 5-minute resolution (and their hours),
    dinkes at hourly resolution only (its 5-minute rows pruned)."""
    store = Store(store_url)
    with store.session() as session:
        for seed, site in enumerate(("setwan", "bpbd", "dinkes")):
            session.execute(insert(Bandwidth5m), october_rows(site, seed))
        period = period_for("month", OCTOBER, "Asia/Jakarta")
        rollup_hours(session, period.start_ts, period.end_ts)
        session.execute(delete(Bandwidth5m).where(Bandwidth5m.site == "dinkes"))
    yield store
    store.dispose()


def test_a_closed_month_from_the_cache_equals_the_computed_one(store: Store,
                                                                demo: Inventory) -> None:
    first = stats(store, demo)
    assert cached_row(store) is not None
    with never_computed():
        cached = stats(store, demo)
        offices = stats(store, demo, kinds={"sopd"})
    expected = computed(store, demo)
    # repr: the same floats bit for bit, ints still ints, dates, tuples, ranks.
    assert repr(cached) == repr(first) == repr(expected)
    assert repr(offices) == repr(computed(store, demo, {"sopd"}))
    by_site = {s.site: s for s in cached}
    assert by_site["setwan"].resolution_s == 300 and by_site["dinkes"].resolution_s == 3600
    assert by_site["bpbd"].down.volume_bytes == sum(
        r["in_bytes"] for r in october_rows("bpbd", 1))  # type: ignore[misc]
    assert by_site["dinkes"].down.peak_bps > 0 and by_site["setwan"].daily
    assert by_site["setda"].observed_s == 0   # no data: cached as such


def test_the_report_from_the_cache_is_the_same_file(store: Store, demo: Inventory) -> None:
    """The monthly report's HTML, CSV and PDF (costs included) read the same figures."""
    now = datetime.fromtimestamp(NOVEMBER_5, UTC)

    def files() -> tuple[str, str, bytes]:
        with store.session() as session:
            report = with_costs(session, build_monthly_report(session, demo, OCTOBER, now=now))
        return render_html(report), render_csv(report), render_pdf(report)

    fresh = files()
    assert cached_row(store) is not None
    with never_computed():
        assert files() == fresh
    assert "setwan" in fresh[1] and "Rp " in fresh[0]


def test_an_open_month_is_computed_each_time(store: Store, demo: Inventory) -> None:
    assert repr(stats(store, demo, now=OCTOBER_20)) == repr(computed(store, demo))
    assert cached_row(store) is None


def test_an_allocation_in_force_then_changes_the_month_a_later_one_does_not(
        store: Store, demo: Inventory) -> None:
    stats(store, demo)
    # Never recorded in the history, setwan's inventory allocation stands for October too.
    edited = replace(demo, sites={**demo.sites, "setwan": site_from(
        demo.sites["setwan"], "9M/3M", [])})
    changed = {s.site: s for s in stats(store, edited)}
    assert changed["setwan"].down.allocation_bps == 9 * M
    assert repr(list(changed.values())) == repr(computed(store, edited))
    # Recorded from 2026-11-10 on (after October): October keeps the one before it.
    from controller.allocation_history import record_inventory

    with store.session() as session:
        record_inventory(session, demo, at=datetime(2026, 11, 1, tzinfo=UTC).timestamp())
        record_inventory(session, edited, at=datetime(2026, 11, 10, tzinfo=UTC).timestamp())
    stats(store, edited)
    with never_computed():
        again = {s.site: s for s in stats(store, edited)}
    assert again["setwan"].down.allocation_bps == 30 * M
    # A holiday added within October changes the schedules in force: recomputed.
    holiday = replace(demo, holidays={
        **demo.holidays, "uji": Holiday(name="Libur uji", date=date(2026, 10, 14))})
    assert repr(stats(store, holiday)) == repr(computed(store, holiday))


@pytest.fixture
def mini(tmp_path: Path) -> Inventory:
    return load_inventory(write_mini(tmp_path / "inv"))


def test_every_rollup_writer_drops_the_cached_month(store_url: str, mini: Inventory) -> None:
    """A late reading through the poller's hook, an hourly rollup and a prune."""
    from tests.unit.test_bandwidth_rollups import T0, cycle, history

    store = Store(store_url)
    polls = history()
    consumer = RollupConsumer(store, mini)
    for t, cin, cout, up in polls:
        consumer.on_poll(t, cycle(t, cin, cout, up).devices)
    before = stats(store, mini)
    assert cached_row(store) is not None and cached_row(store).uses_5m  # type: ignore[union-attr]

    # A reading that arrives late (the poller was behind) adds a bucket to October.
    t, cin, cout, up = polls[-1]
    late = RollupConsumer(store, mini)  # a restarted controller resumes from the store
    late._rolled_until = T0 + 86400   # its hours already rolled up: only the 5-minute write
    late.on_poll(t + 300, cycle(t + 300, cin + 30 * M, cout + 10 * M, up + 300).devices)
    assert cached_row(store) is None
    after = stats(store, mini)
    assert after[0].down.volume_bytes == before[0].down.volume_bytes + 30 * M
    assert repr(after) == repr(computed(store, mini))

    with store.session() as session:
        rollup_hours(session, T0, T0 + 3 * 3600)
    assert cached_row(store) is None
    hourly = stats(store, mini)
    assert repr(hourly) == repr(computed(store, mini))

    # 36 days on, the 5-minute rows are pruned: the month is read from its hours.
    with store.session() as session:
        prune(session, T0 + 36 * 86400)
        assert session.scalar(select(func.count()).select_from(Bandwidth5m)) == 0
        assert session.scalar(select(func.count()).select_from(Bandwidth1h)) > 0
    assert cached_row(store) is None
    pruned = stats(store, mini)
    assert pruned[0].resolution_s == 3600
    assert repr(pruned) == repr(computed(store, mini))
    assert not cached_row(store).uses_5m  # type: ignore[union-attr]
    with store.session() as session:   # nothing left to prune in October: the cache stays
        prune(session, T0 + 37 * 86400)
    assert cached_row(store) is not None
    store.dispose()


def test_memoised_allocations_equal_the_direct_lookup(tmp_path: Path) -> None:
    """A schedule with office hours, weekends and a holiday, an allocation change mid-month,
    two zones: each 5-minute and hourly sample's allocation as `allocation_in_force` says."""
    for tz in ("Asia/Jakarta", "Asia/Jayapura"):
        holidays = HOLIDAYS.replace("2026-12-25", "2026-10-14")
        inventory = load_inventory(write_mini(tmp_path / tz.replace("/", "-"), tz=tz,
                                              schedule=OFFICE_SCHEDULE, holidays=holidays))
        site = inventory.sites["kantor"]
        changed_at = datetime(2026, 10, 20, 3, 17, tzinfo=UTC).timestamp()
        history = SiteHistory([float("-inf"), changed_at],
                              [site, site_from(site, "40M/20M", [{
                                  "name": "malam", "days": ["mon", "tue"],
                                  "times": ["18:00-22:00"], "allocation": "10%"}])])
        period = period_for("month", OCTOBER, tz)
        for step in (300, 3600):
            samples = [Sample(ts, step, 1, 1, float(step))
                       for ts in range(period.start_ts, period.end_ts, step)]
            versions, allocs = _in_force(samples, history, holiday_dates(inventory))
            direct = [history.at(s.ts + step // 2) for s in samples]
            assert versions == direct
            assert allocs == [allocation_in_force(v, s.ts + step // 2, holiday_dates(inventory))
                              for v, s in zip(direct, samples, strict=True)]
            assert len(set(allocs)) >= 5   # own, 30%, weekend, holiday, the new version's
