"""The month's availability and SLA per ISP link (against its contract: met or missed, the
credit to claim in rupiah) and per site, with the outage list as evidence; written as
laporan-sla-YYYY-MM.html, .csv and .pdf (Bahasa Indonesia)."""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from controller.accountability.availability import Availability, compute_availability, load_runs
from controller.accountability.money import round_half_up
from controller.bandwidth.reports import MONTHS_ID, number_id, pdf_latin1, pdf_table
from controller.bandwidth.stats import parse_month, period_for
from controller.inventory import TZ_ABBREV, Contract, Inventory
from controller.units import format_idr

DEFINITIONS = (
    "Turun (down): semua probe ICMP ke perangkat hilang, atau antarmuka uplink mati, selama "
    "{n} sampel berturut-turut; gangguan dimulai pada sampel pertama. Tanpa data: waktu "
    "ketika Simpul sendiri tidak mengukur; ditampilkan, tetapi tidak dihitung dalam dasar SLA. "
    "Pemeliharaan terencana dari inventaris juga tidak dihitung. Ketersediaan = waktu naik / "
    "(waktu naik + waktu turun).")


@dataclass(frozen=True)
class Subject:
    kind: str                # link | site
    code: str
    name: str
    timezone: str
    availability: Availability
    contract: Contract | None = None
    price_idr: int = 0       # the contract's price in force that month

    @property
    def zone(self) -> str:
        return TZ_ABBREV.get(self.timezone, self.timezone)

    @property
    def met(self) -> bool | None:
        pct = self.availability.percent
        if self.contract is None or pct is None:
            return None
        return pct >= self.contract.sla

    @property
    def credit_percent(self) -> float:
        pct = self.availability.percent
        return self.contract.credit_percent(pct) if self.contract and pct is not None else 0.0

    @property
    def credit_idr(self) -> int:
        if self.contract is None:
            return 0
        return round_half_up(self.price_idr * self.credit_percent / 100)

    def local(self, ts: int) -> str:
        return datetime.fromtimestamp(ts, ZoneInfo(self.timezone)).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class SlaReport:
    month: date
    down_after: int
    links: list[Subject]
    sites: list[Subject]

    @property
    def slug(self) -> str:
        return f"laporan-sla-{self.month:%Y-%m}"

    @property
    def title(self) -> str:
        return (f"Laporan Ketersediaan dan SLA ISP: {MONTHS_ID[self.month.month - 1]} "
                f"{self.month.year}")

    @property
    def credit_idr(self) -> int:
        return sum(s.credit_idr for s in self.links)

    @property
    def links_percent(self) -> float | None:
        """The ISP links together: their up time over their SLA base, summed."""
        return pooled_percent(self.links)

    @property
    def sites_percent(self) -> float | None:
        return pooled_percent(self.sites)


def pooled_percent(subjects: list[Subject]) -> float | None:
    """Up time over the SLA base (up + down), summed over `subjects`; None with no data."""
    base = sum(s.availability.base_s for s in subjects)
    return 100.0 * sum(s.availability.up_s for s in subjects) / base if base else None


def _regency_zone(inventory: Inventory) -> str:
    noc = next((s for s in inventory.sites.values() if s.kind == "noc"), None)
    return noc.timezone if noc else "Asia/Jakarta"


def build_sla_report(session: Session, inventory: Inventory, month: str,
                     down_after: int, until_ts: int | None = None,
                     sites: bool = True) -> SlaReport:
    """Every contract's link (in the regency's zone) and every site (in its own zone);
    `until_ts` ends the month there (this month so far: the rest is not unknown, it is not
    yet); `sites=False` leaves the sites out (the public page's aggregate)."""
    first = parse_month(month)
    zone = _regency_zone(inventory)

    def measure(kind: str, code: str, timezone: str, held: list[tuple[float, float]]
                ) -> Availability:
        period = period_for("month", first, timezone)
        end = period.end_ts if until_ts is None else max(period.start_ts,
                                                         min(period.end_ts, until_ts))
        runs = load_runs(session, kind, code, period.start_ts, end)
        return compute_availability(runs, period.start_ts, end, held)

    links = []
    for contract in sorted(inventory.contracts.values(), key=lambda c: c.name):
        held = [w.span_ts() for w in inventory.maintenance.values() if contract.link in w.links]
        links.append(Subject("link", contract.link, contract.provider, zone,
                             measure("link", contract.link, zone, held), contract,
                             contract.price_for(f"{first:%Y-%m}")))
    found = []
    for site in inventory.sites.values() if sites else ():
        if site.kind == "noc":
            continue
        held = [w.span_ts() for w in inventory.maintenance.values() if site.code in w.sites]
        found.append(Subject("site", site.code, site.name, site.timezone,
                             measure("site", site.code, site.timezone, held)))
    return SlaReport(first, down_after, links, found)


