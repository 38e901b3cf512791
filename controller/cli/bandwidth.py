"""`simpul bandwidth ...`: office bandwidth against allocation, and reallocation."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Annotated, Any

import typer

from controller.cli.common import fail, load_inventory_or_exit, open_context, open_store
from controller.settings import get_settings
from controller.units import Allocation

bandwidth_app = typer.Typer(no_args_is_help=True,
                            help="Office bandwidth: use against allocation, reallocation.")

MonthOption = Annotated[str | None, typer.Option(
    "--month", help="YYYY-MM [default: last month]")]


def month_or_last(text: str | None) -> date:
    """The month `--month` names, by default the last one; exit 2 if it is malformed."""
    from controller.bandwidth.stats import parse_month

    if text is None:
        today = datetime.now(UTC).date().replace(day=1)
        return (today.replace(year=today.year - 1, month=12) if today.month == 1
                else today.replace(month=today.month - 1))
    try:
        return parse_month(text)
    except ValueError as exc:
        raise fail(str(exc), 2) from None


@bandwidth_app.command("synth")
def bandwidth_synth(
    month: MonthOption = None,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same month)")] = 7,
    if_empty: Annotated[bool, typer.Option(
        "--if-empty", help="Do nothing if the store already has samples for that month")
    ] = False,
) -> None:
    """Fill the store with a month of synthetic counter history (demo only)."""
    from sqlalchemy import func, select

    from controller.accountability.synth import synthesize_availability
    from controller.bandwidth.stats import period_for
    from controller.bandwidth.synth import synthesize_month
    from controller.store.accountability import AvailabilityRun
    from controller.store.bandwidth import Bandwidth1h

    first = month_or_last(month)
    inventory = load_inventory_or_exit()
    with open_store() as store:
        samples = runs = True
        if if_empty:  # each kind of history on its own: an older demo store gets the runs too
            period = period_for("month", first, "Asia/Jakarta")
            with store.session() as session:
                samples = not session.scalar(select(func.count()).select_from(Bandwidth1h).where(
                    Bandwidth1h.ts >= period.start_ts, Bandwidth1h.ts < period.end_ts))
                runs = not session.scalar(select(func.count()).select_from(
                    AvailabilityRun).where(AvailabilityRun.end_ts > period.start_ts,
                                           AvailabilityRun.start_ts < period.end_ts))
            if not samples and not runs:
                typer.echo(f"{first:%Y-%m}: the store already has samples; nothing written")
                return
        rows = synthesize_month(store, inventory, first, seed=seed) if samples else 0
        written = synthesize_availability(store, inventory, first, seed=seed) if runs else 0
    typer.echo(f"{first:%Y-%m}: {rows} five-minute samples written (and their hourly rollups); "
               f"{written} availability runs")


@bandwidth_app.command("stats")
def bandwidth_stats(
    period: Annotated[str, typer.Option(help="day, week or month")] = "month",
    on: Annotated[str | None, typer.Option(
        "--date", help="A date in the period, YYYY-MM-DD [default: today]")] = None,
    kind: Annotated[list[str] | None, typer.Option(help="Only these site kinds")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Per-site average, p95, peak, volume and hours above 80% of allocation, ranked."""
    from controller.bandwidth.stats import regency_stats

    if period not in ("day", "week", "month"):
        raise fail("--period must be day, week or month", 2)
    try:
        anchor = date.fromisoformat(on) if on else datetime.now(UTC).date()
    except ValueError:
        raise fail(f"bad --date {on!r}: write it like 2026-10-15", 2) from None
    inventory = load_inventory_or_exit()
    with open_store() as store, store.session() as session:
        stats = regency_stats(session, inventory, period, anchor,  # type: ignore[arg-type]
                              set(kind) if kind else None)
    rows: list[dict[str, Any]] = [{
        "rank": s.rank, "site": s.site, "kind": s.kind, "period": s.period.label,
        "allocation_down_bps": s.down.allocation_bps, "avg_down_bps": round(s.down.avg_bps),
        "p95_down_bps": round(s.down.p95_bps), "peak_down_bps": round(s.down.peak_bps),
        "volume_down_bytes": s.down.volume_bytes, "hours_above_80_down": round(
            s.down.hours_above, 2), "avg_up_bps": round(s.up.avg_bps),
        "p95_up_bps": round(s.up.p95_bps), "volume_up_bytes": s.up.volume_bytes,
        "p95_utilisation": round(s.utilisation, 4), "coverage": round(s.coverage, 4),
        "under_used": s.under_used, "saturated": s.saturated} for s in stats]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{'#':>3} {'site':<24} {'alloc':>7} {'avg':>7} {'p95':>7} {'peak':>7} "
               f"{'GB':>8} {'h>80%':>6} {'util':>5}  flags")
    for r in rows:
        flags = ",".join(f for f in ("under_used", "saturated") if r[f])
        typer.echo(f"{r['rank']:>3} {r['site']:<24} {r['allocation_down_bps'] / 1e6:>6.0f}M "
                   f"{r['avg_down_bps'] / 1e6:>6.1f}M {r['p95_down_bps'] / 1e6:>6.1f}M "
                   f"{r['peak_down_bps'] / 1e6:>6.1f}M {r['volume_down_bytes'] / 1e9:>8.1f} "
                   f"{r['hours_above_80_down']:>6.1f} {r['p95_utilisation']:>5.0%}  {flags}")


