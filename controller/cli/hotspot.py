"""`simpul hotspot`: the captive portal's sessions and vouchers from the command line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from controller.cli.common import fail, open_context
from controller.units import parse_duration_s

hotspot_app = typer.Typer(no_args_is_help=True, help="Captive portal sessions and vouchers.")
vouchers_app = typer.Typer(no_args_is_help=True, help="Voucher batches.")
hotspot_app.add_typer(vouchers_app, name="vouchers")


@contextmanager
def _portal() -> Iterator:  # type: ignore[type-arg]
    from captive_portal.service import Portal

    with open_context("cannot open the controller's context") as ctx:
        portal = Portal(ctx)
        try:
            yield portal
        finally:
            portal.close()


@hotspot_app.command("sessions")
def sessions(
    hotspot: Annotated[str | None, typer.Option(help="Only this hotspot")] = None,
) -> None:
    """List open sessions: id, hotspot, method, client, time and bytes."""
    with _portal() as portal:
        if hotspot is not None and hotspot not in portal.ctx.inventory.hotspots:
            raise fail(f"hotspot: unknown hotspot {hotspot!r}", 2)
        rows = portal.stats.list_active_sessions(hotspot)
    typer.echo(f"{'ID':>6}  {'HOTSPOT':<18} {'METHOD':<14} {'CLIENT':<16} {'MAC':<17} "
               f"{'LEFT':>7} {'DOWN':>12} {'UP':>12}")
    for row in rows:
        typer.echo(f"{row.id:>6}  {row.hotspot:<18} {row.method:<14} {row.client_ip or '-':<16} "
                   f"{row.client_mac or '-':<17} {row.seconds_remaining // 60:>5}m "
                   f"{row.bytes_down:>12} {row.bytes_up:>12}")
    typer.echo(f"{len(rows)} open session(s)")


@hotspot_app.command("disconnect")
def disconnect(
    session_id: Annotated[int, typer.Argument(help="Session id from `simpul hotspot sessions`")],
    actor: Annotated[str, typer.Option(help="Engineer named in the audit log")] = "cli",
) -> None:
    """End a session now and remove the client from its gateway."""
    with _portal() as portal:
        if not portal.accounting.disconnect(session_id, actor):
            raise fail(f"session {session_id}: no such open session")
    typer.echo(f"session {session_id} disconnected")


@vouchers_app.command("create")
def vouchers_create(
    count: Annotated[int, typer.Option(help="How many codes")] = 10,
    duration: Annotated[str, typer.Option(help="Session length per use, e.g. 2h, 30m")] = "2h",
    uses: Annotated[int, typer.Option(help="Sessions per code")] = 1,
    valid_days: Annotated[int, typer.Option(help="Days the codes stay valid")] = 30,
    hotspot: Annotated[str | None, typer.Option(help="Only at this hotspot")] = None,
    batch: Annotated[str | None, typer.Option(help="Batch name (default: a timestamp)")] = None,
    sheet: Annotated[Path | None, typer.Option(help="Write the printable HTML sheet here")] = None,
    actor: Annotated[str, typer.Option(help="Engineer named in the audit log")] = "cli",
) -> None:
    """Create a voucher batch and print its codes (optionally a printable sheet)."""
    from captive_portal.vouchers import VoucherError

    try:
        duration_s = parse_duration_s(duration)
    except ValueError as exc:
        raise fail(f"--duration: {exc}", 2) from None
    with _portal() as portal:
        try:
            made = portal.vouchers.create_batch(count=count, duration_s=duration_s, uses=uses,
                                                valid_days=valid_days, hotspot=hotspot,
                                                batch=batch, actor=actor)
        except VoucherError as exc:
            raise fail(str(exc), 2) from None
        if sheet is not None:
            sheet.write_text(portal.vouchers.sheet_html(made.batch), encoding="utf-8")
    typer.echo(f"batch {made.batch}: {len(made.codes)} code(s), {duration_s}s x {uses}, "
               f"valid until {made.valid_until:%Y-%m-%d}")
    for code in made.codes:
        typer.echo(code)
