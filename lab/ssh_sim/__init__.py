"""SSH simulators of RouterOS, Cisco IOS and Linux gateway devices for the demo lab and tests.

One listener per inventory device on its mgmt_address:mgmt_port, speaking the platform's CLI
closely enough for netmiko's own drivers. Each device keeps its configuration under
<state_dir>/ssh_sim/ (a Linux gateway also its files, under <device>.root/, and a model of
its nftables: lab.ssh_sim.linux). RouterOS menus are table-driven; see
`lab.ssh_sim.routeros.HANDLERS` to add menus.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import Iterable
from typing import Any

import asyncssh

from controller.inventory import Device, Inventory
from controller.secrets import SecretStore
from lab.ssh_sim.cisco_ios import IOSCli, IOSDevice
from lab.ssh_sim.linux import LinuxCli, LinuxGateway
from lab.ssh_sim.routeros import VERSION as ROUTEROS_VERSION
from lab.ssh_sim.routeros import RouterOSCli, RouterOSDevice
from lab.ssh_sim.routeros_files import files_root
from lab.ssh_sim.server import host_key, listen
from lab.ssh_sim.state import DeviceState

log = logging.getLogger("simpul.lab.ssh_sim")
SIMULATED_PLATFORMS = ("mikrotik_routeros", "cisco_ios", "linux")
# Optional modules that add RouterOS menus (e.g. the captive portal's /ip hotspot active).
EXTENSIONS = ("lab.ssh_sim.routeros_hotspot", "lab.ssh_sim.routeros_radius")


def load_extensions() -> None:
    for name in EXTENSIONS:
        with contextlib.suppress(ModuleNotFoundError):
            importlib.import_module(name)


class _Task:
    """A background task closed like a listener (the RouterOS RADIUS runtime)."""

    def __init__(self, task: asyncio.Task[None]):
        self.task = task

    def close(self) -> None:
        self.task.cancel()

    async def wait_closed(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


class Listeners:
    """A device's SSH listener and its hotspot's HTTP servlet, closed together."""

    def __init__(self, servers: list[Any]):
        self.servers = servers

    def close(self) -> None:
        for server in self.servers:
            server.close()

    async def wait_closed(self) -> None:
        for server in self.servers:
            await server.wait_closed()


async def start_device(device: Device, inventory: Inventory, secrets: SecretStore,  # type: ignore[no-untyped-def]
                       state_dir, key: asyncssh.SSHKey,
                       hotspot_http: tuple[str, int] | None = None,
                       demo_citizen: bool = False) -> Any:
    """One device's simulator. A RouterOS device serves its files over SFTP; with
    `hotspot_http` (host, port) also its hotspot's HTTP servlet there (lab: the citizen's
    unauthenticated HTTP, which a real router intercepts on the hotspot interface), and with
    `demo_citizen` its host table has the demo's browser (routeros_hotspot_http.DEMO_CITIZEN)."""
    profile = inventory.credential_profiles[device.credentials]
    password = secrets.require(profile.password_secret)
    state = DeviceState(state_dir, device.name)
    host, port = str(device.mgmt_address), device.mgmt_port
    if device.platform == "mikrotik_routeros":
        router = RouterOSDevice(device.name, state,
                                str(device.vars.get("routeros_version", ROUTEROS_VERSION)))
        acceptor = await listen(device.name, host, port, key, profile.username, password,
                                lambda user: RouterOSCli(router, user), strip_suffix=True,
                                sftp_root=files_root(router))
        servers: list[Any] = [acceptor]
        with contextlib.suppress(ModuleNotFoundError):
            from lab.ssh_sim.routeros_radius import RadiusRuntime

            # RADIUS from the router's own address: accounting, Disconnect-Request.
            servers.append(_Task(asyncio.create_task(RadiusRuntime(router, host).run())))
        if hotspot_http is not None:
            from lab.ssh_sim.routeros_hotspot_http import add_demo_citizen, serve_hotspot

            servers.append(await serve_hotspot(router, *hotspot_http))
            if demo_citizen:
                add_demo_citizen(router)
        return Listeners(servers)
    if device.platform == "linux":
        gateway = LinuxGateway(device.name, state)
        return await listen(device.name, host, port, key, profile.username, password,
                            lambda user: LinuxCli(gateway, user))
    enable = secrets.require(profile.enable_secret) if profile.enable_secret else None
    switch = IOSDevice(device.name, state, profile.username, password, enable)
    return await listen(device.name, host, port, key, profile.username, password,
                        lambda user: IOSCli(switch, user))


async def run_simulators(inventory: Inventory, secrets: SecretStore, state_dir,  # type: ignore[no-untyped-def]
                         names: Iterable[str] | None = None,
                         skip_platforms: Iterable[str] = (),
                         hotspot_http_port: int | None = None) -> None:
    """Start every simulated device, then wait until cancelled and close the listeners.
    Devices of `skip_platforms` are left to another component (real Linux gateways). With
    `hotspot_http_port` (the demo), each RouterOS hotspot gateway also serves its hotspot's
    HTTP on its mgmt_address:hotspot_http_port, with the demo's browser as a client there."""
    load_extensions()
    key = host_key(state_dir / "ssh_sim" / "host_key")
    wanted = set(names) if names is not None else None
    acceptors = []
    try:
        for device in inventory.devices.values():
            if device.platform not in SIMULATED_PLATFORMS or device.platform in skip_platforms:
                continue
            if wanted is not None and device.name not in wanted:
                continue
            hotspot_http = None
            if hotspot_http_port is not None and device.platform == "mikrotik_routeros" and any(
                    h.gateway == device.name for h in inventory.hotspots.values()):
                hotspot_http = (str(device.mgmt_address), hotspot_http_port)
            try:
                acceptors.append(await start_device(device, inventory, secrets, state_dir, key,
                                                    hotspot_http=hotspot_http,
                                                    demo_citizen=hotspot_http is not None))
                if hotspot_http is not None:
                    log.info("ssh_sim: %s: hotspot HTTP on %s:%d", device.name, *hotspot_http)
            except OSError as exc:
                log.error("ssh_sim: %s: cannot listen on %s:%d: %s", device.name,
                          device.mgmt_address, device.mgmt_port, exc.strerror)
        log.info("ssh_sim: %d device(s) listening", len(acceptors))
        await asyncio.Event().wait()
    finally:
        for acceptor in acceptors:
            acceptor.close()


async def ssh_sim_component(lab) -> None:  # type: ignore[no-untyped-def]
    """The lab component: every RouterOS, IOS and Linux gateway device of the inventory (Linux
    gateways only when they cannot be real: lab.linux_gateways)."""
    await run_simulators(lab.inventory, lab.secrets, lab.state_dir,
                         skip_platforms=("linux",) if lab.real_linux else (),
                         hotspot_http_port=lab.hotspot_http_port)
