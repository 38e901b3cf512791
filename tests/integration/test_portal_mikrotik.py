"""The mikrotik adapter against the lab's RouterOS simulator, through the portal's service."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from captive_portal.errors import PortalError
from captive_portal.gateways.base import Client, Grant
from captive_portal.gateways.mikrotik import MikrotikGateway
from captive_portal.service import Portal
from controller.context import Context
from controller.devices.host_keys import known_hosts_path, trust_device
from controller.settings import Settings
from lab.ssh_sim import load_extensions, start_device
from lab.ssh_sim.server import host_key
from tests.conftest import free_port, move_device

pytestmark = pytest.mark.integration

CLIENT_IP, CLIENT_MAC = "10.200.4.31", "0a:bc:de:01:02:03"  # randomised MAC


@pytest.fixture
def portal(tmp_path: Path, demo_inventory: Path, demo_secrets: Path) -> Iterator[Portal]:
    address = f"127.0.{random.randint(100, 250)}.56"
    port = free_port(address)
    move_device(demo_inventory, "alun-alun-gw", address, port)
    settings = Settings(data_dir=tmp_path / "data", inventory_dir=demo_inventory,
                        portal_url="http://portal.test",
                        portal_sms_outbox=tmp_path / "outbox.jsonl")
    ctx = Context.open(settings)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    acceptors = []

    async def run() -> None:
        load_extensions()
        key = host_key(tmp_path / "sim" / "host_key")
        acceptors.append(await start_device(ctx.inventory.devices["alun-alun-gw"],
                                            ctx.inventory, ctx.secrets, tmp_path / "sim", key))
        started.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=30)
    assert started.is_set()
    trust_device(known_hosts_path(settings.data_dir), "alun-alun-gw", address, port)
    portal = Portal(ctx)
    try:
        yield portal
    finally:
        portal.close()

        async def shutdown() -> None:
            for acceptor in acceptors:
                acceptor.close()
                await acceptor.wait_closed()
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        ctx.close()


def test_login_accounting_disconnect_and_reconcile_over_routeros(portal: Portal) -> None:
    gateway = portal.gateways.get("alun-alun")
    assert isinstance(gateway, MikrotikGateway)
    with pytest.raises(PortalError) as unknown:
        portal.login.log_in(CLIENT_IP, "click_through", accepted_terms=True)
    assert unknown.value.code == "no_mac"  # the router has not seen this client
    gateway.run_lab_command(f"/ip hotspot host add address={CLIENT_IP} "
                            f"mac-address={CLIENT_MAC.upper()}")
    assert gateway.mac_for_ip(CLIENT_IP) == CLIENT_MAC

    view = portal.login.log_in(CLIENT_IP, "click_through", accepted_terms=True)
    [active] = gateway.allowed()
    assert active.client == Client(CLIENT_IP, CLIENT_MAC)
    assert portal.accounting.account_and_reap().accounted == 1
    # The router's counters (the simulator's client moves data) reach the session's totals.
    deadline = time.monotonic() + 30
    while not portal.stats.list_active_sessions("alun-alun")[0].bytes_down:
        assert time.monotonic() < deadline, "no bytes accounted from /ip hotspot active"
        time.sleep(0.5)
        portal.accounting.account_and_reap()
    [session] = portal.stats.list_active_sessions("alun-alun")
    assert 0 < session.bytes_up < session.bytes_down

    # a flushed router is restored; a stranger is removed
    gateway.revoke([Client(CLIENT_IP, CLIENT_MAC)])
    gateway.allow([Grant(Client("10.200.4.99", "02:00:00:00:00:99"), 600)])
    report = portal.reconciler.reconcile("alun-alun")
    assert (report.added, report.removed) == (1, 1)
    assert [a.client.ip for a in gateway.allowed()] == [CLIENT_IP]

    assert portal.accounting.disconnect(view.id, "budi")
    assert gateway.allowed() == []


def test_router_errors_become_gateway_errors(portal: Portal) -> None:
    from captive_portal.gateways.base import GatewayError

    gateway = portal.gateways.get("alun-alun")
    assert isinstance(gateway, MikrotikGateway)
    with pytest.raises(GatewayError, match="alun-alun-gw"):
        gateway.run_lab_command("/ip hotspot host add address=999.1.1.1 mac-address=zz")
