"""`simpul config ...`: render, diff, push, backup, history, drift. Thin: parse, call, print."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from controller.cli.common import fail, open_context
from controller.configs import RenderError, TargetError, mask_secrets, select_devices
from controller.inventory import Device
from controller.jobs import FAILED, ROLLED_BACK, ConfigJobs, DeviceResult
from controller.pushes import ABORTED, AWAITING_APPROVAL, PAUSED, Push, Pushes, PushRefused
from controller.secrets import SecretsError
from controller.settings import get_settings

if TYPE_CHECKING:
    from controller.context import Context

config_app = typer.Typer(no_args_is_help=True,
                         help="Device configs: render, diff, push, backups and drift.")

Names = Annotated[list[str] | None, typer.Argument(help="Device names", show_default=False)]
SiteOpt = Annotated[str | None, typer.Option("--site", help="Every device at this site")]
RoleOpt = Annotated[str | None, typer.Option("--role", help="Every device with this role")]
AllOpt = Annotated[bool, typer.Option("--all", help="Every device in the inventory")]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object per device")]


@contextmanager
def _engine(actor: str | None = None) -> Iterator[tuple[ConfigJobs, Context]]:
    """The config engine on a freshly opened context; `actor` is named in the audit log."""
    import getpass

    settings = get_settings()
    with open_context() as ctx:
        yield ConfigJobs(ctx.inventory, ctx.secrets, settings.data_dir, store=ctx.store,
                         templates_dir=settings.templates_dir,
                         actor=actor or f"cli:{getpass.getuser()}",
                         concurrency=settings.push_concurrency), ctx


def _targets(jobs: ConfigJobs, names: list[str] | None, site: str | None, role: str | None,
             all_devices: bool) -> list[Device]:
    try:
        return select_devices(jobs.inventory, names, site, role, all_devices)
    except TargetError as exc:
        raise fail(str(exc), 2) from None


def _run(jobs: ConfigJobs, operation: Callable[[Device], DeviceResult], devices: list[Device],
         label: str) -> list[DeviceResult]:
    """Run over devices, with a progress bar when stderr is a terminal."""
    if not sys.stderr.isatty() or len(devices) < 2:
        return asyncio.run(jobs.run(operation, devices))
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(),
                  console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=len(devices))
        return asyncio.run(jobs.run(operation, devices,
                                    lambda _r: progress.advance(task)))


def _print(results: list[DeviceResult], as_json: bool) -> None:
    if as_json:
        for result in results:
            typer.echo(json.dumps(result.as_json()))
        return
    for result in results:
        typer.echo(f"== {result.device}: {result.status}")
        if result.diff:
            typer.echo(result.diff.rstrip("\n"))
        if result.error:
            typer.echo(f"error: {result.error}")


def _exit_code(results: list[DeviceResult]) -> int:
    return 1 if any(r.status in (FAILED, ROLLED_BACK, ABORTED) for r in results) else 0


@config_app.command("render")
def render(names: Names = None, site: SiteOpt = None, role: RoleOpt = None,
           all_devices: AllOpt = False,
           out: Annotated[Path | None, typer.Option(help="Write DIR/<device>.cfg")] = None,
           ) -> None:
    """Render the intended config of each device (secrets masked)."""
    with _engine() as (jobs, _):
        failed = False
        for device in _targets(jobs, names, site, role, all_devices):
            try:
                text = jobs.render(device)
            except (RenderError, SecretsError) as exc:
                typer.echo(str(exc), err=True)
                failed = True
                continue
            text = mask_secrets(text, jobs._secret_values(device))
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
                (out / f"{device.name}.cfg").write_text(text, encoding="utf-8")
            else:
                typer.echo(f"### device: {device.name}\n{text}", nl=False)
        if out is not None and not failed:
            typer.echo(f"rendered into {out}", err=True)
        raise typer.Exit(1 if failed else 0)


@config_app.command("diff")
def diff(names: Names = None, site: SiteOpt = None, role: RoleOpt = None,
         all_devices: AllOpt = False, as_json: JsonOpt = False) -> None:
    """Show what a push would change on each device."""
    with _engine() as (jobs, _):
        devices = _targets(jobs, names, site, role, all_devices)
        results = _run(jobs, jobs.diff_one, devices, "diff")
    _print(results, as_json)
    raise typer.Exit(_exit_code(results))


StageOpt = Annotated[int | None, typer.Option(
    "--stage", min=1, help="Push the first N devices, then pause until `config push-continue`")]
PushId = Annotated[int, typer.Argument(help="The push's number (config pushes lists them)")]


def _pushes(ctx: Context) -> Pushes:
    return Pushes(ctx.store, get_settings().push_stale_after_s)


def _execute(pushes: Pushes, ctx: Context, push_id: int, size: int,
             label: str) -> list[DeviceResult]:
    """Run the push's next batch here, with a progress bar when stderr is a terminal."""
    if not sys.stderr.isatty() or size < 2:
        return asyncio.run(pushes.execute(ctx, push_id))
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(),
                  console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=size)
        return asyncio.run(pushes.execute(ctx, push_id, lambda _r: progress.advance(task)))