def month_so_far(session: Session, inventory: Inventory, down_after: int, now_ts: int,
                 sites: bool = True) -> SlaReport:
    """This month (in the regency's zone) up to `now_ts`: the dashboard's and wall's figures."""
    month = datetime.fromtimestamp(now_ts, ZoneInfo(_regency_zone(inventory))).strftime("%Y-%m")
    return build_sla_report(session, inventory, month, down_after, until_ts=now_ts, sites=sites)


def _pct(value: float | None) -> str:
    return "tidak ada data" if value is None else f"{number_id(value, 3)}%"


def _met(subject: Subject) -> str:
    return {True: "Terpenuhi", False: "Tidak terpenuhi", None: "-"}[subject.met]


def _hours(seconds: int) -> str:
    return f"{number_id(seconds / 3600, 2)} jam"


CSV_COLUMNS = (
    "bulan", "jenis", "kode", "nama", "zona_waktu", "ketersediaan_pct", "detik_naik",
    "detik_turun", "detik_tanpa_data", "detik_pemeliharaan", "jumlah_gangguan",
    "target_sla_pct", "sla_terpenuhi", "kredit_pct", "harga_bulanan_idr", "sla_credit_idr",
    "gangguan_mulai", "gangguan_selesai", "gangguan_detik",
)


