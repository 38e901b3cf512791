"""The office-bandwidth page as an engineer sees it: a month of known traffic for two offices,
the ranking, figures, flags, recommendations, accepting one (operators only), bad months."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from controller.bandwidth.stats import period_for
from controller.context import Context
from controller.settings import Settings
from controller.store.bandwidth import Bandwidth5m
from controller.store.models import AuditLog
from controller.store.users import add_user
from controller.web.app import create_admin_app
from controller.web.pages.bandwidth import last_full_month
from tests.unit.test_web import PASSWORD, log_in

M = 1_000_000
OCTOBER = "2026-10"


def month_rows(site: str, office: tuple[float, float], other: tuple[float, float]
               ) -> list[dict[str, object]]:
    """October 2026 (WIB) for one site, every 5-minute bucket present: `office` (down, up)
    bit/s Mon-Fri 07:30-16:00, `other` the rest of the time."""
    period = period_for("month", date(2026, 10, 1), "Asia/Jakarta")
    rows = []
    for ts in range(period.start_ts, period.end_ts, 300):
        local = ts + 7 * 3600
        weekday, minute = (local // 86400 + 3) % 7, (local % 86400) // 60
        down, up = office if weekday < 5 and 450 <= minute < 960 else other
        rows.append({"site": site, "ts": ts, "in_bytes": int(down * 300 / 8),
                     "out_bytes": int(up * 300 / 8), "covered_s": 300.0})
    return rows


@pytest.fixture
def ctx(tmp_path: Path, demo_inventory: Path, demo_secrets: Path) -> Iterator[Context]:
    """The demo inventory (a private copy: accepting edits it) and a month of traffic:
    setwan (30M/15M) idles at 1M/0.4M all month; bpbd (20M/10M) runs 19M/6M in office
    hours and 1M/0.4M otherwise. No other office has data."""
    context = month_context(tmp_path, demo_inventory, demo_secrets,
                            {"budi": "operator", "siti": "viewer"},
                            [*month_rows("setwan", (1 * M, 0.4 * M), (1 * M, 0.4 * M)),
                             *month_rows("bpbd", (19 * M, 6 * M), (1 * M, 0.4 * M))])
    yield context
    context.close()


def month_context(tmp_path: Path, inventory: Path, secrets: Path, users: dict[str, str],
                  rows: list[dict[str, object]]) -> Context:
    """The demo inventory (a private copy) with these users (name: role) and 5-minute rows."""
    settings = Settings(data_dir=tmp_path / "data", inventory_dir=inventory,
                        secrets_file=secrets, allowed_hosts="testserver")
    context = Context.open(settings)
    with context.store.session() as session:
        for name, role in users.items():
            add_user(session, name, PASSWORD, role, actor="test")
        session.execute(insert(Bandwidth5m), rows)
    return context


@pytest.fixture
def client(ctx: Context) -> TestClient:
    return TestClient(create_admin_app(ctx))


def row_of(page: str, element_id: str) -> str:
    match = re.search(rf'<tr id="{element_id}"[^>]*>(.*?)</tr>', page, re.S)
    assert match, f"{element_id} not on the page"
    return re.sub(r"\s+", " ", match.group(1))


def cells(row: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]


def test_ranking_figures_and_flags_match_the_month(client: TestClient, ctx: Context) -> None:
    log_in(client, "siti")
    page = client.get(f"/bandwidth?month={OCTOBER}")
    assert page.status_code == 200
    text = page.text
    assert "Bandwidth kantor" in text and 'href="/bandwidth"' in text  # nav entry

    # Busiest first, by p95 use of the allocation: bpbd (95% down, 100% up) before setwan
    # (17%); every other office has no data (0%, no volume) and follows by its code.
    others = sorted(code for code, site in ctx.inventory.sites.items()
                    if site.kind != "noc" and code not in ("bpbd", "setwan"))
    assert len(others) == len(ctx.inventory.sites) - 3
    assert re.findall(r'<tr id="site-([^"]+)"', text) == ["bpbd", "setwan", *others]

    bpbd = cells(row_of(text, "site-bpbd"))
    assert bpbd[0] == "1" and bpbd[3] == "20 / 10"
    # Average: (2244 x 19M + 6684 x 1M) / 8928 buckets = 5.52M; up (2244 x 6M + 6684 x 0.4M).
    assert bpbd[4] == "5,5 / 1,8"
    # Hand-computed: 22 weekdays x 102 office buckets above 80% of 20M: 2244 x 5 min = 187 h.
    assert bpbd[8] == "187,0 / 0,0"
    assert bpbd[5] == "19,0 / 6,0"                 # p95: office hours are a quarter of the month
    assert bpbd[9] == "95%" and bpbd[10] == "100%"
    assert "Jenuh" in bpbd[11] and "Kurang terpakai" not in bpbd[11]

    setwan = cells(row_of(text, "site-setwan"))
    assert setwan[0] == "2" and setwan[3] == "30 / 15"
    assert setwan[4] == "1,0 / 0,4"
    # 1 Mbit/s x 31 days = 1e6 x 2,678,400 s / 8 = 334.8 GB down; 0.4 Mbit/s: 133.9 GB up.
    assert setwan[7] == "334,8 / 133,9"
    # Weekends (9 of 31 days, above 5% of the month) run under 20% of 30M = 6M: 1/6.
    assert setwan[9] == "17%"
    assert "Kurang terpakai" in setwan[11] and "Jenuh" not in setwan[11]
    assert "Tidak ada data" in cells(row_of(text, "site-dinkes"))[11]


def test_recommendations_and_summary(client: TestClient) -> None:
    log_in(client, "siti")
    text = client.get(f"/bandwidth?month={OCTOBER}").text
    # setwan: p95 1M x 1.25 -> 2M, but the sopd floor 2M/1M must hold in every window, and
    # its weekends get 20%: 2M / 0.2 = 10M, 1M / 0.2 = 5M. bpbd: 19M x 1.25 = 23.75M -> 25M.
    setwan = cells(row_of(text, "rec-setwan"))
    assert setwan[1:4] == ["Kurangi", "30M/15M", "10M/5M"]
    # Peak 1.0 / 0.4 Mbit/s; floor 2M/1M; never above 10M/5M's windows (2M/1M at least).
    assert setwan[5:8] == ["1,0 / 0,4 Mbit/s", "2M/1M", "0,0 h (saat ini 0,0 h)"]
    bpbd = cells(row_of(text, "rec-bpbd"))
    assert bpbd[1:4] == ["Tambah", "20M/10M", "25M/10M"]
    assert bpbd[5] == "19,0 / 6,0 Mbit/s"
    assert re.findall(r'<tr id="rec-([^"]+)"', text) == ["bpbd", "setwan"]  # ranked
    summary = re.sub(r"<[^>]+>", " ", text[text.index('id="plan-summary"'):])
    summary = re.sub(r"\s+", " ", summary)
    assert "Dibebaskan oleh pengurangan 20M/10M" in summary
    assert "Dibutuhkan kantor yang jenuh 5M/0" in summary
    assert "Sisa untuk WiFi publik 15M/10M" in summary


def test_viewer_sees_no_accept_button_and_cannot_post(client: TestClient, ctx: Context
                                                      ) -> None:
    sites = ctx.settings.inventory_dir / "sites.yaml"
    before = sites.read_text()
    csrf = log_in(client, "siti")
    text = client.get(f"/bandwidth?month={OCTOBER}").text
    assert "/bandwidth/accept/" not in text and "Terima" not in text
    response = client.post("/bandwidth/accept/setwan", data={"csrf_token": csrf,
                                                             "month": OCTOBER})
    assert response.status_code == 403 and "tidak berwenang" in response.text
    assert sites.read_text() == before
    with ctx.store.session() as session:
        assert session.scalars(select(AuditLog).where(
            AuditLog.action == "bandwidth.accept")).all() == []


def test_operator_accepts_a_recommendation(client: TestClient, ctx: Context) -> None:
    sites = ctx.settings.inventory_dir / "sites.yaml"
    before = sites.read_text()
    csrf = log_in(client, "budi")
    text = client.get(f"/bandwidth?month={OCTOBER}").text
    assert 'action="/bandwidth/accept/setwan"' in text and "dorong konfigurasi biasa" in text
    # Without the CSRF token: refused, nothing written.
    assert client.post("/bandwidth/accept/setwan", data={"month": OCTOBER}).status_code == 403
    assert sites.read_text() == before

    # Without the confirmation (no JavaScript): a page asks first; nothing is written (#18).
    asked = client.post("/bandwidth/accept/setwan", data={"csrf_token": csrf, "month": OCTOBER},
                        follow_redirects=False)
    assert asked.status_code == 200 and 'id="confirm-question"' in asked.text
    assert "Terima rekomendasi ini?" in asked.text and sites.read_text() == before
    assert '<input type="hidden" name="month" value="2026-10">' in asked.text
    done = client.post("/bandwidth/accept/setwan", data={"csrf_token": csrf, "month": OCTOBER,
                                                         "confirmed": "yes"})
    assert done.status_code == 200, done.text
    # Post/Redirect/Get: the browser ends on a GET, so a refresh cannot accept a second time.
    assert [r.status_code for r in done.history] == [303] and done.request.method == "GET"
    refreshed = client.get(str(done.url))
    assert "Alokasi diubah di inventaris" in refreshed.text and "10M/5M" in refreshed.text
    assert "Alokasi diubah di inventaris" in done.text and "10M/5M" in done.text
    assert "+  allocation: 10M/5M" in done.text          # the diff, shown
    assert 'href="/config"' in done.text
    changed = [(a, b) for a, b in zip(before.splitlines(), sites.read_text().splitlines(),
                                      strict=True) if a != b]
    assert changed == [("  allocation: 30M/15M", "  allocation: 10M/5M")]
    with ctx.store.session() as session:
        row = session.scalars(select(AuditLog).where(
            AuditLog.action == "bandwidth.accept")).one()
    assert (row.actor, row.target, row.result) == ("budi", "site:setwan", "ok")
    assert row.detail is not None and row.detail["to"] == "10M/5M"
    # October is closed: its figures and plan keep the allocation in force then (30M/15M),
    # and the recommendation now shows as in force, with nothing more to accept.
    assert 'id="in-force-setwan"' in done.text
    assert 'action="/bandwidth/accept/setwan"' not in done.text
    assert cells(row_of(done.text, "site-setwan"))[3] == "30 / 15"
    again = client.post("/bandwidth/accept/setwan", data={"csrf_token": csrf, "month": OCTOBER,
                                                          "confirmed": "yes"})
    assert again.status_code == 409

    # The language switch on the result page goes back to the page, not to a 405.
    switched = client.get("/lang/en?next=/bandwidth/accept/setwan")
    assert switched.status_code == 200 and "Office bandwidth" in switched.text
    client.get("/lang/id?next=/bandwidth")

    again = client.post("/bandwidth/accept/setwan", data={"csrf_token": csrf,
                                                          "month": OCTOBER, "confirmed": "yes"})
    assert again.status_code == 409
    assert "Tidak ada perubahan yang direkomendasikan" in again.text
    with ctx.store.session() as session:
        assert len(session.scalars(select(AuditLog).where(
            AuditLog.action == "bandwidth.accept")).all()) == 1


def test_bad_month_is_a_clear_bilingual_error_and_changes_nothing(
        client: TestClient, ctx: Context) -> None:
    sites = ctx.settings.inventory_dir / "sites.yaml"
    before = sites.read_text()
    csrf = log_in(client, "budi")
    for bad in ("2026-13", "oktober", "2026-1"):
        page = client.get("/bandwidth", params={"month": bad})
        assert page.status_code == 422
        assert "Bulan: tulis sebagai TTTT-BB" in page.text
        assert 'id="ranking"' not in page.text and 'id="downloads"' not in page.text
    posted = client.post("/bandwidth/accept/setwan", data={"csrf_token": csrf,
                                                           "month": "2026-13"})
    assert posted.status_code == 422 and "Bulan: tulis sebagai TTTT-BB" in posted.text
    assert sites.read_text() == before
    client.get("/lang/en?next=/bandwidth")
    page = client.get("/bandwidth", params={"month": "2026-13"})
    assert page.status_code == 422
    assert "Month: write it as YYYY-MM, for example 2026-10." in page.text


def test_english_version_renders(client: TestClient) -> None:
    log_in(client, "budi")
    client.get("/lang/en?next=/bandwidth")
    text = client.get(f"/bandwidth?month={OCTOBER}").text
    assert "Office bandwidth" in text and "Bandwidth kantor" not in text
    assert "Saturated" in text and "Under-used" in text and "Accept" in text
    assert cells(row_of(text, "site-bpbd"))[8] == "187.0 / 0.0"
    assert cells(row_of(text, "rec-setwan"))[1] == "Reduce"
    assert "Spare for public WiFi" in text


def test_no_data_month_says_how_to_fill_it(client: TestClient) -> None:
    log_in(client, "siti")
    page = client.get("/bandwidth?month=2025-01")
    assert page.status_code == 200
    assert "Belum ada angka lalu lintas untuk bulan ini" in page.text
    assert "simpul bandwidth synth --month 2025-01" in page.text
    assert 'id="ranking"' not in page.text


def test_default_month_is_the_last_full_one(client: TestClient, ctx: Context) -> None:
    wib = ZoneInfo("Asia/Jakarta")
    assert last_full_month(ctx.inventory, datetime(2027, 1, 1, 0, 30, tzinfo=wib)) == \
        date(2026, 12, 1)
    assert last_full_month(ctx.inventory, datetime(2026, 11, 30, 23, 0, tzinfo=wib)) == \
        date(2026, 10, 1)
    log_in(client, "siti")
    page = client.get("/bandwidth")
    assert page.status_code == 200
    expected = last_full_month(ctx.inventory)
    assert f'name="month" value="{expected:%Y-%m}"' in page.text


def test_report_downloads_work_with_the_session_cookie(client: TestClient) -> None:
    log_in(client, "siti")
    text = client.get(f"/bandwidth?month={OCTOBER}").text
    by_format = {fmt: href.replace("&amp;", "&") for href, fmt in
                 re.findall(r'href="([^"]+)" id="report-(html|csv|pdf)"', text)}
    assert set(by_format) == {"html", "csv", "pdf"}
    csv = client.get(by_format["csv"])
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "setwan" in csv.text and "bpbd" in csv.text
    pdf = client.get(by_format["pdf"])
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    html = client.get(by_format["html"])
    assert html.status_code == 200 and "Laporan Bulanan" in html.text