def _say_where(push: Push) -> None:
    """On stderr: a push that is not finished, and the command that goes on with it."""
    if push.state == PAUSED:
        ran = sum(1 for d in push.devices if push.status_of(d) != "pending")
        typer.echo(f"push {push.id} paused after {ran} of {len(push.devices)} device(s): check "
                   f"them, then `simpul config push-continue {push.id}` (or push-abort "
                   f"{push.id})", err=True)
    elif push.state == AWAITING_APPROVAL:
        typer.echo(f"push {push.id} touches protected site(s) {', '.join(push.protected_sites)}"
                   f": it waits for a second operator's approval (the push's page in the UI, "
                   f"or POST /api/v1/config/pushes/{push.id}/approve); nothing was pushed",
                   err=True)


@config_app.command("push")
def push(names: Names = None, site: SiteOpt = None, role: RoleOpt = None,
         all_devices: AllOpt = False,
         yes: Annotated[bool, typer.Option("--yes", help="Push without asking")] = False,
         as_json: JsonOpt = False, stage: StageOpt = None,
         enqueue: Annotated[bool, typer.Option(
             "--enqueue", help="Queue the push for the workers (PostgreSQL) and return at "
             "once with its number; follow it with `config push-status ID --wait`")] = False,
         ) -> None:
    """Push the intended config: backup, apply, verify, save; roll back on any error.

    Recorded as a push (config pushes); a push to a protected site waits for a second
    operator's approval (exit 3), a staged one pauses after --stage N devices."""
    if not yes and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise fail("refusing to push without --yes: there is no terminal to ask on", 2)
    if enqueue:
        _enqueue(names, site, role, all_devices, yes, as_json, stage)
        return
    with _engine() as (jobs, ctx):
        devices = _targets(jobs, names, site, role, all_devices)
        if not yes:
            previews = _run(jobs, jobs.diff_one, devices, "diff")
            _print(previews, False)
            devices = [d for d, r in zip(devices, previews, strict=True) if r.status == "changed"]
            if not devices:
                typer.echo("nothing to push")
                raise typer.Exit(_exit_code(previews))
            if not typer.confirm(f"Push to {len(devices)} device(s)?", default=False):
                raise fail("not pushed", 1)
        pushes = _pushes(ctx)
        started = pushes.create(ctx, devices, jobs.actor, stage)
        if started.state == AWAITING_APPROVAL:
            _say_where(started)
            raise typer.Exit(3)
        results = _execute(pushes, ctx, started.id, len(devices), "push")
        after = pushes.get(started.id)
    if not yes and not as_json:  # the diff was shown before asking
        results_shown = [DeviceResult(r.device, r.status, "", r.error) for r in results]
        _print(results_shown, False)
    else:
        _print(results, as_json)
    if after is not None:
        _say_where(after)
    raise typer.Exit(_exit_code(results))