def render_csv(report: SlaReport) -> str:
    """One row per link and site; then one row per outage (jenis gangguan-link/-situs)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    month = f"{report.month:%Y-%m}"
    subjects = [*report.links, *report.sites]
    for s in subjects:
        a = s.availability
        c = s.contract
        writer.writerow([
            month, s.kind, s.code, s.name, s.zone,
            "" if a.percent is None else f"{a.percent:.4f}", a.up_s, a.down_s, a.unknown_s,
            a.maintenance_s, len(a.outages), f"{c.sla:g}" if c else "",
            "" if s.met is None else ("ya" if s.met else "tidak"),
            f"{s.credit_percent:g}" if c else "", s.price_idr if c else "",
            s.credit_idr if c else "", "", "", ""])
    for s in subjects:
        for o in s.availability.outages:
            writer.writerow([month, f"gangguan-{s.kind}", s.code, s.name, s.zone,
                             *[""] * 11, f"{s.local(o.start_ts)} {s.zone}",
                             f"{s.local(o.end_ts)} {s.zone}", o.seconds])
    return out.getvalue()


_esc = html.escape


def render_html(report: SlaReport) -> str:
    rows = []
    for s in report.links:
        a = s.availability
        rows.append(
            f'<tr data-link="{_esc(s.code)}"><td>{_esc(s.name)}</td><td>{_esc(s.code)}</td>'
            f'<td class="n">{_pct(a.percent)}</td><td class="n">{s.contract.sla:g}%</td>'
            f"<td>{_met(s)}</td><td class=\"n\">{_hours(a.down_s)}</td>"
            f'<td class="n">{_hours(a.unknown_s)}</td><td class="n">{_hours(a.maintenance_s)}'
            f'</td><td class="n">{s.credit_percent:g}%</td>'
            f'<td class="n">{format_idr(s.credit_idr)}</td></tr>' if s.contract else "")
    site_rows = []
    for s in report.sites:
        a = s.availability
        site_rows.append(
            f'<tr data-site="{_esc(s.code)}"><td>{_esc(s.name)}</td><td>{_esc(s.zone)}</td>'
            f'<td class="n">{_pct(a.percent)}</td><td class="n">{len(a.outages)}</td>'
            f'<td class="n">{_hours(a.down_s)}</td><td class="n">{_hours(a.unknown_s)}</td></tr>')
    outages = []
    for s in [*report.links, *report.sites]:
        for o in s.availability.outages:
            outages.append(
                f"<tr><td>{_esc(s.name)}</td><td>{s.local(o.start_ts)} {_esc(s.zone)}</td>"
                f"<td>{s.local(o.end_ts)} {_esc(s.zone)}</td>"
                f"<td class=\"n\">{o.seconds // 60} menit</td></tr>")
    style = ("body{font-family:Helvetica,Arial,sans-serif;margin:2em auto;max-width:60em}"
             "table{border-collapse:collapse;font-size:.85em}th,td{border:1px solid #ccc;"
             "padding:.25em .5em;text-align:left}td.n{text-align:right}")
    return (
        f'<!doctype html>\n<html lang="id">\n<head><meta charset="utf-8"><title>'
        f"{_esc(report.title)}</title><style>{style}</style></head>\n<body>\n"
        f"<h1>{_esc(report.title)}</h1>\n"
        f'<p id="definitions">{_esc(DEFINITIONS.format(n=report.down_after))}</p>\n'
        f'<p lang="en">Availability and ISP SLA per link and site; no-data time and planned '
        f"maintenance are excluded from the SLA base.</p>\n"
        f"<h2>Link ISP</h2>\n<table id=\"links\"><tr><th>Penyedia</th><th>Link</th>"
        f"<th>Ketersediaan</th><th>Target SLA</th><th>SLA</th><th>Turun</th><th>Tanpa data</th>"
        f"<th>Pemeliharaan</th><th>Kredit</th><th>Kredit (IDR)</th></tr>\n"
        + "\n".join(rows) + f"\n</table>\n<p>Total kredit yang dapat diklaim: <b id=\"credit\">"
        f"{format_idr(report.credit_idr)}</b></p>\n"
        f"<h2>Situs</h2>\n<table id=\"sites\"><tr><th>Situs</th><th>Zona</th>"
        f"<th>Ketersediaan</th><th>Gangguan</th><th>Turun</th><th>Tanpa data</th></tr>\n"
        + "\n".join(site_rows) + "\n</table>\n<h2>Daftar gangguan (bukti)</h2>\n"
        "<table id=\"outages\"><tr><th>Link/situs</th><th>Mulai</th><th>Selesai</th>"
        "<th>Durasi</th></tr>\n" + "\n".join(outages) + "\n</table>\n</body>\n</html>\n")


def render_pdf(report: SlaReport) -> bytes:
    from fpdf import FPDF

    latin1 = pdf_latin1  # the monthly report's Latin-1 rules (dashes, >=)
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=14)
    pdf.set_title(latin1(report.title))
    pdf.set_creator("Simpul")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.multi_cell(0, 7, latin1(report.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8)
    pdf.multi_cell(0, 4.5, latin1(DEFINITIONS.format(n=report.down_after)),
                   new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    def table(header: list[str], rows: list[list[str]], widths: list[float]) -> None:
        pdf_table(pdf, header, rows, widths)

    table(["Penyedia", "Link", "Ketersediaan", "Target", "SLA", "Kredit", "Kredit (IDR)"],
          [[s.name, s.code, _pct(s.availability.percent), f"{s.contract.sla:g}%", _met(s),
            f"{s.credit_percent:g}%", format_idr(s.credit_idr)]
           for s in report.links if s.contract], [44, 26, 24, 16, 24, 16, 30])
    pdf.multi_cell(0, 5, latin1(f"Total kredit: {format_idr(report.credit_idr)}"),
                   new_x="LMARGIN", new_y="NEXT")
    table(["Situs", "Zona", "Ketersediaan", "Gangguan", "Tanpa data"],
          [[s.name, s.zone, _pct(s.availability.percent), str(len(s.availability.outages)),
            _hours(s.availability.unknown_s)] for s in report.sites], [70, 14, 30, 20, 30])
    table(["Link/situs", "Mulai", "Selesai", "Durasi"],
          [[s.name, f"{s.local(o.start_ts)} {s.zone}", f"{s.local(o.end_ts)} {s.zone}",
            f"{o.seconds // 60} menit"]
           for s in [*report.links, *report.sites] for o in s.availability.outages],
          [70, 40, 40, 30])
    return bytes(pdf.output())


def write_sla_report(report: SlaReport, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{report.slug}.{ext}" for ext in ("html", "csv", "pdf")]
    paths[0].write_text(render_html(report), encoding="utf-8")
    paths[1].write_text(render_csv(report), encoding="utf-8")
    paths[2].write_bytes(render_pdf(report))
    return paths
