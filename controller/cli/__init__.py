"""`simpul` commands: parse, call, print. The work lives in the modules they call.

One typer sub-app per area, each in its own module; what they share is in `common`.
"""

from __future__ import annotations

import sys

import typer

from controller.cli.bandwidth import bandwidth_app
from controller.cli.config import config_app
from controller.cli.db import db_app
from controller.cli.deploy import deploy_app
from controller.cli.devices import devices_app
from controller.cli.hotspot import hotspot_app
from controller.cli.inventory import inventory_app
from controller.cli.lab import lab_app
from controller.cli.poll import poll_app
from controller.cli.radius import radius_app
from controller.cli.report import report_app
from controller.cli.secrets import secrets_app
from controller.cli.serve import serve
from controller.cli.users import users_app

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Simpul: the regency's network and public-WiFi controller.")
app.command()(serve)
app.add_typer(inventory_app, name="inventory")
app.add_typer(secrets_app, name="secrets")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(lab_app, name="lab")
app.add_typer(config_app, name="config")
app.add_typer(devices_app, name="devices")
app.add_typer(hotspot_app, name="hotspot")
app.add_typer(poll_app, name="poll")
app.add_typer(report_app, name="report")
app.add_typer(bandwidth_app, name="bandwidth")
app.add_typer(deploy_app, name="deploy")
app.add_typer(radius_app, name="radius")


@app.callback()
def check_settings() -> None:
    """A refused SIMPUL_* value stops every command before it does anything, with one line per
    value naming the variable (help still works)."""
    from controller.settings import SettingsError, load_settings

    if "--help" in sys.argv[1:]:
        return
    try:
        load_settings()
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def main() -> None:
    app(prog_name="simpul")
