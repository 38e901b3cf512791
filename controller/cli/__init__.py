"""`simpul` commands: parse, call, print. The work lives in the modules they call."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from controller.inventory import InventoryError, check_inventory, load_inventory
from controller.secrets import SecretsError, SecretStore, generate_missing
from controller.settings import get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Simpul: the regency's network and public-WiFi controller.")
inventory_app = typer.Typer(no_args_is_help=True, help="Check the inventory.")
secrets_app = typer.Typer(no_args_is_help=True, help="Manage the secrets file.")
db_app = typer.Typer(no_args_is_help=True, help="The store.")
users_app = typer.Typer(no_args_is_help=True, help="Engineers' accounts.")
app.add_typer(inventory_app, name="inventory")
app.add_typer(secrets_app, name="secrets")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
lab_app = typer.Typer(no_args_is_help=True, help="The simulated demo network.")
app.add_typer(lab_app, name="lab")
# Capability sub-commands register below, one import + add_typer each (keep this marker).
from controller.cli.config import config_app  # noqa: E402

app.add_typer(config_app, name="config")
from controller.cli.hotspot import hotspot_app  # noqa: E402

app.add_typer(hotspot_app, name="hotspot")
from controller.cli.poll import poll_app  # noqa: E402

app.add_typer(poll_app, name="poll")
from controller.cli.bandwidth import bandwidth_app, report_app  # noqa: E402

app.add_typer(report_app, name="report")
app.add_typer(bandwidth_app, name="bandwidth")


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def load_secrets() -> SecretStore:
    try:
        return SecretStore.load(get_settings().resolved_secrets_file())
    except SecretsError as exc:
        raise fail(str(exc)) from None


InventoryDir = Annotated[
    Path | None, typer.Argument(help="Inventory directory [default: ./inventory]")
]


@inventory_app.command("check")
def inventory_check(
    directory: InventoryDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    skip_secrets: Annotated[bool, typer.Option(
        "--skip-secrets", help="Do not check that referenced secrets are set")] = False,
) -> None:
    """Validate the inventory: exit 0 with a summary, or 1 with every problem as path:line."""
    directory = directory or get_settings().inventory_dir
    secrets = None if skip_secrets else load_secrets()
    inventory, problems = check_inventory(directory, secrets)
    if as_json:
        out = {"ok": not problems, "problems": [p.as_dict() for p in problems]}
        if not problems:
            out["summary"] = inventory.summary()
        typer.echo(json.dumps(out, indent=2))
    elif problems:
        for problem in problems:
            typer.echo(str(problem))
        typer.echo(f"{len(problems)} problem(s) in {directory}", err=True)
    else:
        s = inventory.summary()
        typer.echo(f"{directory}: OK")
        typer.echo(f"  sites      {s['sites']:>4}  " +
                   ", ".join(f"{k} {v}" for k, v in s["sites_by_kind"].items()))
        typer.echo(f"  devices    {s['devices']:>4}  " +
                   ", ".join(f"{k} {v}" for k, v in s["devices_by_platform"].items()))
        typer.echo(f"  links      {s['links']:>4}")
        typer.echo(f"  hotspots   {s['hotspots']:>4}")
        typer.echo(f"  profiles   {s['credential_profiles']:>4} credential, "
                   f"{s['snmp_profiles']} SNMP")
        if s["uplink_down_bps"]:
            ratio = s["allocated_down_bps"] / s["uplink_down_bps"]
            typer.echo(f"  uplinks    {s['uplink_down_bps'] / 1e6:.0f} Mbit/s down; "
                       f"allocated {s['allocated_down_bps'] / 1e6:.0f} Mbit/s ({ratio:.0%})")
    raise typer.Exit(1 if problems else 0)


@secrets_app.command("init")
def secrets_init(directory: InventoryDir = None) -> None:
    """Generate random values for every secret the inventory names and the file lacks (demo)."""
    settings = get_settings()
    path = settings.secrets_file or settings.data_dir / "secrets.yaml"
    inventory, _ = check_inventory(directory or settings.inventory_dir, None)
    try:
        added = generate_missing(path, inventory.secret_names())
    except SecretsError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"{path}: {len(added)} secret(s) generated" + (f": {', '.join(added)}" if added
                                                              else ""))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the store's migrations."""
    from controller.store.db import migrate

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.resolved_database_url())
    typer.echo("store is up to date")


