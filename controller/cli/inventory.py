"""`simpul inventory check`: validate the inventory and summarise it."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from controller.cli.common import InventoryDir, load_secrets
from controller.inventory import check_inventory
from controller.settings import get_settings

inventory_app = typer.Typer(no_args_is_help=True, help="Check the inventory.")


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
