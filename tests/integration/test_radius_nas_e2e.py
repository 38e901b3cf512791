"""A RADIUS hotspot end to end: the lab's RouterOS hotspot (pushed from its template, adapter
radius) -> real FreeRADIUS (config from deploy/freeradius/ by `simpul radius config`) ->
Simpul's admin app (rlm_rest), with Simpul's portal handing the citizen a one-time credential.

The citizen's browser is an HTTP client on its own loopback address (the router's host table's
`lab-from`) towards the router's hotspot, and a TestClient from its hotspot address towards the
portal. Expected Accept attributes are worked out by hand from the inventory (defaults.yaml:
session 2h, idle 15m, rate 5M/2M down/up; the test sets a 5G daily quota) and checked where
RouterOS keeps them: the /ip hotspot active entry.
"""

from __future__ import annotations

import random
import re
import time
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from captive_portal.app import create_portal_app
from captive_portal.service import portal_for
from controller.cli import app as simpul
from controller.context import Context
from controller.inventory import check_inventory
from controller.jobs import ConfigJobs
from controller.secrets import generate_missing
from controller.settings import Settings, get_settings
from controller.store.portal import PortalSession
from controller.web.app import create_admin_app
from exporters.collectors import register_collectors
from lab.ssh_sim import routeros
from tests.conftest import free_port, move_device
from tests.integration.radius_lab import (
    free_udp_port,
    freeradius,
    hidden_fields,
    hotspot_bytes_metric,
    hotspot_request,
    radius_hotspot,
    require_freeradius,
    serving,
    simulated_router,
)

pytestmark = pytest.mark.integration

HOTSPOT, DEVICE = "pasar-besar", "pasar-besar-gw"
DNS_NAME = "wifi-pasar-besar.kualakahayan.go.id"  # inventory/hotspots.yaml
PORTAL = "http://10.10.0.5:8080"  # templates/defaults.yaml portal_url: what login.html names
CITIZEN_IP, OTHER_IP, MAC = "10.200.12.31", "10.200.12.32", "0A:BC:DE:01:02:03"


def _wait(predicate, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 20
    while not predicate():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.1)


