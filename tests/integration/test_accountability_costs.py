"""Costs in rupiah against hand-computed values, on SQLite and PostgreSQL: each office's share
of every contract (largest remainder, adding up to each price), the part paid but unused
(allocation above its p95), savings against before centralising, and what a hotspot's evening
schedule gave public WiFi; and the monthly report's `_idr` columns."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import insert

from controller.accountability.costs import month_costs, month_totals, with_costs
from controller.accountability.money import idr, largest_remainder
from controller.bandwidth.reports import build_monthly_report, render_csv
from controller.bandwidth.stats import period_for
from controller.inventory import load_inventory
from controller.store.bandwidth import Bandwidth5m
from controller.store.db import Store

pytestmark = pytest.mark.integration

M = 1_000_000
SITE = """
- code: {code}
  name: {name}
  kind: {kind}
  address: Jl. Uji
  lat: -1.9
  lon: 113.7
  timezone: {tz}
  contact: {{name: Admin}}
  allocation: {alloc}
"""
INVENTORY = """
sites:
""" + SITE.format(code="noc", name="NOC", kind="noc", tz="Asia/Jakarta", alloc="1G") + \
    SITE.format(code="a", name="Kantor A", kind="sopd", tz="Asia/Jakarta", alloc="20M/10M") + \
    "  cost_before_idr: Rp 7.500.000\n" + \
    SITE.format(code="b", name="Kantor B", kind="sopd", tz="Asia/Makassar", alloc="10M/5M") + \
    "  cost_before_idr: 2000000\n" + \
    SITE.format(code="h", name="Taman", kind="hotspot", tz="Asia/Jakarta", alloc="10M/5M") + \
    """  schedule:
  - name: malam
    days: mon-sun
    times: ["18:00-24:00"]
    allocation: 300%
devices:
- {name: noc-r1, site: noc, platform: mikrotik_routeros, role: border_router,
   mgmt_address: 127.0.201.1, credentials: admin}
links:
- name: isp-satu
  a: {device: noc-r1, interface: ether1}
  b: {provider: Telkom Indonesia}
  capacity: 1G
  medium: isp
- name: isp-dua
  a: {device: noc-r1, interface: ether2}
  b: {provider: Lintasarta}
  capacity: 500M
  medium: isp
credential_profiles:
- {name: admin, username: simpul, password_secret: admin_password}
contracts:
- name: satu
  provider: Telkom Indonesia
  link: isp-satu
  capacity: 1G
  monthly_price_idr: 10000001
  sla: 99.5%
- name: dua
  provider: Lintasarta
  link: isp-dua
  capacity: 500M
  monthly_price_idr: Rp 3.000.000
  sla: 99%
