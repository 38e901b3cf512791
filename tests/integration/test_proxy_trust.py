"""Client addresses on real listeners: X-Forwarded-For counts only from SIMPUL_TRUSTED_PROXIES.

The listeners are serve's own (uvicorn) on 127.0.N.x; the client connects from 127.0.0.1,
the address uvicorn trusted by default, and HAProxy runs deploy/haproxy/haproxy.cfg.
"""

from __future__ import annotations

import asyncio
import random
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

import httpx
import pytest
from sqlalchemy import select

from captive_portal.app import create_portal_app
from controller.context import Context
from controller.serve import _server
from controller.settings import Settings
from controller.store.models import AuditLog
from controller.store.portal import PortalSession
from controller.web.app import create_admin_app
from tests.conftest import DEMO_INVENTORY, ROOT, free_port

pytestmark = pytest.mark.integration

CITIZEN = "10.200.0.25"  # taman-kota's subnet: click-through
HAPROXY_CFG = ROOT / "deploy" / "haproxy" / "haproxy.cfg"


def make_settings(tmp_path: Path, secrets: Path, **extra: Any) -> Settings:
    n = random.randint(100, 250)
    admin, portal = f"127.0.{n}.1", f"127.0.{n}.2"
    portal_listen = f"{portal}:{free_port(portal)}"
    return Settings(data_dir=tmp_path / "data", inventory_dir=DEMO_INVENTORY,
                    secrets_file=secrets, admin_listen=f"{admin}:{free_port(admin)}",
                    portal_listen=portal_listen, portal_url=f"http://{portal_listen}",
                    portal_gateway="memory", **extra)


@contextmanager
def listeners(settings: Settings) -> Iterator[Context]:
    """The admin and portal listeners as `simpul serve` builds them, each in a thread."""
    ctx = Context.open(settings)
    servers = [_server(create_admin_app(ctx), settings.admin_listen, settings),
               _server(create_portal_app(ctx), settings.portal_listen, settings)]
    threads = [threading.Thread(target=asyncio.run, args=(s.serve(),), daemon=True)
               for s in servers]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 30
        while not all(s.started for s in servers):
            assert time.monotonic() < deadline, "listeners did not start"
            time.sleep(0.05)
        yield ctx
    finally:
        for server in servers:
            server.should_exit = True
        for thread in threads:
            thread.join(timeout=30)
        ctx.close()


