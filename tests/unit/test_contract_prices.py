"""A contract's price history: each month uses the price in force then, so a new price never
changes a closed month's costs or SLA credit; a bad history is refused with path:line."""

from __future__ import annotations

from pathlib import Path

from controller.accountability.availability import Availability
from controller.accountability.sla import Subject
from controller.inventory import check_inventory, load_inventory
from tests.integration.test_accountability_sla import SLA_INVENTORY as INVENTORY

CHANGES = """  monthly_price_idr: 10000001
  price_changes:
  - effective_from: {first}
    monthly_price_idr: Rp 12.000.000
  - effective_from: {second}
    monthly_price_idr: 15000000
"""


def write(tmp_path: Path, first: str = "2026-11", second: str = "2027-03") -> Path:
    directory = tmp_path / "inventory"
    directory.mkdir()
    text = INVENTORY.replace("  monthly_price_idr: 10000001\n",
                             CHANGES.format(first=first, second=second), 1)
    (directory / "all.yaml").write_text(text)
    return directory


def test_each_month_uses_the_price_in_force_then(tmp_path: Path) -> None:
    contract = load_inventory(write(tmp_path)).contracts["satu"]
    assert [contract.price_for(m) for m in ("2026-10", "2026-11", "2027-02", "2027-03",
                                            "2030-01")] == [
        10_000_001, 12_000_000, 12_000_000, 15_000_000, 15_000_000]
    # The SLA credit is a share of that month's price: 10 % of October's 10 000 001 is
    # 1 000 000 (half up); of November's 12 000 000, 1 200 000.
    # 98 % up: below 99 % (credit 10 %), not below 98 %.
    down = Availability(period_s=100, up_s=98, down_s=2, unknown_s=0, maintenance_s=0)
    credits = [Subject("link", "isp-satu", "Telkom", "Asia/Jakarta", down, contract,
                       contract.price_for(month)).credit_idr for month in ("2026-10", "2026-11")]
    assert credits == [1_000_000, 1_200_000]


def test_a_history_out_of_order_or_not_a_month_is_refused_with_its_line(tmp_path: Path) -> None:
    _, problems = check_inventory(write(tmp_path, first="2027-03", second="2027-03"))
    text = [str(p) for p in problems]
    # all.yaml: the second change is on the line of its "- effective_from: 2027-03".
    lines = (tmp_path / "inventory" / "all.yaml").read_text().splitlines()
    second = [i for i, line in enumerate(lines, 1) if "effective_from: 2027-03" in line][1]
    assert any(f"all.yaml:{second}:" in t and "must come after 2027-03" in t for t in text), text
    other = tmp_path / "other"
    other.mkdir()
    _, problems = check_inventory(write(other, first="2026-13"))
    assert any("all.yaml:" in str(p) and "effective_from" in str(p) for p in problems), problems
