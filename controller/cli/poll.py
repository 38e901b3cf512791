"""`simpul poll`: run SNMP poll (and ICMP probe) cycles by hand and print the exposition."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Annotated

import typer
from prometheus_client import CollectorRegistry, generate_latest

from controller.cli.common import load_inventory_or_exit, load_secrets
from controller.inventory import Inventory
from controller.secrets import SecretStore
from controller.settings import get_settings

poll_app = typer.Typer(help="Poll devices over SNMP and print Prometheus metrics.")


async def _one_cycle(inventory: Inventory, secrets: SecretStore, probes: bool) -> str:
    from exporters.collectors import InventoryCollector, PollCollector
    from exporters.loop import poller_options
    from exporters.probes import can_probe, probe, targets_from
    from exporters.snmp import Poller
    from exporters.state import LatestReadings

    settings = get_settings()
    latest = LatestReadings()
    poller = Poller(inventory, secrets, poller_options(settings))
    try:
        probing = None
        if probes and can_probe():
            probing = asyncio.create_task(asyncio.to_thread(
                probe, targets_from(inventory), settings.probe_count, settings.probe_timeout_s))
        latest.cycle = await poller.poll_once()
        if probing is not None:
            latest.probes = await probing
    finally:
        await poller.aclose()
    registry = CollectorRegistry()
    registry.register(InventoryCollector(lambda: inventory))
    registry.register(PollCollector(latest, lambda: inventory))
    down = [d for d in latest.cycle.devices.values() if not d.up]
    for reading in down:
        typer.echo(f"device {reading.device} (site {reading.site}): down: {reading.error}",
                   err=True)
    typer.echo(f"polled {len(latest.cycle.devices)} device(s), {len(down)} down, "
               f"in {latest.cycle.duration_s:.2f} s", err=True)
    if not latest.cycle.any_up:
        raise typer.Exit(1)
    return generate_latest(registry).decode()


@poll_app.callback(invoke_without_command=True)
def poll(
    once: Annotated[bool, typer.Option("--once", help="Run one cycle, print, exit")] = False,
    inventory_dir: Annotated[Path | None, typer.Option(
        "--inventory", help="Inventory directory [default: SIMPUL_INVENTORY_DIR]")] = None,
    probes: Annotated[bool, typer.Option(help="Also send ICMP probes (root only)")] = True,
) -> None:
    """Poll every SNMP-enabled device; exit 1 if no device could be polled."""
    settings = get_settings()
    logging.basicConfig(level="WARNING", format="%(levelname)s %(name)s: %(message)s")
    secrets = load_secrets()
    inventory = load_inventory_or_exit(inventory_dir, secrets)
    while True:
        started = time.monotonic()
        typer.echo(asyncio.run(_one_cycle(inventory, secrets, probes)), nl=False)
        if once:
            return
        time.sleep(max(0.0, settings.poll_interval_s - (time.monotonic() - started)))