def _plan(first: date):  # type: ignore[no-untyped-def]
    from controller.bandwidth.recommend import plan, with_saturation
    from controller.bandwidth.stats import regency_stats

    inventory = load_inventory_or_exit()
    with open_store() as store, store.session() as session:
        stats = regency_stats(session, inventory, "month", first)
        proposals = plan(stats, {c: s.allocation for c, s in inventory.sites.items()},
                         inventory.sites)
        return with_saturation(session, inventory, stats, proposals)


@bandwidth_app.command("recommend")
def bandwidth_recommend(
    month: MonthOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    show_all: Annotated[bool, typer.Option("--all", help="Also offices to keep as they are")
                        ] = False,
) -> None:
    """Proposed allocations (p95 in office hours + 25% headroom) and where freed capacity goes."""
    first = month_or_last(month)
    p = _plan(first)
    recs = [r for r in p.recommendations if show_all or r.action != "keep"]
    if as_json:
        typer.echo(json.dumps({
            "month": f"{first:%Y-%m}",
            "recommendations": [{"site": r.site, "action": r.action, "current": str(r.current),
                                 "proposed": str(r.proposed), "reason": r.reason,
                                 "p95_down_bps": round(r.p95_down_bps),
                                 "p95_up_bps": round(r.p95_up_bps),
                                 "peak_down_bps": round(r.peak_down_bps),
                                 "peak_up_bps": round(r.peak_up_bps),
                                 "floor": str(r.floor) if r.floor else None,
                                 "saturated_hours": r.saturated_hours,
                                 "saturated_hours_now": r.saturated_hours_now} for r in recs],
            "freed": str(p.freed), "needed": str(p.needed), "spare": str(p.spare),
            "destinations": [{"site": d.site, "kind": d.kind, "extra": str(d.extra),
                              "reason": d.reason} for d in p.destinations]}, indent=2))
        return
    for r in recs:
        saturated = (f"; saturated {r.saturated_hours:.1f} h (now {r.saturated_hours_now:.1f} h)"
                     if r.saturated_hours is not None and r.saturated_hours_now is not None
                     else "")
        typer.echo(f"{r.site:<24} {r.action:<8} {str(r.current):>9} -> {str(r.proposed):<9} "
                   f"{r.reason}; peak {r.peak_down_bps / 1e6:.1f}M{saturated}")
    typer.echo(f"freed {p.freed}; needed by saturated offices {p.needed}; spare {p.spare}")
    for d in p.destinations:
        typer.echo(f"  -> {d.site:<22} +{d.extra}  {d.reason}")


