"""Availability and SLA against hand-computed values, on SQLite and PostgreSQL: a month in the
regency's zone (WIB) and a site's own (WITA), outages across the month's start, time without
data and planned maintenance left out of the base, the credit band reached and its rupiah;
state changes recorded as runs (N bad samples in a row), not samples."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from controller.accountability.availability import StateRecorder
from controller.accountability.sla import build_sla_report, render_csv, render_html
from controller.inventory import load_inventory
from controller.store.accountability import AvailabilityRun
from controller.store.db import Store
from tests.integration.test_accountability_costs import INVENTORY

pytestmark = pytest.mark.integration

SLA_INVENTORY = INVENTORY.replace("  sla: 99.5%\n", """  sla: 99.5%
  credits:
  - {below: 99.5%, credit: 5%}
  - {below: 99%, credit: 10%}
  - {below: 98%, credit: 20%}
""", 1) + """maintenance:
- name: pemeliharaan
  start: 2026-10-18 01:00
  end: 2026-10-18 03:00
  timezone: Asia/Jakarta
  links: [isp-satu]
"""


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def run(kind: str, subject: str, state: str, start: str, end: str) -> dict[str, object]:
    return {"kind": kind, "subject": subject, "state": state, "start_ts": ts(start),
            "end_ts": ts(end)}


def october_runs() -> list[dict[str, object]]:
    """isp-satu, and sites a (WIB) and b (WITA), around October 2026 (UTC times)."""
    return [
        # isp-satu; October in WIB is [09-30 17:00Z, 10-31 17:00Z), 2 678 400 s.
        run("link", "isp-satu", "up", "2026-09-29 00:00", "2026-09-30 16:00"),
        run("link", "isp-satu", "down", "2026-09-30 16:00", "2026-09-30 18:00"),  # 1 h in Oct
        run("link", "isp-satu", "up", "2026-09-30 18:00", "2026-10-10 00:00"),
        # no data 10-10 00:00Z-06:00Z: 21 600 s unknown
        run("link", "isp-satu", "up", "2026-10-10 06:00", "2026-10-17 10:00"),
        # down 9 h; maintenance 10-18 01:00-03:00 WIB = 10-17 18:00Z-20:00Z takes 1 h
        run("link", "isp-satu", "down", "2026-10-17 10:00", "2026-10-17 19:00"),
        run("link", "isp-satu", "up", "2026-10-17 19:00", "2026-11-02 00:00"),
        # the same runs for a WIB site (a) and a WITA site (b): WITA's October starts
        # an hour earlier (09-30 16:00Z), so only b's month holds the outage's last hour.
        *(run("site", code, state, a, b) for code in ("a", "b") for state, a, b in (
            ("down", "2026-09-30 15:00", "2026-09-30 17:00"),
            ("up", "2026-09-30 17:00", "2026-10-31 16:30")))
    ]


def test_availability_sla_and_credit_match_hand_computed(store_url: str,
                                                         tmp_path: Path) -> None:
    directory = tmp_path / "inventory"
    directory.mkdir()
    (directory / "all.yaml").write_text(SLA_INVENTORY)
    inventory = load_inventory(directory)
    store = Store(store_url)
    with store.session() as session:
        session.execute(insert(AvailabilityRun), october_runs())
    with store.session() as session:
        report = build_sla_report(session, inventory, "2026-10", down_after=3)

    link = next(s for s in report.links if s.code == "isp-satu")
    a = link.availability
    assert (a.period_s, a.maintenance_s, a.unknown_s, a.down_s, a.up_s) == (
        2_678_400, 7_200, 21_600, 3_600 + 28_800, 2_617_200)
    # 2 617 200 / 2 649 600 = 98.777 %: below 99 % (10 %), not below 98 %.
    assert a.percent == pytest.approx(98.77717391304348)
    assert link.met is False and link.credit_percent == 10.0
    assert link.credit_idr == 1_000_000            # 10 % of 10 000 001, whole rupiah
    assert [(o.start_ts, o.end_ts) for o in a.outages] == [
        (ts("2026-09-30 17:00"), ts("2026-09-30 18:00")),
        (ts("2026-10-17 10:00"), ts("2026-10-17 19:00"))]
    other = next(s for s in report.links if s.code == "isp-dua")
    assert other.availability.percent is None and other.met is None and other.credit_idr == 0

    sites = {s.code: s for s in report.sites}
    wib, wita = sites["a"].availability, sites["b"].availability
    # a (WIB): none of the outage; up to 10-31 16:30Z, then 1 800 s without data.
    assert (wib.down_s, wib.unknown_s, wib.up_s, wib.percent) == (0, 1_800, 2_676_600, 100.0)
    # b (WITA): the outage's hour 16:00Z-17:00Z is its October's first.
    assert (wita.down_s, wita.unknown_s, wita.up_s) == (3_600, 0, 2_674_800)
    assert wita.percent == pytest.approx(100 * 2_674_800 / 2_678_400)
    assert sites["b"].local(wita.outages[0].start_ts) == "2026-10-01 00:00"

    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    satu = next(r for r in rows if r["jenis"] == "link" and r["kode"] == "isp-satu")
    assert (satu["sla_credit_idr"], satu["sla_terpenuhi"], satu["kredit_pct"]) == (
        "1000000", "tidak", "10")
    evidence = [r for r in rows if r["jenis"] == "gangguan-link"]
    assert [(r["gangguan_mulai"], r["gangguan_selesai"], r["gangguan_detik"])
            for r in evidence] == [("2026-10-01 00:00 WIB", "2026-10-01 01:00 WIB", "3600"),
                                   ("2026-10-17 17:00 WIB", "2026-10-18 02:00 WIB", "32400")]
    page = render_html(report)
    assert "Rp 1.000.000" in page and "3 sampel berturut-turut" in page
    assert "2026-10-01 00:00 WITA" in page
    store.dispose()


def test_state_changes_are_runs_after_n_bad_samples(store_url: str) -> None:
    store = Store(store_url)
    recorder = StateRecorder(down_after=3)
    # Every 60 s: good, two bad (a blip: stays up), good, four bad (down from the first),
    # good again; then a 20-minute silence (no data) and one good sample.
    samples = [False, True, True, False, True, True, True, True, False]
    with store.session() as session:
        for i, bad in enumerate(samples):
            recorder.sample(session, "link", "isp", 1000 + 60 * i, bad)
        recorder.sample(session, "link", "isp", 1000 + 60 * 8 + 1200, False)
    with store.session() as session:
        runs = session.execute(select(AvailabilityRun.state, AvailabilityRun.start_ts,
                                      AvailabilityRun.end_ts)
                               .order_by(AvailabilityRun.start_ts, AvailabilityRun.id)).all()
    assert [tuple(r) for r in runs] == [("up", 1000, 1240), ("down", 1240, 1480),
                                        ("up", 1480, 1480), ("up", 2680, 2680)]
    store.dispose()
