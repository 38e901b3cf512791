"""The monthly report for the command centre, in Bahasa Indonesia: HTML with inline SVG
charts, CSV and PDF, from the store alone."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from controller.allocation_history import load_histories
from controller.bandwidth.charts import bar_chart, line_chart
from controller.bandwidth.recommend import Plan, Recommendation, plan
from controller.bandwidth.stats import BUSY_RATIO, SiteStats, allocations_of, regency_stats
from controller.inventory import TZ_ABBREV, Inventory, Site
from controller.units import Allocation, format_idr

MONTHS_ID = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
             "September", "Oktober", "November", "Desember")
KIND_ID = {"sopd": "SOPD", "kecamatan": "Kecamatan", "kelurahan": "Kelurahan", "desa": "Desa",
           "hotspot": "Hotspot publik", "noc": "NOC"}
ACTION_ID = {"reduce": "Kurangi", "increase": "Tambah", "keep": "Tetap"}
TEMPLATES = Path(__file__).parent / "templates"


def number_id(value: float, decimals: int = 1) -> str:
    """Indonesian number format: 1.234,5."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


def rate_id(bps: float) -> str:
    return f"{number_id(bps / 1e6)} Mbit/s"


def allocation_id(alloc: Allocation) -> str:
    return f"{number_id(alloc.down_bps / 1e6, 0)}/{number_id(alloc.up_bps / 1e6, 0)} Mbit/s"


def volume_id(octets: float) -> str:
    if octets >= 1e12:
        return f"{number_id(octets / 1e12, 2)} TB"
    return f"{number_id(octets / 1e9, 1)} GB"


def status_id(stats: SiteStats) -> str:
    if stats.observed_s <= 0:
        return "Tidak ada data"
    if stats.saturated:
        return "Jenuh"
    if stats.under_used:
        return "Kurang terpakai"
    return "Normal"


@dataclass(frozen=True)
class MonthlyReport:
    month: date
    generated_at: datetime
    inventory: Inventory
    stats: list[SiteStats]            # every site but the NOC, ranked
    plan: Plan
    only: str | None = None           # one site's own report (sent to that office)
    # Each site as it stood when the month closed (allocation, schedule): never today's.
    sites: dict[str, Site] = field(default_factory=dict)
    # Money per site and for the regency, in whole rupiah (given by the accountability
    # service; absent without ISP contracts): site -> {csv column: amount}, and summary lines.
    money: dict[str, dict[str, str | int]] = field(default_factory=dict)
    money_columns: tuple[str, ...] = ()
    money_summary: list[tuple[str, str]] = field(default_factory=list)

    @property
    def closed(self) -> bool:
        """The month is over everywhere: its report is the same whenever it is made."""
        return bool(self.stats) and all(
            s.period.end_ts <= self.generated_at.timestamp() for s in self.stats)

    def site(self, code: str) -> Site:
        return self.sites.get(code) or self.inventory.sites[code]

    @property
    def title(self) -> str:
        title = f"Laporan Bulanan Pemakaian Bandwidth: {MONTHS_ID[self.month.month - 1]} " \
                f"{self.month.year}"
        return f"{title}, {self.sections[0].name}" if self.only and self.sections else title

    @property
    def slug(self) -> str:
        slug = f"laporan-bandwidth-{self.month.year}-{self.month.month:02d}"
        return f"{slug}-{self.only}" if self.only else slug

    @property
    def sections(self) -> list[SiteStats]:
        """The sites that get a section of their own: every SOPD, or the one site."""
        if self.only:
            return [s for s in self.stats if s.site == self.only]
        return self.sopd

    @property
    def sopd(self) -> list[SiteStats]:
        return [s for s in self.stats if s.kind == "sopd"]

    def recommendation(self, site: str) -> Recommendation | None:
        return next((r for r in self.plan.recommendations if r.site == site), None)


