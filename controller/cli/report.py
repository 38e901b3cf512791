"""`simpul report monthly`: the command centre's monthly per-SOPD report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from controller.cli.bandwidth import MonthOption, month_or_last
from controller.cli.common import fail, load_inventory_or_exit, open_store
from controller.settings import get_settings

report_app = typer.Typer(no_args_is_help=True, help="Reports for the command centre.")


@report_app.command("monthly")
def report_monthly(
    month: MonthOption = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Directory [default: <data_dir>/reports]")] = None,
    site: Annotated[str | None, typer.Option(
        "--site", help="One office's own report (e.g. to send to that SOPD)")] = None,
) -> None:
    """Write the monthly per-SOPD report (HTML with charts, CSV, PDF) from the store."""
    from controller.accountability.costs import with_costs
    from controller.allocation_history import record_inventory
    from controller.bandwidth.reports import build_monthly_report, write_monthly_report

    first = month_or_last(month)
    inventory = load_inventory_or_exit()
    try:
        with open_store() as store, store.session() as session:
            record_inventory(session, inventory)  # an edit since the last load takes force now
            report = with_costs(session, build_monthly_report(session, inventory, first,
                                                              only=site))
    except ValueError as exc:
        raise fail(str(exc), 2) from None
    if not any(s.observed_s for s in report.stats):
        typer.echo(f"warning: no bandwidth samples for {first:%Y-%m} in the store "
                   "(run `simpul bandwidth synth` for a demo month)", err=True)
    written = write_monthly_report(report, out or get_settings().data_dir / "reports")
    for path in (written.html, written.csv, written.pdf):
        typer.echo(str(path))


@report_app.command("sla")
def report_sla(
    month: MonthOption = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Directory [default: <data_dir>/reports]")] = None,
) -> None:
    """Write the month's availability and ISP SLA report (HTML, CSV, PDF) with its outages."""
    from controller.accountability.sla import build_sla_report, write_sla_report

    first = month_or_last(month)
    inventory = load_inventory_or_exit()
    settings = get_settings()
    with open_store() as store, store.session() as session:
        report = build_sla_report(session, inventory, f"{first:%Y-%m}",
                                  settings.down_after_samples)
    for path in write_sla_report(report, out or settings.data_dir / "reports"):
        typer.echo(str(path))
