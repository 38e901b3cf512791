"""Closed months never change: after accepting setwan's 30M/15M -> 10M/5M, October's monthly
report is byte-identical (the PDF's creation date aside), with setwan still at 30/15 and
"Kurang terpakai"; the change is stored with its time and who made it. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from controller.store.accountability import AllocationChange
from controller.store.bandwidth import Bandwidth5m
from controller.store.db import Store
from tests.integration.test_report_monthly import base_env, setwan_month_rows, simpul

pytestmark = pytest.mark.integration


def report_files(env: dict[str, str], out: Path) -> dict[str, bytes]:
    simpul(env, "report", "monthly", "--month", "2026-10", "--out", str(out))
    return {ext: (out / f"laporan-bandwidth-2026-10.{ext}").read_bytes()
            for ext in ("html", "csv", "pdf")}


def without_creation_date(pdf: bytes) -> bytes:
    return re.sub(rb"/CreationDate \(D:[0-9+\-Z']+\)", b"", pdf)


def test_closed_month_unchanged_after_an_accept(store_url: str, tmp_path: Path,
                                                demo_inventory: Path) -> None:
    store = Store(store_url)
    with store.session() as session:
        session.execute(insert(Bandwidth5m), setwan_month_rows())
    env = base_env(tmp_path, store_url)
    env["SIMPUL_INVENTORY_DIR"] = str(demo_inventory)

    before = report_files(env, tmp_path / "before")
    simpul(env, "bandwidth", "accept", "setwan", "--month", "2026-10", "--allocation", "10M/5M",
           "--actor", "budi")
    assert "  allocation: 10M/5M\n" in (demo_inventory / "sites.yaml").read_text()
    after = report_files(env, tmp_path / "after")

    assert after["html"] == before["html"]
    assert after["csv"] == before["csv"]
    assert b"/CreationDate" in before["pdf"]
    assert without_creation_date(after["pdf"]) == without_creation_date(before["pdf"])
    row = {r["kode_situs"]: r for r in csv.DictReader(io.StringIO(after["csv"].decode()))}[
        "setwan"]
    assert (row["alokasi_unduh_bps"], row["alokasi_unggah_bps"], row["status"]) == (
        "30000000", "15000000", "Kurang terpakai")
    assert "Bulan sudah ditutup" in after["html"].decode()

    with store.session() as session:
        changes = session.execute(
            select(AllocationChange.allocation, AllocationChange.source, AllocationChange.actor)
            .where(AllocationChange.site == "setwan")
            .order_by(AllocationChange.at, AllocationChange.id)).all()
    assert [tuple(c) for c in changes] == [("30M/15M", "inventory", "inventory edit"),
                                           ("10M/5M", "accept", "budi")]
    store.dispose()