def build_monthly_report(session: Session, inventory: Inventory, month: date,
                         now: datetime | None = None, only: str | None = None
                         ) -> MonthlyReport:
    """The regency's report, or with `only` one site's (ranked among all the same)."""
    if only is not None and (only not in inventory.sites or
                             inventory.sites[only].kind == "noc"):
        raise ValueError(f"unknown site {only!r} (the NOC has no report of its own)")
    stats = regency_stats(session, inventory, "month", month)
    histories = load_histories(session, inventory, [s.site for s in stats])
    sites = {s.site: histories[s.site].at(s.period.end_ts - 1) for s in stats}
    return MonthlyReport(month=month, generated_at=now or datetime.now(UTC),
                         inventory=inventory, stats=stats,
                         plan=plan(stats, allocations_of(stats), inventory.sites),
                         only=only, sites=sites)


# --------------------------------------------------------------------------- charts


def site_chart(stats: SiteStats) -> str:
    days = [d for d, *_ in stats.daily]
    return line_chart(
        [("Rata-rata harian", "#2e86c1", [avg for _, avg, _, _ in stats.daily], False),
         ("P95 harian", "#e67e22", [p95 for _, _, p95, _ in stats.daily], False),
         ("Alokasi (siang)", "#c0392b", [a for *_, a in stats.daily], True)],
        [str(d.day) for d in days], unit="Mbit/s (unduh)",
        title=f"{stats.name}: unduh per hari")


def ranking_chart(report: MonthlyReport) -> str:
    items = []
    for s in sorted(report.sopd, key=lambda s: -s.utilisation):
        colour = "#c0392b" if s.saturated else "#7f8c8d" if s.under_used else "#2e86c1"
        items.append((s.name, s.utilisation * 100, colour))
    return bar_chart(items, unit="% alokasi (P95 utilisasi)", marks=[(30.0, "30%"), (90.0, "90%")],
                     title="Utilisasi P95 per SOPD")


# --------------------------------------------------------------------------- writers


def render_html(report: MonthlyReport) -> str:
    # The template is monthly_report.html.j2: the default extensions (html, htm, xml) would
    # not match it, and inventory text (site names) must never become markup.
    env = Environment(loader=FileSystemLoader(TEMPLATES),
                      autoescape=select_autoescape(("html", "html.j2"), default=True))
    env.filters.update(rate=rate_id, volume=volume_id, num=number_id, alloc=allocation_id)
    template = env.get_template("monthly_report.html.j2")
    return template.render(
        r=report, MONTHS_ID=MONTHS_ID, KIND_ID=KIND_ID, ACTION_ID=ACTION_ID,
        TZ_ABBREV=TZ_ABBREV, status=status_id, site_chart=site_chart,
        ranking_chart=ranking_chart(report), busy_pct=int(BUSY_RATIO * 100),
        money_label=MONEY_LABELS_ID, money_cell=_money_cell,
        uplink=report.inventory.uplink_capacity())


CSV_COLUMNS = (
    "bulan", "peringkat", "kode_situs", "nama", "jenis", "zona_waktu",
    "alokasi_unduh_bps", "alokasi_unggah_bps",
    "rata2_unduh_bps", "p95_unduh_bps", "puncak_unduh_bps", "volume_unduh_byte",
    "jam_di_atas_80pct_unduh",
    "rata2_unggah_bps", "p95_unggah_bps", "puncak_unggah_bps", "volume_unggah_byte",
    "jam_di_atas_80pct_unggah",
    "p95_utilisasi", "cakupan_data", "resolusi_detik", "status",
    "usulan_unduh_bps", "usulan_unggah_bps", "tindakan",
)