def _open_store():  # type: ignore[no-untyped-def]
    from controller.store.db import Store, migrate

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url()
    migrate(url)
    return Store(url)


@users_app.command("bootstrap")
def users_bootstrap(username: str = "admin") -> None:
    """Create the first admin if there are no users; print its password once."""
    from controller.store.users import ensure_first_admin

    store = _open_store()
    with store.session() as session:
        password = ensure_first_admin(session, username)
    store.dispose()
    if password:
        typer.echo("=" * 64)
        typer.echo(f"First admin created. Username: {username}   Password: {password}")
        typer.echo("Shown once; only its hash is stored. Change it after logging in.")
        typer.echo("=" * 64)


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise fail("no TTY to ask for the password: use --password-stdin")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("add")
def users_add(
    username: str,
    role: Annotated[str, typer.Option(help="viewer, operator or admin")] = "viewer",
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin")] = False,
) -> None:
    """Add an engineer's account."""
    from controller.store.users import UserError, add_user

    password = _read_password(password_stdin)
    store = _open_store()
    try:
        with store.session() as session:
            add_user(session, username, password, role, actor="cli")
    except UserError as exc:
        raise fail(str(exc)) from None
    finally:
        store.dispose()
    typer.echo(f"user {username!r} added with role {role}")


@users_app.command("passwd")
def users_passwd(
    username: str,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin")] = False,
) -> None:
    """Set an engineer's password (and unlock the account)."""
    from sqlalchemy import select

    from controller.auth import set_password
    from controller.store.models import User
    from controller.store.users import UserError

    password = _read_password(password_stdin)
    store = _open_store()
    try:
        with store.session() as session:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                raise UserError(f"unknown user {username!r}")
            set_password(session, user, password, actor="cli")
            user.locked_until, user.failed_logins = None, 0
    except UserError as exc:
        raise fail(str(exc)) from None
    finally:
        store.dispose()
    typer.echo(f"password of {username!r} changed")


@users_app.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List engineers' accounts."""
    from sqlalchemy import select

    from controller.store.models import User

    store = _open_store()
    with store.session() as session:
        rows = [{"username": u.username, "role": u.role, "disabled": u.disabled}
                for u in session.scalars(select(User).order_by(User.username))]
    store.dispose()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        typer.echo(f"{row['username']:<20} {row['role']:<9} "
                   f"{'disabled' if row['disabled'] else 'active'}")


@app.command()
def serve(
    only: Annotated[str | None, typer.Option(help="Run one part: admin, portal or poller")] = None,
    shard: Annotated[str | None, typer.Option(
        help="With --only poller: look after shard i of n (like 2/3), by site")] = None,
) -> None:
    """Run the controller: admin listener, portal listener and background loops."""
    from controller.context import Context
    from controller.serve import serve as run_serve
    from controller.shard import ALL, Shard

    if only not in (None, "admin", "portal", "poller"):
        raise fail(f"--only must be admin, portal or poller, not {only!r}", 2)
    part = ALL
    if shard is not None:
        if only != "poller":
            raise fail("--shard needs --only poller: the admin and portal listeners serve the "
                       "whole network", 2)
        try:
            part = Shard.parse(shard)
        except ValueError as exc:
            raise fail(str(exc), 2) from None
    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        ctx = Context.open(settings)
    except InventoryError as exc:
        typer.echo(str(exc), err=True)
        raise fail("the inventory has problems; fix them and start again") from None
    except SecretsError as exc:
        raise fail(str(exc)) from None
    ctx.shard = part
    try:
        asyncio.run(run_serve(ctx, only))
    finally:
        ctx.close()


@lab_app.command("up")
def lab_up(
    directory: InventoryDir = None,
    only: Annotated[list[str] | None, typer.Option(help="Run only these components")] = None,
) -> None:
    """Start a simulator for every inventory device (loopback only) until Ctrl-C."""
    from lab.runner import LabContext, run_lab

    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    secrets = load_secrets()
    try:
        inventory = load_inventory(directory or settings.inventory_dir, secrets)
    except InventoryError as exc:
        typer.echo(str(exc), err=True)
        raise fail("the inventory has problems") from None
    state_dir = settings.data_dir / "lab"
    state_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(run_lab(LabContext(inventory, secrets, state_dir), only))


def main() -> None:
    app(prog_name="simpul")


if __name__ == "__main__":
    main()
