"""Public-WiFi reach (controller/accountability/reach.py) against hand-computed values, on
SQLite and a real PostgreSQL: sessions, distinct devices from period hashes, volume, peak
concurrency, median session length, local days and months in WIB and WITA, suppression."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from controller.accountability.reach import (
    Reach,
    close_periods,
    measure,
    peak_concurrency,
    period_bounds,
    reach,
    suppressed,
    total,
)
from controller.store.db import Store
from controller.store.portal import PortalSession
from controller.store.reach import HotspotReach

WIB, WITA = "Asia/Jakarta", "Asia/Makassar"
ZONES = {"taman": WIB, "pantai": WITA}


def wib(text: str) -> datetime:
    """A WIB wall-clock time as UTC (WIB is UTC+7, no DST)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC) - timedelta(hours=7)


def add(store: Store, hotspot: str, start: datetime, end: datetime | None, up: int, down: int,
        day_hash: str | None, month_hash: str | None) -> None:
    with store.session() as s:
        s.add(PortalSession(hotspot=hotspot, method="click_through", client_hash=day_hash,
                            month_hash=month_hash, started_at=start, last_activity_at=start,
                            expires_at=start + timedelta(hours=4), ended_at=end,
                            bytes_up=up, bytes_down=down))


def demo_day(store: Store) -> None:
    """2026-10-05 at 'taman' (WIB), by hand:
    D 10-04 23:30 - 10-05 00:30  began the day before: concurrent on the 5th, counted on the 4th
    A 08:00-09:00 (3600 s) device h1, 300 B
    B 08:30-08:55 (1500 s) device h2, 1000 B
    C 08:50-10:00 (4200 s) device h1 again, 50 B   -> A, B, C all open 08:50-08:55: peak 3
    E 23:50 - still open                device h3, 10 B
    """
    add(store, "taman", wib("2026-10-04T23:30"), wib("2026-10-05T00:30"), 7, 7, "h0", "m0")
    add(store, "taman", wib("2026-10-05T08:00"), wib("2026-10-05T09:00"), 100, 200, "h1", "m1")
    add(store, "taman", wib("2026-10-05T08:30"), wib("2026-10-05T08:55"), 400, 600, "h2", "m2")
    add(store, "taman", wib("2026-10-05T08:50"), wib("2026-10-05T10:00"), 25, 25, "h1", "m1")
    add(store, "taman", wib("2026-10-05T23:50"), None, 4, 6, "h3", "m3")


def test_a_day_by_hand(store_url: str) -> None:
    store = Store(store_url)
    demo_day(store)
    now = wib("2026-10-06T00:03")  # E has run 13 minutes = 780 s
    with store.session() as s:
        got = measure(s, "taman", "2026-10-05", WIB, now)
    # Lengths 780, 1500, 3600, 4200: the median is (1500 + 3600) / 2.
    assert got == Reach("2026-10-05", "taman", sessions=4, devices=3, bytes=300 + 1000 + 50 + 10,
                        peak_concurrency=3, median_session_s=2550, closed=True)
    with store.session() as s:
        before = measure(s, "taman", "2026-10-04", WIB, now)
    assert (before.sessions, before.devices, before.bytes, before.median_session_s) == \
        (1, 1, 14, 3600)


def test_closed_periods_are_stored_once_and_never_change(store_url: str) -> None:
    store = Store(store_url)
    demo_day(store)
    add(store, "taman", wib("2026-10-20T12:00"), wib("2026-10-20T12:10"), 1, 1, "h9", "m1")
    now = wib("2026-11-01T00:03")
    with store.session() as s:
        written = close_periods(s, ZONES.__getitem__, now)
    # Days 10-04, 10-05, 10-20 and the month 2026-10.
    assert written == 4
    with store.session() as s:
        assert close_periods(s, ZONES.__getitem__, now + timedelta(minutes=5)) == 0
        # The portal then erases the hashes and later the sessions: the figures stay.
        s.execute(update(PortalSession).values(client_hash=None, month_hash=None,
                                                bytes_up=0))
    [october] = [r for r in reach(store, "2026-10", {"taman": WIB}, now) if r.hotspot == "taman"]
    # Month: sessions D, A, B, C, E, the 20th = 6; devices m0, m1, m2, m3 = 4 (m1 on the 20th
    # again); bytes 14 + 300 + 1000 + 50 + 10 + 2; lengths 3600, 3600, 1500, 4200, 600 and E's
    # 10-05 23:50 -> 11-01 00:03 = 26 days 13 min = 2247180 s; median of six: (3600+3600)/2.
    assert october == Reach("2026-10", "taman", 6, 4, 1376, 3, 3600, closed=True)
    [day] = reach(store, "2026-10-05", {"taman": WIB}, now)
    assert (day.sessions, day.devices, day.bytes) == (4, 3, 1360)


def test_months_are_local_to_the_hotspot(store_url: str) -> None:
    """31 Oct 16:30 UTC is 23:30 WIB on 31 Oct but 00:30 WITA on 1 Nov."""
    store = Store(store_url)
    moment = datetime(2026, 10, 31, 16, 30, tzinfo=UTC)
    add(store, "taman", moment, moment + timedelta(minutes=20), 0, 0, "a", "a")
    add(store, "pantai", moment, moment + timedelta(minutes=20), 0, 0, "b", "b")
    now = datetime(2026, 11, 1, 17, 30, tzinfo=UTC)  # past midnight in both zones
    oct_ = {r.hotspot: r.sessions for r in reach(store, "2026-10", ZONES, now)}
    nov = {r.hotspot: r.sessions for r in reach(store, "2026-11", ZONES, now)}
    assert oct_ == {"pantai": 0, "taman": 1}
    assert nov == {"pantai": 1, "taman": 0}
    with store.session() as s:
        close_periods(s, ZONES.__getitem__, now)
        periods = sorted((r.hotspot, r.period) for r in s.scalars(select(HotspotReach)))
    assert periods == [("pantai", "2026-11-01"), ("taman", "2026-10"), ("taman", "2026-10-31")]


def test_bounds_and_peaks() -> None:
    start, end = period_bounds("2026-11", WITA)
    assert (start, end) == (datetime(2026, 10, 31, 16, tzinfo=UTC),
                            datetime(2026, 11, 30, 16, tzinfo=UTC))
    t = datetime(2026, 1, 1, tzinfo=UTC)
    hour = timedelta(hours=1)
    # One ends exactly when the next starts: never two at once.
    assert peak_concurrency([(t, t + hour), (t + hour, t + 2 * hour)]) == 1
    assert peak_concurrency([(t, t + 2 * hour), (t + hour, t + 3 * hour)]) == 2


def test_small_counts_are_suppressed_in_public() -> None:
    few = Reach("2026-10", "taman", sessions=12, devices=9, bytes=5_000, peak_concurrency=4,
                median_session_s=600)
    assert suppressed(few, 10) == Reach("2026-10", "taman", 12, None, None, None, None)
    many = Reach("2026-10", "taman", 40, 10, 5_000, 4, 600)
    assert suppressed(many, 10) == many
    assert total([few, many], 10, "2026-10") == Reach("2026-10", "*", 52, 19, 10_000, None,
                                                      None)
    assert total([few], 10, "2026-10").devices is None