def render_csv(report: MonthlyReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS + report.money_columns)
    month = f"{report.month.year}-{report.month.month:02d}"
    for s in report.stats:
        if report.only and s.site != report.only:
            continue
        site = report.inventory.sites[s.site]
        rec = report.recommendation(s.site)
        writer.writerow([
            month, s.rank, s.site, s.name, s.kind, TZ_ABBREV[site.timezone],
            s.down.allocation_bps, s.up.allocation_bps,
            round(s.down.avg_bps), round(s.down.p95_bps), round(s.down.peak_bps),
            s.down.volume_bytes, f"{s.down.hours_above:.2f}",
            round(s.up.avg_bps), round(s.up.p95_bps), round(s.up.peak_bps),
            s.up.volume_bytes, f"{s.up.hours_above:.2f}",
            f"{s.utilisation:.4f}", f"{s.coverage:.4f}", s.resolution_s, status_id(s),
            rec.proposed.down_bps if rec else "", rec.proposed.up_bps if rec else "",
            ACTION_ID[rec.action] if rec else "",
            *(report.money.get(s.site, {}).get(c, "") for c in report.money_columns),
        ])
    return out.getvalue()


MONEY_LABELS_ID = {
    "allocation_cost_idr": "Biaya alokasi", "unused_cost_idr": "Dibayar tapi tak terpakai",
    "used_cost_idr": "Terpakai", "cost_before_idr": "Biaya sebelum terpusat",
    "savings_idr": "Penghematan", "schedule_extra_mbps_hours": "Tambahan dari jadwal (Mbit/s-jam)",
    "schedule_extra_idr": "Nilai tambahan dari jadwal",
}


def _money_cell(column: str, value: str | int) -> str:
    """An amount as 'Rp 1.234.567' (rupiah columns), other figures as written."""
    if column.endswith("_idr") and isinstance(value, int):
        return format_idr(value)
    return str(value).replace(".", ",")


def pdf_latin1(text: str) -> str:
    return (text.replace("\u2014", "-").replace("\u2013", "-").replace("\u2265", ">=")
            .encode("latin-1", "replace").decode("latin-1"))


def pdf_table(pdf: Any, header: list[str], rows: list[list[str]], widths: list[float]) -> None:
    """A bordered table in a report PDF (fpdf2's core fonts: Latin-1), cells cut to width."""
    pdf.set_font("Helvetica", "B", 7.5)
    for text, w in zip(header, widths, strict=True):
        pdf.cell(w, 5, pdf_latin1(text), border=1)
    pdf.ln()
    pdf.set_font("Helvetica", "", 7.5)
    for row in rows:
        for text, w in zip(row, widths, strict=True):
            pdf.cell(w, 4.6, pdf_latin1(text)[: int(w * 0.62)], border=1)
        pdf.ln()
    pdf.ln(2)


