"""What every `simpul` command shares: the error exit, opening the context, the store, inputs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from controller.inventory import Inventory, InventoryError, load_inventory
from controller.secrets import SecretsError, SecretStore
from controller.settings import get_settings

if TYPE_CHECKING:
    from controller.context import Context
    from controller.store.db import Store

INVENTORY_PROBLEMS = "the inventory has problems"

InventoryDir = Annotated[
    Path | None, typer.Argument(help="Inventory directory [default: ./inventory]")
]


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `error: message` on stderr; the caller raises the returned exit."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def load_secrets() -> SecretStore:
    """The secrets file named by the settings, or exit 1 with its problem."""
    try:
        return SecretStore.load(get_settings().resolved_secrets_file())
    except SecretsError as exc:
        raise fail(str(exc)) from None


def load_inventory_or_exit(directory: Path | None = None,
                           secrets: SecretStore | None = None) -> Inventory:
    """The inventory (default: the settings' directory), or exit 1 with every problem."""
    try:
        return load_inventory(directory or get_settings().inventory_dir, secrets)
    except InventoryError as exc:
        typer.echo(str(exc), err=True)
        raise fail(INVENTORY_PROBLEMS) from None


@contextmanager
def open_context(problem: str = INVENTORY_PROBLEMS) -> Iterator[Context]:
    """The running Simpul's context (closed after), or exit 1 naming what is wrong."""
    from controller.context import Context

    try:
        ctx = Context.open(get_settings())
    except InventoryError as exc:
        typer.echo(str(exc), err=True)
        raise fail(problem) from None
    except SecretsError as exc:
        raise fail(str(exc)) from None
    try:
        yield ctx
    finally:
        ctx.close()


def migrated_database_url() -> str:
    """The store's URL, its data directory created and its migrations applied."""
    from controller.store.db import migrate

    settings = get_settings()
    settings.ensure_data_dir()
    url = settings.resolved_database_url()
    migrate(url)
    return url


@contextmanager
def open_store() -> Iterator[Store]:
    """The store, migrated first and disposed of after."""
    from controller.store.db import Store

    store = Store(migrated_database_url())
    try:
        yield store
    finally:
        store.dispose()