def test_citizen_logs_in_through_the_nas_freeradius_and_simpul_then_is_disconnected(
        tmp_path: Path, demo_inventory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_freeradius()
    octet = random.randint(100, 250)
    router, admin = f"127.0.{octet}.56", f"127.0.{octet}.1"
    http_port, coa_port = free_port(router), free_udp_port(router)
    auth_port, acct_port = free_udp_port("127.0.0.1"), free_udp_port("127.0.0.1")
    # An Interim-Update every second (the profile's radius-interim-update), not every 5m.
    move_device(demo_inventory, DEVICE, router, free_port(router), radius_interim_update="1s")
    # The router sends from its address (FreeRADIUS's client), Simpul's Disconnect-Request
    # comes from 127.0.0.1 (the loopback route's source), the /radius server's address.
    radius_hotspot(demo_inventory, HOTSPOT, daily_quota={"time": "4h", "bytes": "5G"},
                   radius={"secret": "radius_pasar_besar", "server": "127.0.0.1",
                           "auth_port": auth_port, "acct_port": acct_port,
                           "coa_port": coa_port})
    secrets_file = tmp_path / "secrets.yaml"
    generate_missing(secrets_file, check_inventory(demo_inventory)[0].secret_names()
                     | {"radius_rest_token"})
    admin_listen = f"{admin}:{free_port(admin)}"
    for key, value in {"DATA_DIR": tmp_path / "data", "INVENTORY_DIR": demo_inventory,
                       "SECRETS_FILE": secrets_file, "ADMIN_LISTEN": admin_listen,
                       "PORTAL_URL": PORTAL, "PORTAL_NAME": "", "RADIUS_LISTEN": "127.0.0.1",
                       "RADIUS_AUTH_PORT": auth_port, "RADIUS_ACCT_PORT": acct_port,
                       "RADIUS_REST_FROM": "127.0.0.0/8"}.items():
        monkeypatch.setenv(f"SIMPUL_{key}", str(value))
    conf = tmp_path / "freeradius"
    get_settings.cache_clear()  # the in-process CLI reads the settings above, not a cached one
    built = CliRunner().invoke(simpul, ["radius", "config", str(conf)])
    assert built.exit_code == 0 and "pasar-besar" in built.output, built.output
    settings = Settings()
    ctx = Context.open(settings)
    register_collectors(ctx, portal=lambda: portal_for(ctx))
    try:
        with serving([(create_admin_app(ctx), admin_listen)], settings), \
                freeradius(conf, tmp_path / "freeradius.log"), \
                simulated_router(ctx, DEVICE, tmp_path / "sim", (router, http_port)) as nas:
            result = ConfigJobs(ctx.inventory, ctx.secrets, settings.data_dir).push_one(
                ctx.inventory.devices[DEVICE])
            assert result.status == "changed", result.as_json()
            for ip, last in ((CITIZEN_IP, 31), (OTHER_IP, 32)):
                assert routeros.execute(nas, routeros.parse(
                    f"/ip hotspot host add address={ip} mac-address={MAC} "
                    f"lab-from=127.0.{octet}.{last}")) == ""
            citizen = f"127.0.{octet}.31"

            # An OS probe meets rlogin.html, then the hotspot's login.html, which sends the
            # browser to the portal with $(mac) and $(link-login-only).
            _, _, rlogin = hotspot_request(router, http_port, citizen,
                                         "connectivitycheck.gstatic.com", "/generate_204")
            target = urlsplit(re.search(r"url=([^\"]+)\"", rlogin).group(1))  # type: ignore[union-attr]
            _, _, login_page = hotspot_request(router, http_port, citizen, target.netloc,
                                             f"{target.path}?{target.query}")
            sent = hidden_fields(login_page)
            assert (sent["mac"], sent["login"]) == (MAC, f"http://{DNS_NAME}/login")

            # The portal admits the citizen and hands the browser a one-time credential.
            browser = TestClient(create_portal_app(ctx), base_url=PORTAL,
                                 client=(CITIZEN_IP, 40000), follow_redirects=False)
            assert browser.get("/login", params=sent).status_code == 200
            handoff = browser.post("/login/click", data={"accept": "yes"})
            assert handoff.status_code == 200, handoff.text
            action = re.search(r'<form name="nas" action="([^"]+)"', handoff.text)
            assert action and action.group(1) == f"http://{DNS_NAME}/login"
            credential = hidden_fields(handoff.text)

            # The browser posts it to the hotspot; the hotspot asks FreeRADIUS, which asks
            # Simpul; the Accept's attributes become the active entry's.
            status, location, page = hotspot_request(router, http_port, citizen, DNS_NAME,
                                                   "/login", credential)
            assert (status, location) == (302, f"{PORTAL}/success"), page
            with nas.lock:
                [active] = [dict(r) for r in nas.data["list"]["/ip hotspot active"]]
            assert active["user"] == credential["username"] and active["radius"] == "yes"
            assert active["address"] == CITIZEN_IP and active["mac-address"] == MAC
            assert active["session-timeout"] in (7200, 7199)  # 2h; a second may pass
            assert active["idle-timeout"] == 900  # 15m
            assert active["rate-limit"] == "2000000/5000000"  # rx/tx: upload 2M, download 5M
            assert active["limit-bytes-total"] == 5_000_000_000  # the day's 5G, none used

            # Accounting: the router's counters reach the session and /metrics. The lab's
            # client receives `rate` bytes/s and sends an eighth of that (routeros_hotspot).
            with ctx.store.session() as db:
                row = db.scalar(select(PortalSession).where(PortalSession.hotspot == HOTSPOT))
                assert row is not None and row.ended_at is None
                session_id = row.id

            def reported() -> tuple[int, int, float, float] | None:
                with ctx.store.session() as db:
                    first = db.get(PortalSession, session_id)
                    assert first is not None
                    up, down = first.bytes_up, first.bytes_down
                metric = (hotspot_bytes_metric(f"http://{admin_listen}", HOTSPOT, "up"),
                          hotspot_bytes_metric(f"http://{admin_listen}", HOTSPOT, "down"))
                with ctx.store.session() as db:
                    again = db.get(PortalSession, session_id)
                    assert again is not None
                    stable = (again.bytes_up, again.bytes_down) == (up, down)
                return (up, down, *metric) if stable and down > 0 else None

            _wait(lambda: reported() is not None, "an Interim-Update's bytes in the store")
            up, down, metric_up, metric_down = reported() or (0, 0, 0.0, 0.0)
            rate = 20_000 + zlib.crc32(MAC.encode()) % 180_000
            assert down % rate == 0 and up == down // 8, (up, down, rate)
            assert (metric_up, metric_down) == (up, down)

            # The same credential replayed by another address with the same MAC: Reject, the
            # hotspot's login page with the error, nobody else logged in.
            status, _, page = hotspot_request(router, http_port, f"127.0.{octet}.32", DNS_NAME,
                                            "/login", credential)
            assert status == 200 and hidden_fields(page)["error"], page
            with nas.lock:
                assert [r["address"] for r in nas.data["list"]["/ip hotspot active"]] == [
                    CITIZEN_IP]

            # An engineer's disconnect reaches the router as a Disconnect-Request.
            ended = CliRunner().invoke(simpul, ["hotspot", "disconnect", str(session_id)])
            assert ended.exit_code == 0, ended.output
            with nas.lock:
                assert nas.data["list"]["/ip hotspot active"] == []
            with ctx.store.session() as db:
                row = db.get(PortalSession, session_id)
                assert row is not None and row.end_reason == "engineer"
    finally:
        ctx.close()
        get_settings.cache_clear()
