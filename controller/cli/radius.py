"""`simpul radius config DIR`: FreeRADIUS's config for the hotspots with adapter radius."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from controller.cli.common import fail, load_inventory_or_exit, load_secrets
from controller.radius_config import RadiusConfigError, build_config
from controller.settings import get_settings, split_listen

radius_app = typer.Typer(no_args_is_help=True, help="FreeRADIUS for hotspots with adapter radius.")


@radius_app.command("config")
def config(
    out_dir: Annotated[Path, typer.Argument(help="Directory to write (freeradius -d DIR)")],
    rest_url: Annotated[str | None, typer.Option(
        help="Simpul's admin app as FreeRADIUS reaches it [default: from SIMPUL_ADMIN_LISTEN]")
    ] = None,
) -> None:
    """Build the config from deploy/freeradius/, the inventory and the secrets file; listen
    address and ports from SIMPUL_RADIUS_LISTEN / _AUTH_PORT / _ACCT_PORT."""
    settings = get_settings()
    secrets = load_secrets()
    inventory = load_inventory_or_exit(None, secrets)
    if rest_url is None:
        host, port = split_listen(settings.admin_listen)
        host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
        rest_url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    try:
        clients = build_config(out_dir, inventory, secrets, listen=settings.radius_listen,
                               auth_port=settings.radius_auth_port,
                               acct_port=settings.radius_acct_port, rest_url=rest_url)
    except RadiusConfigError as exc:
        raise fail(f"radius config: {exc}") from None
    typer.echo(f"{out_dir}: FreeRADIUS config for {len(clients)} NAS(es)"
               + (f": {', '.join(c.hotspot for c in clients)}" if clients else "")
               + f"; listening on {settings.radius_listen}:{settings.radius_auth_port}/"
               f"{settings.radius_acct_port}")
