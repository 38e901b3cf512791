"""`simpul db upgrade`: apply the store's migrations."""

from __future__ import annotations

import typer

from controller.cli.common import migrated_database_url

db_app = typer.Typer(no_args_is_help=True, help="The store.")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the store's migrations."""
    migrated_database_url()
    typer.echo("store is up to date")
