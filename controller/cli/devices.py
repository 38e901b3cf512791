"""`simpul devices trust`: pin the devices' SSH host keys (trust on first use), audited."""

from __future__ import annotations

import getpass
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Annotated

import typer

from controller.cli.common import fail, open_context
from controller.devices.host_keys import (
    REPLACED,
    UNCHANGED,
    HostKeyChanged,
    Pinned,
    describe,
    fetch_host_key,
    known_hosts_path,
    pin_host_key,
    pinned_keys,
)
from controller.store.audit import record

if TYPE_CHECKING:
    from controller.context import Context
    from controller.inventory import Device

devices_app = typer.Typer(no_args_is_help=True, help="Managed devices: their SSH host keys.")

CONNECT_TIMEOUT_S = 10.0
CHECK_HINT = ("Compare each new fingerprint with the one the device itself shows (on its "
              "console, or from its installer) before pushing to it.")


@devices_app.callback()
def devices() -> None:
    """Keeps `trust` a sub-command: typer would make a lone command the whole app."""


@devices_app.command("trust")
def trust(
    names: Annotated[list[str] | None, typer.Argument(help="Device names",
                                                      show_default=False)] = None,
    all_devices: Annotated[bool, typer.Option("--all", help="Every device in the inventory")
                           ] = False,
    replace: Annotated[bool, typer.Option(
        "--replace", help="Accept a key that changed on purpose (name the devices)")] = False,
    wait: Annotated[float, typer.Option(
        help="Seconds to keep retrying devices that do not answer yet")] = 0.0,
) -> None:
    """Record each device's SSH host key in <data dir>/known_hosts and print its fingerprint.

    Simpul connects only to devices whose key is recorded there.

    A recorded key that differs from the one offered stays, and is shown next to it, unless
    --replace.
    """
    if replace and all_devices:
        raise fail("--replace takes device names: replace only keys you know changed", 2)
    if bool(names) == all_devices:
        raise fail("name devices, or give --all", 2)
    actor = f"cli:{getpass.getuser()}"
    with open_context() as ctx:
        unknown = [n for n in names or [] if n not in ctx.inventory.devices]
        if unknown:
            raise fail(f"unknown device(s): {', '.join(unknown)}", 2)
        chosen = (list(ctx.inventory.devices.values()) if all_devices
                  else [ctx.inventory.devices[n] for n in names or []])
        outcomes = _trust_all(ctx, chosen, replace, wait)
        failed = False
        for device in chosen:
            outcome = outcomes[device.name]
            if isinstance(outcome, Pinned):
                _audit(ctx, actor, outcome)
                typer.echo(_said(outcome))
                continue
            failed = True
            if isinstance(outcome, HostKeyChanged):
                _audit_refused(ctx, actor, outcome)
            typer.echo(f"error: {outcome}", err=True)
    if any(isinstance(o, Pinned) and o.status != UNCHANGED for o in outcomes.values()):
        typer.echo(CHECK_HINT)
    raise typer.Exit(1 if failed else 0)


def _trust_all(ctx: Context, devices: list[Device], replace: bool,
               wait_s: float) -> dict[str, Pinned | Exception]:
    """Each device's outcome; a device that does not answer is retried until `wait_s` ends."""
    known_hosts = known_hosts_path(ctx.settings.data_dir)
    deadline = time.monotonic() + wait_s

    def one(device: Device) -> Pinned | Exception:
        host, port = str(device.mgmt_address), device.mgmt_port
        while True:
            try:
                key = fetch_host_key(host, port, CONNECT_TIMEOUT_S,
                                     prefer=pinned_keys(known_hosts, host, port))
                break
            except Exception as exc:  # noqa: BLE001 - unreachable, or not speaking SSH yet
                if time.monotonic() >= deadline:
                    return _unreachable(device, exc)
                time.sleep(0.5)
        try:
            return pin_host_key(known_hosts, device.name, host, port, key, replace=replace)
        except HostKeyChanged as exc:
            return exc
        except OSError as exc:
            return OSError(f"{device.name}: cannot record its key in {known_hosts}: "
                           f"{exc.strerror or exc}")

    with ThreadPoolExecutor(max_workers=max(1, min(20, len(devices)))) as pool:
        return dict(zip([d.name for d in devices], pool.map(one, devices), strict=True))


def _unreachable(device: Device, exc: Exception) -> Exception:
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return ConnectionError(f"{device.name} ({device.mgmt_address}:{device.mgmt_port}): "
                           f"cannot fetch its SSH host key: {reason}")


def _said(pinned: Pinned) -> str:
    where = f"{pinned.device} ({pinned.entry})"
    if pinned.status == UNCHANGED:
        return f"{where}: already trusted {describe(pinned.key)}"
    if pinned.status == REPLACED and pinned.previous is not None:
        return f"{where}: replaced {describe(pinned.previous)} with {describe(pinned.key)}"
    return f"{where}: trusted {describe(pinned.key)}"


def _audit(ctx: Context, actor: str, pinned: Pinned) -> None:
    if pinned.status == UNCHANGED:
        return
    detail = {"host": pinned.entry, "key": describe(pinned.key)}
    if pinned.previous is not None:
        detail["previous"] = describe(pinned.previous)
    action = "device.trust.replace" if pinned.status == REPLACED else "device.trust"
    with ctx.store.session() as session:
        record(session, actor, action, target=pinned.device, detail=detail)


def _audit_refused(ctx: Context, actor: str, changed: HostKeyChanged) -> None:
    with ctx.store.session() as session:
        record(session, actor, "device.trust", target=changed.device, result="refused",
               detail={"trusted": describe(changed.trusted), "offered": describe(changed.offered)})
