"""Set-up the RADIUS integration tests share: Simpul's apps on loopback listeners, FreeRADIUS
started from a config directory built from deploy/freeradius/, a hotspot switched to adapter
radius in an inventory copy, and the lab's simulated RouterOS on a test address."""

from __future__ import annotations

import asyncio
import html
import http.client
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import yaml

from controller.context import Context
from controller.devices.host_keys import known_hosts_path, trust_device
from controller.serve import _server
from controller.settings import Settings


def free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def require_freeradius() -> None:
    if shutil.which("freeradius") is None or shutil.which("radclient") is None:
        pytest.skip("needs freeradius and radclient (freeradius, freeradius-utils)")


def radius_hotspot(inventory_dir: Path, name: str, **fields: Any) -> None:
    """Switch a hotspot of an inventory copy to adapter radius, with `fields` (its radius
    block, a daily quota ...) set."""
    path = inventory_dir / "hotspots.yaml"
    data = yaml.safe_load(path.read_text())
    [hotspot] = [h for h in data["hotspots"] if h["name"] == name]
    hotspot.update({"adapter": "radius", **fields})
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def hotspot_bytes_metric(admin_url: str, hotspot: str, direction: str) -> float:
    """simpul_hotspot_client_bytes_total of a hotspot and direction on /metrics (0 if absent)."""
    text = httpx.get(f"{admin_url}/metrics", timeout=30).text
    for labels in (f'direction="{direction}",hotspot="{hotspot}"',
                   f'hotspot="{hotspot}",direction="{direction}"'):
        found = re.search(rf"^simpul_hotspot_client_bytes_total\{{{labels}\}} (\S+)$", text,
                          re.M)
        if found:
            return float(found.group(1))
    return 0.0


def hotspot_request(router: str, port: int, source: str, host: str, path: str,
                    form: dict[str, str] | None = None) -> tuple[int, str, str]:
    """One request of a citizen's browser (from `source`) to a lab hotspot's HTTP for `host`:
    (status, Location, body); a form is POSTed."""
    conn = http.client.HTTPConnection(router, port, timeout=10, source_address=(source, 0))
    try:
        body = urlencode(form) if form is not None else None
        conn.putrequest("POST" if form is not None else "GET", path, skip_host=True)
        conn.putheader("Host", host)
        if body is not None:
            conn.putheader("Content-Type", "application/x-www-form-urlencoded")
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body.encode() if body is not None else None)
        answer = conn.getresponse()
        return answer.status, answer.getheader("Location") or "", answer.read().decode()
    finally:
        conn.close()


def hidden_fields(page: str) -> dict[str, str]:
    """A page's hidden form fields (the hotspot's login.html, the portal's hand-off form)."""
    return {name: html.unescape(value) for name, value in
            re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)}


@contextmanager
def serving(apps: list[tuple[Any, str]], settings: Settings) -> Iterator[None]:
    """ASGI apps on their listen addresses (host:port), each in a thread, until the block
    ends."""
    servers = [_server(app, listen, settings) for app, listen in apps]
    threads = [threading.Thread(target=asyncio.run, args=(s.serve(),), daemon=True)
               for s in servers]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 30
        while not all(s.started for s in servers):
            assert time.monotonic() < deadline, "listeners did not start"
            time.sleep(0.05)
        yield
    finally:
        for server in servers:
            server.should_exit = True
        for thread in threads:
            thread.join(timeout=30)


@contextmanager
def freeradius(conf: Path, log_path: Path, debug: bool = False) -> Iterator[None]:
    """FreeRADIUS in the foreground with `-d conf`, until the block ends. `debug` (-X) only on
    demand: its log shows the REST bearer token."""
    log = log_path.open("w")
    daemon = subprocess.Popen(["freeradius", "-X" if debug else "-f", "-d", str(conf)],
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while "Ready to process requests" not in log_path.read_text():
            assert daemon.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "FreeRADIUS did not start"
            time.sleep(0.05)
        yield
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
        log.close()


@contextmanager
def simulated_router(ctx: Context, name: str, state_dir: Path,
                     hotspot_http: tuple[str, int] | None = None) -> Iterator[Any]:
    """The lab's RouterOS for an inventory device (its SSH, RADIUS runtime and, with
    `hotspot_http`, its hotspot's HTTP), its host key trusted; yields the simulated device."""
    from lab.ssh_sim import load_extensions, start_device
    from lab.ssh_sim.routeros_radius import RUNTIMES
    from lab.ssh_sim.server import host_key

    device = ctx.inventory.devices[name]
    loop = asyncio.new_event_loop()
    listeners = []

    async def run() -> None:
        load_extensions()
        key = host_key(state_dir / "host_key")
        listeners.append(await start_device(device, ctx.inventory, ctx.secrets, state_dir,
                                            key, hotspot_http=hotspot_http))

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=30)
        trust_device(known_hosts_path(ctx.settings.data_dir), name, str(device.mgmt_address),
                     device.mgmt_port)
        yield next((r.device for r in list(RUNTIMES.values()) if r.device.name == name), None)
    finally:
        async def shutdown() -> None:
            for listener in listeners:
                listener.close()
                await listener.wait_closed()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def radius_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, inventory_dir: Path,
                    admin_listen: str, portal_url: str, auth_port: int, acct_port: int,
                    hotspot: str) -> Settings:
    """Secrets for every name the inventory copy uses, Simpul's settings for FreeRADIUS on
    127.0.0.1 (auth_port, acct_port) asking the admin app on `admin_listen`, and FreeRADIUS's
    config built by `simpul radius config` into tmp_path/freeradius (it names `hotspot`)."""
    from typer.testing import CliRunner

    from controller.cli import app as simpul
    from controller.inventory import check_inventory
    from controller.secrets import generate_missing
    from controller.settings import get_settings

    secrets_file = tmp_path / "secrets.yaml"
    generate_missing(secrets_file, check_inventory(inventory_dir)[0].secret_names()
                     | {"radius_rest_token"})
    for key, value in {"DATA_DIR": tmp_path / "data", "INVENTORY_DIR": inventory_dir,
                       "SECRETS_FILE": secrets_file, "ADMIN_LISTEN": admin_listen,
                       "PORTAL_URL": portal_url, "PORTAL_NAME": "",
                       "RADIUS_LISTEN": "127.0.0.1", "RADIUS_AUTH_PORT": auth_port,
                       "RADIUS_ACCT_PORT": acct_port,
                       "RADIUS_REST_FROM": "127.0.0.0/8"}.items():
        monkeypatch.setenv(f"SIMPUL_{key}", str(value))
    get_settings.cache_clear()  # the in-process CLI reads the settings above, not a cached one
    built = CliRunner().invoke(simpul, ["radius", "config", str(tmp_path / "freeradius")])
    assert built.exit_code == 0 and hotspot in built.output, built.output
    return Settings()
