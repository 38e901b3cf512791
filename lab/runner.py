"""`simpul lab up`: the simulated network of the demo, one instance per inventory device.

Each component is an async function `(LabContext) -> None` that starts its simulators, then
waits until cancelled and cleans up. Components register in COMPONENTS.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.inventory import Inventory
from controller.secrets import SecretStore

log = logging.getLogger("simpul.lab")


@dataclass
class LabContext:
    inventory: Inventory
    secrets: SecretStore
    state_dir: Path  # per-device state the simulators keep between restarts
    ready: asyncio.Event | None = None
    real_linux: bool = False  # `linux` devices are real namespaces (lab.linux_gateways)
    hotspot_http_port: int | None = None  # RouterOS hotspots' HTTP on their address (demo)


LabComponent = Callable[[LabContext], Coroutine[Any, Any, None]]
COMPONENTS: dict[str, LabComponent] = {}


async def run_lab(lab: LabContext, only: list[str] | None = None) -> None:
    """Run every registered component until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    names = [n for n in COMPONENTS if only is None or n in only]
    if "linux_gw" in names:
        from lab.netns import available

        why_not = available()
        lab.real_linux = why_not is None
        if why_not is not None:
            names.remove("linux_gw")
            log.warning("lab: Linux gateways are simulated (real ones %s)", why_not)
    tasks = [asyncio.create_task(COMPONENTS[n](lab), name=f"lab:{n}") for n in names]
    log.info("lab: started %s for %d devices", ", ".join(names) or "nothing",
             len(lab.inventory.devices))
    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    waiter.cancel()
    failed = [r for r in results if isinstance(r, Exception)]
    for error in failed:
        log.error("lab component failed: %s", error)
    if failed:
        raise SystemExit(1)


from lab.ssh_sim import ssh_sim_component  # noqa: E402

COMPONENTS["ssh_sim"] = ssh_sim_component
from lab.snmp_agents import snmp_agents_component  # noqa: E402

COMPONENTS["snmp"] = snmp_agents_component
from lab.linux_gateways import linux_gateways_component  # noqa: E402

COMPONENTS["linux_gw"] = linux_gateways_component
