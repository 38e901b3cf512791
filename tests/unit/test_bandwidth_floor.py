"""Recommendations that cannot hurt: a per-site floor (inventory, defaults by site kind) that
no recommendation goes below in any schedule window, and with each proposal the month's peak
and the hours it would have been saturated, from a store seeded with known 5-minute rollups."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from controller.bandwidth.recommend import floor_base, monthly_plan, recommend_site
from controller.bandwidth.stats import Sample, SiteStats, compute_site_stats, period_for
from controller.context import Context
from controller.inventory import Inventory, Site, check_inventory, load_inventory
from controller.inventory.yaml_lines import InventoryError
from controller.settings import Settings
from controller.store.bandwidth import Bandwidth5m, forget_month_figures
from controller.units import Allocation
from tests.unit.test_inventory import all_secrets, line_of, replace
from tests.unit.test_web_bandwidth import month_rows

M = 1_000_000
OCTOBER = date(2026, 10, 1)


def problems_of(directory: Path) -> list[str]:
    with pytest.raises(InventoryError) as caught:
        load_inventory(directory, all_secrets())
    return [str(p) for p in caught.value.problems]


def test_floors_come_from_the_kind_default_or_the_site(demo_inventory: Path) -> None:
    inventory = load_inventory(demo_inventory, all_secrets())
    assert inventory.sites["setwan"].floor == Allocation(2 * M, 1 * M)           # sopd
    assert inventory.sites["desa-tangkiling"].floor == Allocation(1 * M, 500_000)  # desa
    assert inventory.sites["rsud"].floor == Allocation(60 * M, 30 * M)        # its own
    assert inventory.sites["taman-kota"].floor is None                         # no hotspot floor
    assert inventory.sites["noc"].floor is None


def test_a_bad_floor_names_its_line(demo_inventory: Path) -> None:
    defaults = demo_inventory / "defaults.yaml"
    replace(defaults, "      desa: 1M/500k\n", "      desa: 1X/500k\n      dessa: 1M\n")
    problems = problems_of(demo_inventory)
    bad_value = line_of(defaults, "desa: 1X")
    bad_kind = line_of(defaults, "dessa:")
    # Once each, though every site reads the defaults.
    assert [p for p in problems if "floor" in p] == [
        f"{defaults}:{bad_value}: floor.desa: bad bandwidth '1X': write it like 20M or 1.5G "
        "(bits per second; units k, M, G, T)",
        f"{defaults}:{bad_kind}: floor: unknown site kind 'dessa' (expected one of noc, sopd, "
        "kecamatan, kelurahan, desa, hotspot)"]


def test_an_allocation_or_window_below_the_floor_is_refused(demo_inventory: Path) -> None:
    sites = demo_inventory / "sites.yaml"
    replace(sites, "  floor: 60M/30M\n", "  floor: 70M/30M\n")
    # setwan at 8M/4M: its weekend window (20%) would give 1.6M/800k, under the 2M/1M floor.
    replace(sites, "  cost_before_idr: 5250000   # own internet before centralising, per month\n"
            "  allocation: 30M/15M\n- code: bappeda",
            "  cost_before_idr: 5250000   # own internet before centralising, per month\n"
            "  allocation: 8M/4M\n- code: bappeda")
    problems = problems_of(demo_inventory)
    defaults = demo_inventory / "defaults.yaml"
    weekend = line_of(defaults, "- name: akhir-pekan             # weekends")
    holiday = line_of(defaults, "- name: hari-libur              # named holidays")
    rsud = line_of(sites, "  allocation: 60M/30M")
    assert sorted(problems) == sorted([
        f"{sites}:{rsud}: site 'rsud': allocation gives 60M/30M, below the site's floor "
        "70M/30M (lower the floor or raise the allocation)",
        f"{defaults}:{weekend}: site 'setwan': schedule window 'akhir-pekan' gives "
        "1600k/800k, below the site's floor 2M/1M (lower the floor or raise the allocation)",
        f"{defaults}:{holiday}: site 'setwan': schedule window 'hari-libur' gives "
        "1600k/800k, below the site's floor 2M/1M (lower the floor or raise the allocation)"])


def test_floor_base_keeps_the_floor_in_the_smallest_window() -> None:
    inventory, _ = check_inventory(Path("inventory"))
    setwan = inventory.sites["setwan"]
    # Windows 100%, 30%, 20%, 20%: 2M / 0.2 = 10M; 1M / 0.2 = 5M.
    assert floor_base(setwan) == Allocation(10 * M, 5 * M)
    kecamatan = inventory.sites["kec-sei-rungau"]      # no schedule: the floor itself
    assert floor_base(kecamatan) == Allocation(2 * M, 1 * M)
    # A 30% window and a 3M/1M floor: 3M / 0.3 = 10M; 1M / 0.3 = 3.34M, up to 4M.
    odd = setwan.model_copy(update={"floor": Allocation(3 * M, 1 * M),
                                    "schedule": setwan.schedule[:2]})
    assert floor_base(odd) == Allocation(10 * M, 4 * M)


def idle_stats(inventory: Inventory, site_code: str, rate: float
               ) -> tuple[Site, SiteStats]:
    """A month at a constant `rate` down (40% of it up)."""
    site = inventory.sites[site_code]
    period = period_for("month", OCTOBER, site.timezone)
    samples = [Sample(ts, 300, int(rate * 300 / 8), int(rate * 0.4 * 300 / 8), 300.0)
               for ts in range(period.start_ts, period.end_ts, 300)]
    return site, compute_site_stats(site, period, samples, inventory)


def test_no_office_of_the_demo_is_proposed_below_its_floor_in_any_window() -> None:
    inventory, _ = check_inventory(Path("inventory"))
    offices = [c for c, s in inventory.sites.items() if s.kind in ("sopd", "kecamatan", "desa")]
    assert len(offices) > 30
    for code in offices:
        site, stats = idle_stats(inventory, code, 0.1 * M)
        rec = recommend_site(stats, site.allocation, site)
        assert site.below_floor(rec.proposed) == [], code
        assert rec.floor == site.floor
    # Without the site (no floor known), the old cut comes back: setwan to 2M/1M, 600k after
    # hours. This is what the floor prevents.
    site, stats = idle_stats(inventory, "setwan", 0.1 * M)
    assert recommend_site(stats, site.allocation).proposed == Allocation(2 * M, 1 * M)
    assert recommend_site(stats, site.allocation, site).proposed == Allocation(10 * M, 5 * M)
    assert "held at the floor 2M/1M" in recommend_site(stats, site.allocation, site).reason


@pytest.fixture
def ctx(tmp_path: Path, demo_inventory: Path, demo_secrets: Path) -> Iterator[Context]:
    settings = Settings(data_dir=tmp_path / "data", inventory_dir=demo_inventory,
                        secrets_file=demo_secrets, allowed_hosts="testserver")
    context = Context.open(settings)
    yield context
    context.close()


def test_peak_and_hours_saturated_under_the_proposal(ctx: Context) -> None:
    """setwan (30M/15M; after hours 30%, weekends 20%) idles at 1M/0.4M, but on weekdays
    16:00-18:00 WIB it runs 4M/1M. Proposal: 10M/5M (the floor in every window). Under it
    the 16:00-18:00 window gives 3M/1.5M, so 4M is saturated: 2 h on each of October 2026's
    22 weekdays (no holiday in October) = 44 h. Under 30M/15M (9M after hours): none."""
    rows = month_rows("setwan", (1 * M, 0.4 * M), (1 * M, 0.4 * M))
    for row in rows:
        local = int(row["ts"]) + 7 * 3600  # type: ignore[call-overload]
        weekday, minute = (local // 86400 + 3) % 7, (local % 86400) // 60
        if weekday < 5 and 960 <= minute < 1080:
            row["in_bytes"], row["out_bytes"] = int(4 * M * 300 / 8), int(1 * M * 300 / 8)
    with ctx.store.session() as session:
        session.execute(insert(Bandwidth5m), rows)
        _, proposals = monthly_plan(session, ctx.inventory, OCTOBER)
    rec = next(r for r in proposals.recommendations if r.site == "setwan")
    assert (rec.action, rec.proposed) == ("reduce", Allocation(10 * M, 5 * M))
    assert (rec.peak_down_bps, rec.peak_up_bps) == (pytest.approx(4 * M), pytest.approx(1 * M))
    assert rec.saturated_hours == pytest.approx(44.0)
    assert rec.saturated_hours_now == pytest.approx(0.0)

    # Late rows for the closed month (a poller back from an outage): Saturdays 10:00-11:00 WIB
    # at 4M, above the proposal's weekend 20% (2M), below today's (6M): October 2026 has five
    # Saturdays, so 5 h more. The writer forgets the month's figures; the page's hours follow
    # (they are kept between pages only while the month's figures are).
    with ctx.store.session() as session:
        _, again = monthly_plan(session, ctx.inventory, OCTOBER)  # the kept answer
        assert next(r for r in again.recommendations if r.site == "setwan") == rec
        period = period_for("month", OCTOBER, "Asia/Jakarta")
        late = 0
        for row in session.scalars(select(Bandwidth5m).where(
                Bandwidth5m.site == "setwan", Bandwidth5m.ts >= period.start_ts,
                Bandwidth5m.ts < period.end_ts)):
            local = row.ts + 7 * 3600
            if (local // 86400 + 3) % 7 == 5 and 600 <= (local % 86400) // 60 < 660:
                row.in_bytes = int(4 * M * 300 / 8)
                late += 1
        assert late == 5 * 12
        forget_month_figures(session, period.start_ts, period.end_ts)
    with ctx.store.session() as session:
        _, later = monthly_plan(session, ctx.inventory, OCTOBER)
    rec = next(r for r in later.recommendations if r.site == "setwan")
    assert rec.proposed == Allocation(10 * M, 5 * M)
    assert rec.saturated_hours == pytest.approx(49.0)
    assert rec.saturated_hours_now == pytest.approx(0.0)
