"""`python -m lab` (also `simpul lab`): the simulated demo network's own command line."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer

from controller.inventory import InventoryError, load_inventory
from controller.secrets import SecretsError, SecretStore
from controller.settings import get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="The simulated demo network.")


@app.callback()
def lab() -> None:
    """Keeps `up` a sub-command: typer would make a lone command the whole app."""


@app.command("up")
def up(
    directory: Annotated[Path | None, typer.Argument(
        help="Inventory directory [default: ./inventory]")] = None,
    only: Annotated[list[str] | None, typer.Option(help="Run only these components")] = None,
    hotspot_http_port: Annotated[int | None, typer.Option(
        min=1, max=65535, help="Serve each RouterOS hotspot gateway's hotspot HTTP (login "
        "pages, /login) on its mgmt address and this port, with this machine's browser "
        "(127.0.0.1) in its host table: the demo's citizen")] = None,
) -> None:
    """Start a simulator for every inventory device (loopback only) until Ctrl-C."""
    from lab.runner import LabContext, run_lab

    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        secrets = SecretStore.load(settings.resolved_secrets_file())
        inventory = load_inventory(directory or settings.inventory_dir, secrets)
    except SecretsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except InventoryError as exc:
        typer.echo(str(exc), err=True)
        typer.echo("error: the inventory has problems", err=True)
        raise typer.Exit(1) from None
    state_dir = settings.data_dir / "lab"
    state_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(run_lab(LabContext(inventory, secrets, state_dir,
                                   hotspot_http_port=hotspot_http_port), only))


@app.command("seed")
def seed(device: str, file: Path,
         vlans: Path | None = typer.Option(None, "--vlans")) -> None:  # noqa: B008 (typer)
    """Make lab device DEVICE's running configuration FILE (a RouterOS /export or a Cisco IOS
    running-config; --vlans: the IOS VLAN database). Works with or without `lab up`; exits 1
    naming FILE:LINE if refused."""
    from controller.inventory import check_inventory
    from lab.seed import SEEDERS, SeedError

    settings = get_settings()
    inventory, _ = check_inventory(settings.inventory_dir)
    found = inventory.devices.get(device)
    if found is None:
        typer.echo(f"error: no device {device!r} in the inventory", err=True)
        raise typer.Exit(1)
    seeder = SEEDERS.get(found.platform)
    if seeder is None:
        typer.echo(f"error: {device} is a {found.platform} device; `lab seed` knows "
                   f"{', '.join(sorted(SEEDERS))}", err=True)
        raise typer.Exit(1)
    if not file.is_file():
        typer.echo(f"error: {file}: no such file", err=True)
        raise typer.Exit(1)
    state_dir = settings.data_dir / "lab"
    try:
        seeder(found, file, state_dir, vlans)
    except SeedError as exc:
        for problem in exc.problems:
            typer.echo(problem, err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{device}: seeded from {file}")


if __name__ == "__main__":
    app()