"""


def write_inventory(tmp_path: Path) -> Path:
    directory = tmp_path / "inventory"
    directory.mkdir()
    (directory / "all.yaml").write_text(INVENTORY)
    return directory


def month_rows(site: str, tz: str, down_bps: int) -> list[dict[str, object]]:
    period = period_for("month", date(2026, 10, 1), tz)
    return [{"site": site, "ts": ts, "in_bytes": down_bps * 300 // 8,
             "out_bytes": down_bps * 300 // 32, "covered_s": 300.0}
            for ts in range(period.start_ts, period.end_ts, 300)]


def test_largest_remainder_adds_up_exactly() -> None:
    # 10 000 001 in 4:2:3: floors 4 444 444 / 2 222 222 / 3 333 333 leave 2 rupiah, which go
    # to the largest remainders (.889 for a, .667 for h; b's is .444).
    assert largest_remainder(10_000_001, {"a": 4, "b": 2, "h": 3}) == {
        "a": 4_444_445, "b": 2_222_222, "h": 3_333_334}
    assert largest_remainder(100, {"x": 1, "y": 1, "z": 1}) == {"x": 34, "y": 33, "z": 33}
    assert largest_remainder(5, {"x": 0}) == {"x": 0}
    assert idr(1_234_567) == "Rp 1.234.567" and idr(0) == "Rp 0" and idr(-500) == "-Rp 500"


def test_costs_match_hand_computed(store_url: str, tmp_path: Path) -> None:
    inventory = load_inventory(write_inventory(tmp_path))
    store = Store(store_url)
    with store.session() as session:
        # a: 4M all month (20% of 20M); b: no data; h: 6M all month, which is 60% of its own
        # 10M by day (18 h) and 20% of 30M in the evening (6 h): its p95 utilisation is 60%.
        session.execute(insert(Bandwidth5m), month_rows("a", "Asia/Jakarta", 4 * M)
                        + month_rows("h", "Asia/Jakarta", 6 * M))
    with store.session() as session:
        costs = month_costs(session, inventory, "2026-10")

    # Allocated download bit-seconds over October's 2 678 400 s:
    #   a 20M x 2 678 400, b 10M x 2 678 400 (its WITA month, as long),
    #   h 10M x 2 678 400 + 20M extra x 6 h x 31 days (669 600 s) -> a:b:h = 4:2:3.
    by = {s.site: s for s in costs.sites}
    assert by["a"].allocated_bit_s == 53_568_000_000_000
    assert by["b"].allocated_bit_s == 26_784_000_000_000
    assert by["h"].allocated_bit_s == 40_176_000_000_000
    assert by["h"].extra_bit_s == 13_392_000_000_000
    assert by["h"].extra_mbps_hours == 3720.0
    shares = {c.name: c.shares for c in costs.contracts}
    assert shares["satu"] == {"a": 4_444_445, "b": 2_222_222, "h": 3_333_334}
    # 3 000 000 in 4:2:3: floors 1 333 333 / 666 666 / 1 000 000, one left, to b (.667).
    assert shares["dua"] == {"a": 1_333_333, "b": 666_667, "h": 1_000_000}
    assert [by[s].allocation_cost_idr for s in "abh"] == [5_777_778, 2_888_889, 4_333_334]
    # Unused: a 5 777 778 x (1 - 0.2) = 4 622 222.4; b has no data (nothing counted);
    # h 4 333 334 x (1 - 0.6) = 1 733 333.6.
    assert [by[s].unused_cost_idr for s in "abh"] == [4_622_222, 0, 1_733_334]
    assert by["b"].p95_utilisation is None
    assert [by[s].used_cost_idr for s in "abh"] == [1_155_556, 2_888_889, 2_600_000]
    # Savings: a 7 500 000 - 5 777 778; b 2 000 000 - 2 888 889 (it costs more now).
    assert [by[s].savings_idr for s in "abh"] == [1_722_222, -888_889, None]
    # The evening's extra for public WiFi, at the month's price per allocated bit-second:
    # 13 000 001 x 13 392 / 120 528 = 13 000 001 / 9 = 1 444 444.56.
    assert costs.public_wifi_extra_idr == 1_444_445
    totals = costs.totals()
    assert (totals.month, totals.paid_idr, totals.unused_idr, totals.used_idr,
            totals.savings_idr) == ("2026-10", 13_000_001, 6_355_556, 6_644_445, 833_333)

    class Ctx:
        pass

    ctx = Ctx()
    ctx.inventory = inventory  # type: ignore[attr-defined]
    assert month_totals(ctx, store, "2026-10") == totals

    with store.session() as session:
        report = with_costs(session, build_monthly_report(session, inventory, date(2026, 10, 1)))
    rows = {r["kode_situs"]: r for r in csv.DictReader(io.StringIO(render_csv(report)))}
    assert (rows["a"]["allocation_cost_idr"], rows["a"]["unused_cost_idr"],
            rows["a"]["savings_idr"]) == ("5777778", "4622222", "1722222")
    assert rows["b"]["unused_cost_idr"] == "" and rows["b"]["savings_idr"] == "-888889"
    assert rows["h"]["schedule_extra_idr"] == "1444445"
    assert sum(int(r["allocation_cost_idr"]) for r in rows.values()) == 13_000_001
    store.dispose()


def test_a_new_price_leaves_closed_months_alone(store_url: str, tmp_path: Path) -> None:
    directory = write_inventory(tmp_path)
    path = directory / "all.yaml"
    path.write_text(path.read_text().replace("  monthly_price_idr: 10000001\n", (
        "  monthly_price_idr: 10000001\n  price_changes:\n"
        "  - {effective_from: 2026-11, monthly_price_idr: 12000000}\n"), 1))
    inventory = load_inventory(directory)
    store = Store(store_url)
    with store.session() as session:
        october = month_costs(session, inventory, "2026-10")
        november = month_costs(session, inventory, "2026-11")
    # October keeps its price (10 000 001 + 3 000 000, as before the change); November pays
    # the new one, and its shares still add up to it exactly.
    assert october.paid_idr == 13_000_001
    assert {c.name: c.price_idr for c in november.contracts} == {
        "satu": 12_000_000, "dua": 3_000_000}
    assert sum(next(c for c in november.contracts if c.name == "satu").shares.values()) == (
        12_000_000)
    store.dispose()
