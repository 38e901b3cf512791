"""Per-interface rollups from fixed counter readings, on SQLite and PostgreSQL: every value
below is worked out by hand from the readings (bytes per minute x minutes per bucket)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from controller.bandwidth.rollups import RollupConsumer
from controller.inventory import load_inventory
from controller.store.bandwidth import CounterState, Interface1h, Interface5m
from controller.store.db import Store
from exporters.state import CycleReadings, DeviceReading, InterfaceReading
from tests.unit.bandwidth_helpers import write_mini

T0 = 1791252000  # 2026-10-06 02:00 UTC (09:00 WIB): a round hour
IN_PER_MIN = 3_750_000    # ether9 receives 500 kbit/s: 3.75 MB a minute
OUT_PER_MIN = 375_000     # ... and sends 50 kbit/s
UP_IN_PER_MIN = 7_500_000  # ether1 (the uplink) receives 1 Mbit/s


def cycle(minute: int, speed: int | None = 100_000_000) -> CycleReadings:
    """kantor-r1 at T0 + minute: counters started at 1000 (an arbitrary base) at minute 0."""
    t = float(T0 + 60 * minute)
    ether1 = InterfaceReading(index=1, name="ether1", alias="", speed_bps=10**9, oper_up=True,
                              in_octets=1000 + UP_IN_PER_MIN * minute, out_octets=1000)
    ether9 = InterfaceReading(index=9, name="ether9", alias="", speed_bps=speed, oper_up=True,
                              in_octets=1000 + IN_PER_MIN * minute,
                              out_octets=1000 + OUT_PER_MIN * minute)
    device = DeviceReading(device="kantor-r1", site="kantor", up=True,
                           sys_uptime_s=86400.0 + 60 * minute, interfaces=(ether1, ether9),
                           polled_at=t)
    return CycleReadings(timestamp=t, duration_s=0.1, devices={"kantor-r1": device})


@pytest.fixture
def mini(tmp_path: Path):  # type: ignore[no-untyped-def]
    return load_inventory(write_mini(tmp_path / "inv"))


def rows(store: Store, table: type[Interface5m] | type[Interface1h], interface: str
         ) -> list[tuple[int, int, int, float, int | None]]:
    with store.session() as session:
        return [(r.ts - T0, r.in_bytes, r.out_bytes, r.covered_s, r.speed_bps)
                for r in session.scalars(select(table).where(table.interface == interface)
                                         .order_by(table.ts))]


def test_ten_minutes_of_polls_make_two_five_minute_rows(store_url: str, mini) -> None:  # type: ignore[no-untyped-def]
    store = Store(store_url)
    consumer = RollupConsumer(store, mini)
    for minute in range(6):
        consumer.on_poll(T0 + 60 * minute, cycle(minute).devices)
    consumer = RollupConsumer(store, mini)  # a restart: counters resume from the store
    for minute in range(6, 11):
        consumer.on_poll(T0 + 60 * minute, cycle(minute).devices)
    # 5 minutes a bucket: 5 x 3.75 MB = 18.75 MB in, 5 x 0.375 MB out, 300 s covered
    assert rows(store, Interface5m, "ether9") == [
        (0, 18_750_000, 1_875_000, 300.0, 100_000_000),
        (300, 18_750_000, 1_875_000, 300.0, 100_000_000)]
    assert rows(store, Interface5m, "ether1") == [
        (0, 37_500_000, 0, 300.0, 10**9), (300, 37_500_000, 0, 300.0, 10**9)]
    with store.session() as session:  # every interface's counters, not only the uplink's
        assert session.scalar(select(func.count()).select_from(CounterState)) == 2
    store.dispose()


def test_a_poll_across_a_bucket_edge_is_shared_by_time(store_url: str, mini) -> None:  # type: ignore[no-untyped-def]
    store = Store(store_url)
    consumer = RollupConsumer(store, mini)
    # polled 04:30 and 05:30 past T0: 3.75 MB over 60 s, 30 s in each bucket -> 1.875 MB each
    consumer.on_poll(T0 + 270, {"kantor-r1": replace(cycle(0).devices["kantor-r1"],
                                                     polled_at=T0 + 270)})
    consumer.on_poll(T0 + 330, {"kantor-r1": replace(cycle(1).devices["kantor-r1"],
                                                     polled_at=T0 + 330)})
    assert rows(store, Interface5m, "ether9") == [
        (0, 1_875_000, 187_500, 30.0, 100_000_000),
        (300, 1_875_000, 187_500, 30.0, 100_000_000)]
    store.dispose()


def test_hours_retention_and_shards(store_url: str, mini) -> None:  # type: ignore[no-untyped-def]
    store = Store(store_url)
    consumer = RollupConsumer(store, mini)
    for minute in range(11):
        # the port renegotiated to 10 Mbit/s at minute 7: the hour keeps its last speed
        consumer.on_poll(T0 + 60 * minute,
                         cycle(minute, 100_000_000 if minute < 7 else 10_000_000).devices)
    consumer.ingest([], now=T0 + 3 * 3600)
    assert rows(store, Interface5m, "ether9")[1][4] == 10_000_000
    # the hour T0: both buckets, 37.5 MB in, 3.75 MB out, 600 s covered
    assert rows(store, Interface1h, "ether9") == [(0, 37_500_000, 3_750_000, 600.0, 10_000_000)]
    consumer.ingest([], now=T0 + 36 * 86400)  # 5-minute rows are kept 35 days
    assert rows(store, Interface5m, "ether9") == []
    assert len(rows(store, Interface1h, "ether9")) == 1
    consumer.ingest([], now=T0 + 401 * 86400)  # hourly ones 400 days
    assert rows(store, Interface1h, "ether9") == []

    # A poller shard that owns only the NOC writes nothing of kantor-r1.
    shard = RollupConsumer(store, mini, owns=lambda site: site == "noc")
    for minute in range(3):
        shard.on_poll(T0 + 60 * minute, cycle(minute).devices)
    assert rows(store, Interface5m, "ether9") == []
    store.dispose()
