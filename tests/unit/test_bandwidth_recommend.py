"""Recommendation rules: p95 in office hours plus 25% headroom, tidy steps, 10% dead band,
and where the freed capacity goes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from controller.bandwidth.recommend import plan, recommend_site, round_up_rate
from controller.bandwidth.stats import Sample, SiteStats, compute_site_stats, period_for
from controller.inventory import load_inventory
from controller.units import Allocation
from tests.unit.bandwidth_helpers import OFFICE_SCHEDULE, write_mini

M = 1_000_000


def test_round_up_rate_steps() -> None:
    assert round_up_rate(12.5 * M) == 13 * M
    assert round_up_rate(13 * M) == 13 * M
    assert round_up_rate(0.2 * M) == 1 * M
    assert round_up_rate(23.75 * M) == 25 * M
    assert round_up_rate(101 * M) == 110 * M


def office_stats(tmp_path: Path, down_office: float, up_office: float,
                 down_night: float = 0.2 * M) -> SiteStats:
    """A week for the 20M/10M test office: office-hours rate, and a low one otherwise."""
    inv = load_inventory(write_mini(tmp_path, schedule=OFFICE_SCHEDULE))
    site = inv.sites["kantor"]
    period = period_for("week", date(2026, 10, 5), site.timezone)
    samples = []
    for ts in range(period.start_ts, period.end_ts, 300):
        local_min = ((ts + 7 * 3600) % 86400) // 60
        weekday = ((ts + 7 * 3600) // 86400 + 3) % 7
        office = weekday < 5 and 450 <= local_min < 960
        down, up = (down_office, up_office) if office else (down_night, down_night / 2)
        samples.append(Sample(ts, 300, int(down * 300 / 8), int(up * 300 / 8), 300.0))
    return compute_site_stats(site, period, samples, inv)


def test_reduce_when_p95_plus_headroom_fits_in_less(tmp_path: Path) -> None:
    stats = office_stats(tmp_path, 10 * M, 4 * M)
    assert stats.down.p95_base_bps == pytest.approx(10 * M)
    rec = recommend_site(stats, Allocation(20 * M, 10 * M))
    assert rec.action == "reduce"
    assert rec.proposed == Allocation(13 * M, 5 * M)       # 12.5M -> 13M, 5M -> 5M
    assert rec.freed == Allocation(7 * M, 5 * M)


def test_increase_when_saturated(tmp_path: Path) -> None:
    stats = office_stats(tmp_path, 19 * M, 6 * M)
    assert stats.saturated
    rec = recommend_site(stats, Allocation(20 * M, 10 * M))
    assert rec.action == "increase"
    assert rec.proposed == Allocation(25 * M, 10 * M)      # 23.75M -> 25M; up never shrinks


def test_keep_inside_the_dead_band(tmp_path: Path) -> None:
    stats = office_stats(tmp_path, 15 * M, 7.5 * M)          # 18.75M -> 19M: within 10%
    rec = recommend_site(stats, Allocation(20 * M, 10 * M))
    assert rec.action == "keep" and rec.proposed == Allocation(20 * M, 10 * M)


def test_after_hours_traffic_does_not_lower_the_proposal(tmp_path: Path) -> None:
    # Busy evenings under a 30% after-hours allocation would lower an all-hours p95;
    # the proposal uses office hours only.
    busy = office_stats(tmp_path / "a", 10 * M, 4 * M, down_night=5.8 * M)
    quiet = office_stats(tmp_path / "b", 10 * M, 4 * M, down_night=0.1 * M)
    current = Allocation(20 * M, 10 * M)
    assert recommend_site(busy, current).proposed == recommend_site(quiet, current).proposed
    assert busy.down.hours_above > 0 and quiet.down.hours_above == 0


def test_plan_sends_the_spare_to_saturated_offices_then_hotspots(tmp_path: Path) -> None:
    idle = office_stats(tmp_path / "a", 2 * M, 1 * M)       # 20M -> 3M/2M: frees 17M/8M
    full = office_stats(tmp_path / "b", 19 * M, 6 * M)      # needs +5M/0
    hotspot = office_stats(tmp_path / "c", 19 * M, 6 * M)
    from dataclasses import replace

    stats = [replace(idle, site="idle"), replace(full, site="full"),
             replace(hotspot, site="park", kind="hotspot", name="Taman")]
    alloc = Allocation(20 * M, 10 * M)
    result = plan(stats, {"idle": alloc, "full": alloc, "park": alloc})
    assert [(r.site, r.action) for r in result.recommendations] == [
        ("idle", "reduce"), ("full", "increase")]
    assert result.freed == Allocation(17 * M, 8 * M)
    assert result.needed == Allocation(5 * M, 0)
    assert result.spare == Allocation(12 * M, 8 * M)
    assert [(d.site, d.extra) for d in result.destinations] == [
        ("full", Allocation(5 * M, 0)), ("park", Allocation(12 * M, 8 * M))]