def local_client() -> httpx.Client:
    """A client connecting from 127.0.0.1."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.1"), timeout=30)


def admin_login(client: httpx.Client, base: str, username: str,
                headers: dict[str, str] | None = None) -> int:
    page = client.get(f"{base}/login", headers=headers)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    response = client.post(f"{base}/login", headers=headers, data={
        "username": username, "password": "salah-salah-salah", "csrf_token": token.group(1)})
    return response.status_code


def login_sources(ctx: Context) -> list[str]:
    with ctx.store.session() as session:
        details = session.scalars(select(AuditLog.detail).where(
            AuditLog.action == "user.login").order_by(AuditLog.id)).all()
    return [d["source"] for d in details if d]


def portal_sessions(ctx: Context) -> list[str]:
    with ctx.store.session() as session:
        return list(session.scalars(select(PortalSession.client_ip)))


def test_forwarded_for_from_an_untrusted_peer_changes_nothing(tmp_path: Path,
                                                              demo_secrets: Path) -> None:
    """By default no proxy is trusted, not even 127.0.0.1: a local process cannot pose as a
    citizen to open a session, nor rotate the header past the admin login limit."""
    settings = make_settings(tmp_path, demo_secrets)
    assert settings.trusted_proxy_list() == []
    with listeners(settings) as ctx, local_client() as client:
        portal = settings.portal_url
        spoof = {"X-Forwarded-For": CITIZEN}
        response = client.post(f"{portal}/login/click", data={"accept": "yes"}, headers=spoof)
        assert response.status_code == 403  # 127.0.0.1 is on no hotspot
        assert client.get(f"{portal}/api/captive", headers=spoof).json() == {"captive": False}
        assert portal_sessions(ctx) == []

        admin = f"http://{settings.admin_listen}"
        codes = [admin_login(client, admin, "budi", {"X-Forwarded-For": f"10.9.{i}.7"})
                 for i in range(11)]
        assert codes[:10] == [401] * 10 and codes[10] == 429
        assert set(login_sources(ctx)) == {"127.0.0.1"}


def test_forwarded_for_counts_from_a_proxy_the_settings_name(tmp_path: Path,
                                                             demo_secrets: Path) -> None:
    settings = make_settings(tmp_path, demo_secrets, trusted_proxies="127.0.0.1")
    with listeners(settings) as ctx, local_client() as client:
        portal = settings.portal_url
        response = client.post(f"{portal}/login/click", data={"accept": "yes"},
                               headers={"X-Forwarded-For": CITIZEN})
        assert response.status_code == 303
        assert portal_sessions(ctx) == [CITIZEN]

        admin = f"http://{settings.admin_listen}"
        codes = [admin_login(client, admin, "budi", {"X-Forwarded-For": f"10.9.{i}.7"})
                 for i in range(3)]
        assert codes == [401] * 3
        assert login_sources(ctx) == [f"10.9.{i}.7" for i in range(3)]


def test_a_trusted_proxy_setting_refuses_what_is_not_an_address() -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        Settings(trusted_proxies="10.10.0.5, proxy.example")
    assert Settings(trusted_proxies="10.10.0.5, 10.20.0.0/24").trusted_proxy_list() == [
        "10.10.0.5", "10.20.0.0/24"]


def wait_port(host: str, port: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"haproxy exited: {proc.communicate()[1]}")
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"haproxy did not listen on {host}:{port}")


def test_haproxy_example_forwards_the_real_client_and_drops_a_forged_header(
        tmp_path: Path, demo_secrets: Path) -> None:
    """deploy/haproxy/haproxy.cfg as shipped, at test addresses: with SIMPUL_TRUSTED_PROXIES
    naming it, both listeners see the client's own address, never one the client wrote."""
    binary = shutil.which("haproxy")
    if binary is None:
        pytest.skip("haproxy not installed (Debian package haproxy; ./test installs it)")
    assert subprocess.run([binary, "-c", "-f", str(HAPROXY_CFG)], capture_output=True,
                          timeout=30).returncode == 0
    n = random.randint(100, 250)
    proxy = f"127.0.{n}.3"
    settings = make_settings(tmp_path, demo_secrets, trusted_proxies=proxy,
                             portal_demo_hotspot="taman-kota", allowed_hosts=proxy)
    portal_port, admin_port = free_port(proxy), free_port(proxy)
    text = HAPROXY_CFG.read_text()
    for example, real in (("10.10.0.5:80\n", f"{proxy}:{portal_port}\n"),
                          ("10.10.0.5:8000\n", f"{proxy}:{admin_port}\n"),
                          ("source 10.10.0.5", f"source {proxy}"),
                          ("10.10.0.11:8080", settings.portal_listen),
                          ("10.10.0.12:8080", settings.portal_listen),
                          ("10.10.0.11:8000", settings.admin_listen),
                          ("10.10.0.12:8000", settings.admin_listen)):
        assert example in text, example
        text = text.replace(example, real)
    config = tmp_path / "haproxy.cfg"
    config.write_text(text)
    with listeners(settings) as ctx, local_client() as client:
        proc = subprocess.Popen([binary, "-db", "-f", str(config)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            wait_port(proxy, admin_port, proc)
            wait_port(proxy, portal_port, proc)
            forged = {"X-Forwarded-For": CITIZEN}
            assert admin_login(client, f"http://{proxy}:{admin_port}", "budi", forged) == 401
            assert login_sources(ctx) == ["127.0.0.1"]  # the client, not the proxy or forgery
            # The portal behind the proxy under its own name (the Host the phones use).
            host = {"Host": settings.portal_listen, **forged}
            response = client.post(f"http://{proxy}:{portal_port}/login/click",
                                   data={"accept": "yes"}, headers=host)
            assert response.status_code == 303, response.text
            assert portal_sessions(ctx) == ["127.0.0.1"]
        finally:
            proc.terminate()
            proc.wait(timeout=30)