@bandwidth_app.command("accept")
def bandwidth_accept(
    site: Annotated[str, typer.Argument(help="Site code")],
    month: MonthOption = None,
    allocation: Annotated[str | None, typer.Option(
        help="Write this allocation (e.g. 20M/10M) instead of the recommendation")] = None,
    actor: Annotated[str, typer.Option(help="Engineer accepting (audit log)")] = "cli",
) -> None:
    """Accept a recommendation: edit the site's allocation in the inventory (audited).

    The change then appears as a queue change in `simpul config diff` and goes out with
    the normal push."""
    from controller.bandwidth.accept import AcceptError
    from controller.bandwidth.approvals import CutRequest, accept_or_request

    first = month_or_last(month)
    reason = None
    if allocation is not None:
        try:
            new = Allocation.parse(allocation)
        except ValueError as exc:
            raise fail(str(exc), 2) from None
    else:
        rec = next((r for r in _plan(first).recommendations if r.site == site), None)
        if rec is None:
            raise fail(f"no recommendation for site {site!r} in {first:%Y-%m}")
        if rec.action == "keep":
            raise fail(f"site {site!r}: the recommendation is to keep {rec.current}")
        new, reason = rec.proposed, f"{first:%Y-%m}: {rec.reason}"
    settings = get_settings()
    try:
        with open_store() as store:
            done = accept_or_request(settings.inventory_dir, load_inventory_or_exit(), site,
                                     new, store=store, actor=actor, reason=reason,
                                     alertmanager_url=settings.alertmanager_url)
    except AcceptError as exc:
        raise fail(str(exc)) from None
    if isinstance(done, CutRequest):
        typer.echo(f"{site} is protected: the cut {done.before} -> {done.after} waits for a "
                   f"second operator's approval as cut #{done.id} (/bandwidth/approvals in the "
                   f"UI, or POST /api/v1/bandwidth/approvals/{done.id}/approve); nothing was "
                   "written", err=True)
        raise typer.Exit(3)
    typer.echo(done.diff, nl=False)
    typer.echo(f"{site}: allocation {done.before} -> {done.after} written to {done.path}; "
               "review with `simpul config diff`, then push")


@bandwidth_app.command("windows")
def bandwidth_windows(
    site: Annotated[str, typer.Argument(help="Site code")],
    on: Annotated[str | None, typer.Option("--date", help="Render for this date (holidays)")
                  ] = None,
) -> None:
    """The site's schedule as RouterOS simple queues with time=."""
    from controller.schedules import queue_windows

    inventory = load_inventory_or_exit()
    found = inventory.sites.get(site)
    if found is None:
        raise fail(f"unknown site {site!r}")
    today = date.fromisoformat(on) if on else None
    for q in queue_windows(found, inventory, today):
        typer.echo(f"{q.name:<40} time={q.time:<40} max-limit={q.max_limit:<10} {q.comment}")
    typer.echo(f"{'(base)':<40} {'':<45} max-limit={found.allocation.up_bps // 10**6}M/"
               f"{found.allocation.down_bps // 10**6}M")


@bandwidth_app.command("holiday-push")
def bandwidth_holiday_push(
    on: Annotated[str | None, typer.Option(
        "--date", help="Handle this local date, YYYY-MM-DD [default: now]")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Only list the devices that would be pushed")] = False,
) -> None:
    """One pass of the holiday schedule push (what `simpul serve` does after midnight)."""
    import asyncio

    from controller.bandwidth.holiday_push import run_pass

    try:
        # Noon UTC is the same date at every Indonesian site (WIB, WITA, WIT).
        now = (datetime.combine(date.fromisoformat(on), datetime.min.time(), UTC).replace(
            hour=12) if on else datetime.now(UTC))
    except ValueError:
        raise fail(f"--date {on!r}: write it as YYYY-MM-DD", 2) from None
    settings = get_settings()
    with open_context() as ctx:
        done = asyncio.run(run_pass(ctx.inventory, ctx.secrets, ctx.store, settings.data_dir,
                                    templates_dir=settings.templates_dir, now=now,
                                    concurrency=settings.push_concurrency, dry_run=dry_run))
    if not done.due:
        typer.echo("no device needs a holiday schedule push")
    for item in done.due:
        result = done.results.get(item.device)
        status = result.status if result else "due"
        error = f": {result.error}" if result and result.error else ""
        typer.echo(f"{item.device:<20} {item.site:<16} {item.local_date} "
                   f"{'holiday' if item.holiday else 'ordinary':<8} {item.reason:<15} "
                   f"{status}{error}")
    if done.failed:
        raise fail(f"{len(done.failed)} device(s) failed: {', '.join(done.failed)}")
