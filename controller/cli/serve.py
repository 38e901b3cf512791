"""`simpul serve`: check the options, open the context and hand it to `controller.serve`."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import typer

from controller.cli.common import fail, open_context
from controller.settings import get_settings


def serve(
    only: Annotated[str | None, typer.Option(
        help="Run one part: admin, portal, poller or worker (PostgreSQL)")] = None,
    shard: Annotated[str | None, typer.Option(
        help="With --only poller: look after shard i of n (like 2/3), by site")] = None,
) -> None:
    """Run the controller: admin listener, portal listener and background loops."""
    from controller.secrets import SecretsError
    from controller.serve import serve as run_serve
    from controller.shard import ALL, Shard

    if only not in (None, "admin", "portal", "poller", "worker"):
        raise fail(f"--only must be admin, portal, poller or worker, not {only!r}", 2)
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
    if only == "worker":
        from controller.worker import uses_job_queue

        if not uses_job_queue(settings.resolved_database_url()):
            raise fail("--only worker needs PostgreSQL (SIMPUL_DATABASE_URL=postgresql+psycopg"
                       "://...): on SQLite a plain `simpul serve` runs every job itself", 2)
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with open_context("the inventory has problems; fix them and start again") as ctx:
        ctx.shard = part
        try:
            asyncio.run(run_serve(ctx, only))
        except SecretsError as exc:
            raise fail(str(exc)) from None