def _enqueue(names: list[str] | None, site: str | None, role: str | None, all_devices: bool,
             yes: bool, as_json: bool, stage: int | None) -> None:
    """Record the push and queue its devices for the workers; print its number at once."""
    from controller.worker import enqueue_push, uses_job_queue

    if not uses_job_queue(get_settings().resolved_database_url()):
        raise fail("--enqueue needs PostgreSQL (SIMPUL_DATABASE_URL=postgresql+psycopg://...) "
                   "and a worker (`simpul serve`); on SQLite push without --enqueue. Nothing "
                   "was pushed", 2)
    if not yes:
        raise fail("--enqueue needs --yes: a queued push asks nobody", 2)
    with _engine() as (jobs, ctx):
        devices = _targets(jobs, names, site, role, all_devices)
        pushes = _pushes(ctx)
        started = pushes.create(ctx, devices, jobs.actor, stage)
        if started.state != AWAITING_APPROVAL:
            _, batch = pushes._next_batch(ctx, started.id)
            asyncio.run(enqueue_push(ctx.settings.resolved_database_url(), started.id,
                                     [d.name for d in batch]))
    if as_json:
        typer.echo(json.dumps({"id": started.id}))
    else:
        typer.echo(f"push {started.id} queued: `simpul config push-status {started.id} --wait`")
    if started.state == AWAITING_APPROVAL:
        _say_where(started)
        raise typer.Exit(3)


def _step(push_id: int, step: str) -> tuple[Push, list[DeviceResult]]:
    import getpass

    with open_context() as ctx:
        pushes = _pushes(ctx)
        try:
            if step == "continue":
                found = pushes.continue_push(push_id, f"cli:{getpass.getuser()}")
                results = _execute(pushes, ctx, push_id, len(found.devices), "push")
            else:
                found = pushes.abort(ctx, push_id, f"cli:{getpass.getuser()}")
                results = []
        except PushRefused as exc:
            raise fail(str(exc), 2) from None
        after = pushes.get(push_id)
    assert after is not None
    return after, results


@config_app.command("push-continue")
def push_continue(push_id: PushId, as_json: JsonOpt = False) -> None:
    """Push the rest of a staged push that paused after its first devices."""
    after, results = _step(push_id, "continue")
    _print(results, as_json)
    _say_where(after)
    raise typer.Exit(_exit_code(results))


@config_app.command("push-abort")
def push_abort(push_id: PushId) -> None:
    """Stop a push: devices not yet started end `aborted`; those in flight finish or roll
    back as any push does."""
    after, _ = _step(push_id, "abort")
    typer.echo(f"push {push_id}: {after.state_word}; aborted: "
               f"{after.counts().get('aborted', 0)} device(s)")


def _status_json(found: Push) -> dict[str, object]:
    """The shape of issue #17's `config push-status --json`."""
    return {"id": found.id, "state": found.state_word,
            "devices": [{"device": d, "status": found.status_of(d),
                         "error": r.error if (r := found.results.get(d)) else None}
                        for d in found.devices]}


@config_app.command("push-status")
def push_status(push_id: PushId, as_json: JsonOpt = False,
                wait: Annotated[bool, typer.Option(
                    "--wait", help="Return once no device is pending or running")] = False,
                ) -> None:
    """A push's state and each device's status; exit 0 only if every device ended changed or
    unchanged."""
    import time

    with open_context() as ctx:
        pushes = _pushes(ctx)
        found = pushes.get(push_id)
        # A push ends with its last device (one transaction); an in-process push records its
        # end a moment after its last device: allow that moment before answering.
        grace = 20
        while wait and found is not None and not found.settled and grace > 0:
            if not any(found.status_of(d) in ("pending", "running") for d in found.devices):
                grace -= 1
            time.sleep(0.5)
            found = pushes.get(push_id)
    if found is None:
        raise fail(f"no push {push_id}", 2)
    if as_json:
        typer.echo(json.dumps(_status_json(found)))
    else:
        typer.echo(f"push {found.id} by {found.actor}: {found.state_word}")
        for device in found.devices:
            typer.echo(f"  {device}: {found.status_of(device)}")
    ok = all(found.status_of(d) in ("changed", "unchanged") for d in found.devices)
    raise typer.Exit(0 if ok else 1)