def render_pdf(report: MonthlyReport) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=14)
    pdf.set_title(pdf_latin1(report.title))
    pdf.set_creator("Simpul")
    if report.closed:  # a closed month's report is the same file whenever it is made
        pdf.set_creation_date(datetime.fromtimestamp(
            max(s.period.end_ts for s in report.stats), UTC))

    def heading(text: str, size: int = 14) -> None:
        pdf.set_font("Helvetica", "B", size)
        pdf.multi_cell(0, 7, pdf_latin1(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 9)

    def table(header: list[str], rows: list[list[str]], widths: list[float]) -> None:
        pdf_table(pdf, header, rows, widths)

    p = report.plan
    if report.only:
        _site_pages(pdf, report, heading, table)
        return bytes(pdf.output())
    pdf.add_page()
    heading(report.title, 15)
    heading("Diskominfo - pusat komando jaringan", 10)
    uplink = report.inventory.uplink_capacity()
    summary = [
        f"Jumlah situs dilaporkan: {len(report.stats)} (SOPD {len(report.sopd)})",
        f"Kapasitas uplink: {allocation_id(uplink)}",
        f"SOPD kurang terpakai: {sum(1 for s in report.sopd if s.under_used)}; "
        f"jenuh: {sum(1 for s in report.sopd if s.saturated)}",
        f"Kapasitas yang dapat dibebaskan: {allocation_id(p.freed)}; dibutuhkan kantor "
        f"jenuh: {allocation_id(p.needed)}; dapat dialihkan ke WiFi publik: "
        f"{allocation_id(p.spare)}",
    ]
    for line in summary:
        pdf.multi_cell(0, 5, pdf_latin1(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    if report.money_summary:
        heading("Biaya dalam rupiah", 11)
        table(["Ukuran", "Nilai"], [[a, b] for a, b in report.money_summary], [110, 70])
    pdf.image(io.BytesIO(ranking_chart(report).encode()), w=180)
    heading("Peringkat SOPD", 11)
    table(["#", "SOPD", "Alokasi", "Rata-rata", "P95", "Puncak", "Volume", "Jam>80%", "Status"],
          [[str(s.rank), s.name, allocation_id(report.site(s.site).allocation),
            rate_id(s.down.avg_bps), rate_id(s.down.p95_bps), rate_id(s.down.peak_bps),
            volume_id(s.down.volume_bytes), number_id(s.down.hours_above), status_id(s)]
           for s in report.sopd],
          [8, 52, 22, 18, 18, 18, 18, 14, 22])
    heading("Rekomendasi alokasi", 11)
    table(["Situs", "Sekarang", "Usulan", "Tindakan", "Alasan"],
          [[r.name, allocation_id(r.current), allocation_id(r.proposed), ACTION_ID[r.action],
            r.reason] for r in p.recommendations if r.action != "keep"],
          [52, 26, 26, 16, 70])
    if p.destinations:
        heading("Ke mana kapasitas dapat dialihkan", 11)
        table(["Situs", "Jenis", "Tambahan", "Alasan"],
              [[d.name, KIND_ID.get(d.kind, d.kind), allocation_id(d.extra), d.reason]
               for d in p.destinations], [60, 26, 30, 74])
    _site_pages(pdf, report, heading, table)
    return bytes(pdf.output())


def _site_pages(pdf: Any, report: MonthlyReport, heading: Any, table: Any) -> None:
    for s in report.sections:
        pdf.add_page()
        site = report.site(s.site)
        heading(f"{s.name} ({s.site})", 12)
        rec = report.recommendation(s.site)
        rows = [
            ["Alokasi", allocation_id(site.allocation)],
            ["Rata-rata unduh / unggah", f"{rate_id(s.down.avg_bps)} / {rate_id(s.up.avg_bps)}"],
            ["P95 unduh / unggah", f"{rate_id(s.down.p95_bps)} / {rate_id(s.up.p95_bps)}"],
            ["Puncak unduh / unggah",
             f"{rate_id(s.down.peak_bps)} / {rate_id(s.up.peak_bps)}"],
            ["Volume unduh / unggah",
             f"{volume_id(s.down.volume_bytes)} / {volume_id(s.up.volume_bytes)}"],
            ["Jam di atas 80% alokasi (unduh)", number_id(s.down.hours_above)],
            ["Utilisasi P95", f"{number_id(s.utilisation * 100)}%"],
            ["Cakupan data", f"{number_id(s.coverage * 100)}%"],
            ["Status", status_id(s)],
            ["Peringkat", f"{s.rank} dari {len(report.stats)}"],
        ]
        if rec:
            rows.append(["Usulan alokasi", f"{allocation_id(rec.proposed)} "
                         f"({ACTION_ID[rec.action]})"])
        money = report.money.get(s.site)
        if money:
            rows += [[MONEY_LABELS_ID[c], _money_cell(c, money[c])]
                     for c in report.money_columns if money.get(c) != ""]
        table(["Ukuran", "Nilai"], rows, [70, 110])
        if s.daily:
            pdf.image(io.BytesIO(site_chart(s).encode()), w=180)


@dataclass(frozen=True)
class WrittenReport:
    html: Path
    csv: Path
    pdf: Path


def write_monthly_report(report: MonthlyReport, out_dir: Path) -> WrittenReport:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = WrittenReport(out_dir / f"{report.slug}.html", out_dir / f"{report.slug}.csv",
                          out_dir / f"{report.slug}.pdf")
    paths.html.write_text(render_html(report), encoding="utf-8")
    paths.csv.write_text(render_csv(report), encoding="utf-8")
    paths.pdf.write_bytes(render_pdf(report))
    return paths
