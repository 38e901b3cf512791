"""`simpul secrets init`: fill the secrets file with random values (demo)."""

from __future__ import annotations

import typer

from captive_portal.radius import REST_TOKEN_SECRET
from controller.cli.common import InventoryDir, fail
from controller.inventory import check_inventory
from controller.secrets import SecretsError, generate_missing
from controller.settings import get_settings

secrets_app = typer.Typer(no_args_is_help=True, help="Manage the secrets file.")


@secrets_app.command("init")
def secrets_init(directory: InventoryDir = None) -> None:
    """Generate random values for every secret the inventory names and the file lacks (demo)."""
    settings = get_settings()
    path = settings.secrets_file or settings.data_dir / "secrets.yaml"
    inventory, _ = check_inventory(directory or settings.inventory_dir, None)
    try:
        # radius_rest_token: FreeRADIUS's bearer token to the admin app (simpul radius config)
        added = generate_missing(path, inventory.secret_names() | {REST_TOKEN_SECRET})
    except SecretsError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"{path}: {len(added)} secret(s) generated" + (f": {', '.join(added)}" if added
                                                              else ""))
