"""The demo's synthetic month (about 35 s to write) no longer proposes cutting the hospital
(RSUD 60M/30M -> 14M/5M) nor giving setwan 900k after hours: floors hold in every window."""

from __future__ import annotations

from datetime import date

import pytest

from controller.bandwidth.recommend import monthly_plan
from controller.bandwidth.synth import synthesize_month
from controller.context import Context
from controller.units import Allocation
from tests.unit import test_bandwidth_floor as floor_tests

pytestmark = pytest.mark.integration

M = 1_000_000
OCTOBER = date(2026, 10, 1)


ctx = floor_tests.ctx        # the demo inventory in a fresh store


def test_the_demo_month_proposes_no_cut_of_the_hospital_nor_below_a_floor(ctx: Context
                                                                          ) -> None:
    """The demo's synthetic month used to propose RSUD 60M/30M -> 14M/5M and setwan 900k
    after hours."""
    synthesize_month(ctx.store, ctx.inventory, OCTOBER)
    with ctx.store.session() as session:
        _, proposals = monthly_plan(session, ctx.inventory, OCTOBER)
    recs = {r.site: r for r in proposals.recommendations}
    assert recs["rsud"].action == "keep" and recs["rsud"].proposed == Allocation(60 * M, 30 * M)
    for rec in recs.values():
        site = ctx.inventory.sites[rec.site]
        assert site.below_floor(rec.proposed) == [], rec
        for window in site.schedule:
            given = window.allocation.resolve(rec.proposed)
            assert given.down_bps >= 1 * M, (rec.site, window.name, given)
    changed = [r for r in recs.values() if r.action != "keep"]
    assert changed and all(r.saturated_hours is not None and r.peak_down_bps > 0
                           for r in changed)