@config_app.command("pushes")
def pushes_list(limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
                as_json: JsonOpt = False) -> None:
    """Past and current pushes, newest first."""
    with open_context() as ctx:
        total, found = _pushes(ctx).list(0, limit)
    for item in found:
        if as_json:
            typer.echo(json.dumps(_status_json(item)))
        else:
            counts = ", ".join(f"{k} {v}" for k, v in item.counts().items())
            typer.echo(f"{item.id:>5}  {item.started_at:%Y-%m-%d %H:%M}Z  {item.actor:<16} "
                       f"{item.state_word:<17} {counts}")
    if not as_json and total > len(found):
        typer.echo(f"({total - len(found)} older not shown)")


@config_app.command("backup")
def backup(names: Names = None, site: SiteOpt = None, role: RoleOpt = None,
           all_devices: AllOpt = False, as_json: JsonOpt = False) -> None:
    """Fetch running configs into the backup repository (committed only when changed)."""
    with _engine() as (jobs, _):
        devices = _targets(jobs, names, site, role, all_devices)
        results = _run(jobs, jobs.backup_one, devices, "backup")
    if as_json:
        for r in results:
            typer.echo(json.dumps({**r.as_json(), "commit": r.commit}))
    else:
        for r in results:
            what = r.error if r.status == FAILED else (
                f"committed {r.commit[:10]}" if r.commit else "unchanged, not committed")
            typer.echo(f"{r.device}: {what}")
    raise typer.Exit(_exit_code(results))


@config_app.command("history")
def history(
    device: Annotated[str, typer.Argument(help="Device name")],
    show: Annotated[str | None, typer.Option(help="Print the config at this version")] = None,
    diff_versions: Annotated[tuple[str, str] | None, typer.Option(
        "--diff", help="Diff between two versions: --diff OLD NEW")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List a device's backed-up versions, show one, or diff two."""
    from controller.backups import BackupError, BackupRepo

    settings = get_settings()
    repo = BackupRepo(settings.data_dir / "backups")
    try:
        if show:
            typer.echo(repo.show(device, show), nl=False)
            return
        if diff_versions:
            typer.echo(repo.diff(device, *diff_versions), nl=False)
            return
        versions = repo.history(device)
    except BackupError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps([v.__dict__ for v in versions]))
        return
    if not versions:
        typer.echo(f"{device}: no backups yet")
    for v in versions:
        typer.echo(f"{v.commit[:10]}  {v.at}  {v.author:<16} {v.message}")


@config_app.command("drift")
def drift(names: Names = None, site: SiteOpt = None, role: RoleOpt = None,
          all_devices: AllOpt = True, as_json: JsonOpt = False) -> None:
    """Check every device (or TARGET) against its intent now; store and print the result."""
    from controller.drift import check_drift

    with _engine(actor="cli:drift") as (jobs, ctx):
        devices = _targets(jobs, names, site, role, all_devices and not (names or site or role))
        results = asyncio.run(check_drift(jobs, ctx.store, devices))
    if as_json:
        for r in results:
            typer.echo(json.dumps(r.as_json()))
    else:
        for r in results:
            label = {"unchanged": "in sync", "changed": "DRIFTED", "failed": "error"}[r.status]
            typer.echo(f"{r.device}: {label}" + (f": {r.error}" if r.error else ""))
    raise typer.Exit(_exit_code(results))
