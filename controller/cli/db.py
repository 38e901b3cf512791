"""`simpul db`: apply the store's migrations; back up and restore Simpul itself."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from controller.cli.common import fail, migrated_database_url
from controller.settings import get_settings

db_app = typer.Typer(no_args_is_help=True, help="The store.")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the store's migrations."""
    migrated_database_url()
    typer.echo("store is up to date")


def _progress(message: str) -> None:
    typer.echo(message, err=True)


@db_app.command("backup")
def db_backup(file: Annotated[Path, typer.Argument(help="The archive to write (.tar.gz)")]
              ) -> None:
    """Back up the store, the device backups' git repository and the inventory's revision."""
    from controller.archive import ArchiveError, backup

    try:
        backup(get_settings(), file, progress=_progress)
    except ArchiveError as exc:
        raise fail(str(exc)) from None


@db_app.command("restore")
def db_restore(
    file: Annotated[Path, typer.Argument(help="An archive written by `simpul db backup`")],
    force: Annotated[bool, typer.Option(
        "--force", help="Replace a store and device backups that already hold data")] = False,
) -> None:
    """Restore an archive into this Simpul's data dir and store (stop Simpul first)."""
    from controller.archive import ArchiveError, restore

    try:
        restore(get_settings(), file, force=force, progress=_progress)
    except ArchiveError as exc:
        raise fail(str(exc)) from None
