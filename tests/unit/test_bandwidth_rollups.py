"""Counter histories with known answers: average, p95, peak and volume across a 64-bit wrap
and a device restart, through the poller hook into the store and back out as statistics."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from controller.bandwidth.counters import Reading, counter_delta
from controller.bandwidth.rollups import RollupConsumer, rollup_hours
from controller.bandwidth.stats import compute_site_stats, load_samples, percentile_95, period_for
from controller.inventory import load_inventory
from controller.store.bandwidth import Bandwidth1h, Bandwidth5m
from controller.store.db import Store
from exporters.state import CycleReadings, DeviceReading, InterfaceReading
from tests.unit.bandwidth_helpers import write_mini

# 2026-10-06 (Tuesday) 09:00 WIB = 02:00 UTC: a round hour.
T0 = 1791252000
MB = 1_000_000
BUCKETS = 20                       # bucket k carries (k + 1) Mbit/s down, half that up
POLL_S = 60
WRAP_START = (1 << 64) - 10_000_000
RESTART_POLL = 38                  # in bucket 7; the device restarted 30 s before this poll
RESTART_UPTIME_S = 30


def rate_down(t_end: float) -> float:
    """The true download rate during the minute ending at t_end."""
    return ((t_end - 1 - T0) // 300 + 1) * MB


def history() -> list[tuple[float, int, int, float]]:
    """(time, in octets, out octets, sysUpTime s) per poll, from a 64-bit counter near wrap."""
    polls = []
    counter_in, counter_out, uptime = WRAP_START, WRAP_START // 2, 86400.0
    polls.append((float(T0), counter_in, counter_out, uptime))
    for i in range(1, BUCKETS * 5 + 1):
        t = T0 + i * POLL_S
        down = rate_down(t)
        if i == RESTART_POLL:
            counter_in = int(down * RESTART_UPTIME_S / 8)
            counter_out = int(down / 2 * RESTART_UPTIME_S / 8)
            uptime = RESTART_UPTIME_S
        else:
            counter_in = (counter_in + int(down * POLL_S / 8)) % (1 << 64)
            counter_out = (counter_out + int(down / 2 * POLL_S / 8)) % (1 << 64)
            uptime += POLL_S
        polls.append((float(t), counter_in, counter_out, uptime))
    return polls


def cycle(t: float, in_octets: int, out_octets: int, uptime: float) -> CycleReadings:
    iface = InterfaceReading(index=1, name="ether1", alias="uplink", in_octets=in_octets,
                             out_octets=out_octets, speed_bps=10**9, oper_up=True)
    other = InterfaceReading(index=2, name="ether9", alias="", in_octets=5, out_octets=5,
                             speed_bps=None, oper_up=True)
    device = DeviceReading(device="kantor-r1", site="kantor", up=True, sys_uptime_s=uptime,
                           interfaces=(iface, other), polled_at=t)
    return CycleReadings(timestamp=t, duration_s=0.1, devices={"kantor-r1": device})


@pytest.fixture
def mini(tmp_path: Path):  # type: ignore[no-untyped-def]
    return load_inventory(write_mini(tmp_path / "inv"))


def feed(store: Store, inventory, polls, restart_at: int | None = None) -> None:  # type: ignore[no-untyped-def]
    consumer = RollupConsumer(store, inventory)
    for i, (t, cin, cout, up) in enumerate(polls):
        if restart_at is not None and i == restart_at:
            consumer = RollupConsumer(store, inventory)   # the controller restarted
        consumer.on_poll(t, cycle(t, cin, cout, up).devices)


# Hand-computed: sum over k=1..20 of k Mbit/s * 300 s / 8, less the 30 s at 8 Mbit/s lost
# between the last poll and the restart.
EXPECTED_IN_BYTES = sum(k * MB * 300 // 8 for k in range(1, 21)) - 8 * MB * 30 // 8
EXPECTED_COVERED_S = 20 * 300 - 30


def test_known_history_gives_known_figures(store_url: str, mini) -> None:  # type: ignore[no-untyped-def]
    assert EXPECTED_IN_BYTES == 7_845_000_000
    store = Store(store_url)
    feed(store, mini, history())
    with store.session() as session:
        rows = session.scalars(select(Bandwidth5m).order_by(Bandwidth5m.ts)).all()
        assert [r.site for r in rows] == ["kantor"] * BUCKETS
        assert [round(r.in_bps) for r in rows] == [k * MB for k in range(1, 21)]
        assert [round(r.out_bps) for r in rows] == [k * MB // 2 for k in range(1, 21)]
        assert rows[7].covered_s == pytest.approx(270)     # the restart lost 30 s
        assert rows[2].covered_s == pytest.approx(300)     # the wrap lost nothing
        site = mini.sites["kantor"]
        period = period_for("day", date(2026, 10, 6), site.timezone)
        stats = compute_site_stats(site, period, load_samples(session, "kantor", period.start_ts,
                                                              period.end_ts), mini)
    assert stats.down.volume_bytes == EXPECTED_IN_BYTES
    assert stats.up.volume_bytes == EXPECTED_IN_BYTES // 2
    assert stats.down.avg_bps == pytest.approx(EXPECTED_IN_BYTES * 8 / EXPECTED_COVERED_S)
    assert stats.down.avg_bps == pytest.approx(10_512_562.8, abs=1)
    assert stats.down.p95_bps == pytest.approx(19 * MB)    # nearest rank: 19th of 20
    assert stats.down.peak_bps == pytest.approx(20 * MB)
    # Allocation 20M: above 16M in buckets 17..20 (4 x 5 min); 10M up: above 8M, the same.
    assert stats.down.hours_above == pytest.approx(4 * 300 / 3600)
    assert stats.up.hours_above == pytest.approx(4 * 300 / 3600)
    assert stats.observed_s == pytest.approx(EXPECTED_COVERED_S)
    store.dispose()


def test_hourly_rollup_keeps_volume_and_peak(tmp_path: Path, mini) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 's.db'}"
    from controller.store.db import migrate

    migrate(url)
    store = Store(url)
    feed(store, mini, history())
    with store.session() as session:
        rollup_hours(session, T0, T0 + 2 * 3600)
    with store.session() as session:
        hours = session.scalars(select(Bandwidth1h).order_by(Bandwidth1h.ts)).all()
        assert [h.ts for h in hours] == [T0, T0 + 3600]
        assert [h.samples for h in hours] == [12, 8]
        assert sum(h.in_bytes for h in hours) == EXPECTED_IN_BYTES
        assert hours[0].in_peak_bps == pytest.approx(12 * MB)
        assert hours[1].in_peak_bps == pytest.approx(20 * MB)
        # With the 5-minute rows gone (older than 35 days), statistics use the hourly ones.
        session.execute(Bandwidth5m.__table__.delete())
        samples = load_samples(session, "kantor", T0, T0 + 7200)
    assert [s.step_s for s in samples] == [3600, 3600]
    assert sum(s.in_bytes for s in samples) == EXPECTED_IN_BYTES
    store.dispose()


def test_controller_restart_mid_history_changes_nothing(tmp_path: Path, mini) -> None:  # type: ignore[no-untyped-def]
    from controller.store.db import migrate

    url = f"sqlite:///{tmp_path / 's.db'}"
    migrate(url)
    store = Store(url)
    feed(store, mini, history(), restart_at=52)   # mid-bucket 10
    with store.session() as session:
        total = session.scalar(select(func.sum(Bandwidth5m.in_bytes)))
        rows = session.scalars(select(Bandwidth5m).order_by(Bandwidth5m.ts)).all()
    assert total == EXPECTED_IN_BYTES
    assert round(rows[10].in_bps) == 11 * MB and rows[10].covered_s == pytest.approx(300)
    store.dispose()


def test_polls_off_the_bucket_edges_are_spread_by_time(tmp_path: Path, mini) -> None:  # type: ignore[no-untyped-def]
    from controller.store.db import migrate

    url = f"sqlite:///{tmp_path / 's.db'}"
    migrate(url)
    store = Store(url)
    rate = 8 * MB
    polls = [(T0 + 17.0 + 45 * i, int(rate * 45 * i / 8), 0, 1000.0 + 45 * i) for i in range(41)]
    feed(store, mini, polls)
    with store.session() as session:
        rows = session.scalars(select(Bandwidth5m).order_by(Bandwidth5m.ts)).all()
    full = [r for r in rows if r.covered_s == pytest.approx(300)]
    assert len(full) == 5
    assert all(r.in_bps == pytest.approx(rate, rel=1e-6) for r in full)
    assert sum(r.in_bytes for r in rows) == pytest.approx(rate * 45 * 40 / 8, abs=len(rows))
    store.dispose()


def test_counter_rules() -> None:
    def r(t: float, octets: int, uptime: float | None, bits: int = 64) -> Reading:
        return Reading("d", "i", t, octets, octets, uptime, bits)

    wrapped = counter_delta(r(0, 2**64 - 100, 50), r(60, 50, 110))
    assert wrapped is not None and wrapped.in_bytes == 150
    wrapped32 = counter_delta(r(0, 2**32 - 100, 50, 32), r(60, 50, 110, 32))
    assert wrapped32 is not None and wrapped32.in_bytes == 150
    restarted = counter_delta(r(0, 10**9, 5000), r(60, 1000, 20))
    assert restarted is not None and restarted.in_bytes == 1000 and restarted.start == 40
    # Without sysUpTime a counter going backwards on a 64-bit counter would mean an
    # impossible rate: it is a discontinuity, not traffic.
    assert counter_delta(r(0, 10**9, None), r(60, 1000, None)) is None
    assert counter_delta(r(0, 0, 1), r(7200, 10, 7201)) is None     # too long a gap
    assert percentile_95([float(v) for v in range(1, 101)]) == 95.0
    assert percentile_95([]) == 0.0


def test_retention_35_days_of_5_minutes_and_400_days_of_hours(tmp_path: Path, mini) -> None:  # type: ignore[no-untyped-def]
    from controller.store.db import migrate

    url = f"sqlite:///{tmp_path / 's.db'}"
    migrate(url)
    store = Store(url)
    feed(store, mini, history())          # 20 buckets from T0; hours roll up as time passes
    day = 86400
    consumer = RollupConsumer(store, mini)
    consumer.ingest([], now=T0 + 3 * 3600)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Bandwidth1h)) == 2
        assert session.scalar(select(func.count()).select_from(Bandwidth5m)) == BUCKETS
    consumer.ingest([], now=T0 + 36 * day)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Bandwidth5m)) == 0
        hours = session.scalars(select(Bandwidth1h)).all()
        assert sum(h.in_bytes for h in hours) == EXPECTED_IN_BYTES
    consumer.ingest([], now=T0 + 401 * day)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Bandwidth1h)) == 0
    store.dispose()


def test_rerolling_after_pruning_keeps_the_hours(tmp_path: Path, mini) -> None:  # type: ignore[no-untyped-def]
    from controller.store.db import migrate

    url = f"sqlite:///{tmp_path / 's.db'}"
    migrate(url)
    store = Store(url)
    feed(store, mini, history())
    with store.session() as session:
        rollup_hours(session, T0, T0 + 7200)
        session.execute(Bandwidth5m.__table__.delete())
    with store.session() as session:
        rollup_hours(session, T0, T0 + 7200)
        assert session.scalar(select(func.sum(Bandwidth1h.in_bytes))) == EXPECTED_IN_BYTES
    store.dispose()
