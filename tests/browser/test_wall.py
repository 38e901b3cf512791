"""The command-centre wall and the public page in real Chromium against `simpul serve --only
admin` (no pollers: the demo lab's addresses stay untouched): a display token opens /wall,
which refreshes in place; /publik needs no login and shows no IP, MAC or phone. Screenshots
(1920x1080) go to the test's tmp dir."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.browser import wait_until_serving
from tests.conftest import DEMO_INVENTORY, ROOT, free_port
from tests.unit.test_web_wall import IPV4, IPV6, MAC, PHONE

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "controller.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def add_sessions(url: str, hotspot: str, count: int, *, open_: bool = False) -> None:
    """Demo-like sessions: addresses, MACs, hashes and bytes, as the portal stores them."""
    from controller.store.db import Store
    from controller.store.portal import PortalSession

    store = Store(url)
    now = datetime.now(UTC)
    with store.session() as session:
        for i in range(count):
            start = now - timedelta(minutes=40 + i)
            session.add(PortalSession(
                hotspot=hotspot, method="phone_otp", client_ip=f"10.200.0.{20 + i}",
                client_mac=f"da:00:00:00:01:{i:02x}", client_hash=f"{hotspot}-d{i}",
                month_hash=f"{hotspot}-m{i}", phone_hash="f" * 64, started_at=start,
                last_activity_at=now, expires_at=now + timedelta(hours=1),
                ended_at=None if open_ else start + timedelta(minutes=20),
                bytes_up=50_000_000, bytes_down=200_000_000))
    store.dispose()


@pytest.fixture
def server(tmp_path: Path, demo_secrets: Path) -> Iterator[tuple[str, dict[str, str], str]]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (./test installs it as root)")
    if not (ROOT / "controller/web/static/vendor/htmx.min.js").exists():
        pytest.skip("front-end libraries not vendored (./test runs vendor.sh)")
    port = free_port()
    data = tmp_path / "data"
    env = {**os.environ, "SIMPUL_DATA_DIR": str(data), "SIMPUL_INVENTORY_DIR": str(DEMO_INVENTORY),
           "SIMPUL_SECRETS_FILE": str(demo_secrets), "SIMPUL_ADMIN_LISTEN": f"127.0.0.1:{port}",
           "SIMPUL_WALL_REFRESH_S": "5", "SIMPUL_PUBLIC_MIN_COUNT": "3",
           "SIMPUL_LOG_LEVEL": "debug"}
    cli(env, "db", "upgrade")
    cli(env, "users", "add", "tv-lobi", "--role", "display")
    token = cli(env, "users", "tokens", "add", "tv-lobi", "--name", "lobi", "--never").strip()
    url = f"sqlite:///{data / 'simpul.db'}"
    add_sessions(url, "taman-kota", 4)
    add_sessions(url, "alun-alun", 2, open_=True)
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "controller.cli", "serve", "--only", "admin"],
                            cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(proc, base, tmp_path / "serve.log")
        yield base, {"url": url, "token": token, "log": str(tmp_path / "serve.log")}, token
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_the_wall_with_a_display_token_and_the_public_page(
        server: tuple[str, dict[str, str], str], tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, info, token = server
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        try:
            # Without a token or session: only a login.
            page.goto(base + "/wall")
            expect(page).to_have_url(re.compile(r"/login\?next=/wall$"))
            # The display token becomes a cookie; the address loses the token at once.
            page.goto(f"{base}/wall?token={token}")
            expect(page).to_have_url(base + "/wall")
            expect(page.locator("h1")).to_have_text("Pusat Komando Jaringan & WiFi Publik")
            expect(page.locator("#wall-map.ready")).to_be_visible()
            assert page.locator("#wall-map path.leaflet-interactive").count() > 47  # + links
            expect(page.locator("#wall-online b")).to_have_text("2")
            expect(page.locator("#wall-today b")).to_have_text("6")
            expect(page.locator("#wall-gb b")).to_have_text("1,5")  # 6 x 250 MB
            expect(page.locator("#wall-alerts")).to_contain_text("Peringatan aktif")
            page.screenshot(path=str(shots / "wall.png"))
            # It refreshes in place: a new citizen appears, the page itself is not reloaded.
            page.evaluate("document.getElementById('wall-map').dataset.kept = 'yes'")
            add_sessions(info["url"], "tepian-kahayan", 1, open_=True)
            expect(page.locator("#wall-online b")).to_have_text("3", timeout=30_000)
            assert page.evaluate("document.getElementById('wall-map').dataset.kept") == "yes"
            page.screenshot(path=str(shots / "wall-refreshed.png"))
            log = Path(info["log"]).read_text()
            assert token not in log and token[len("simpul_"):] not in log
            # The public page: no login, hotspots on the map, aggregates only.
            public = browser.new_page(viewport={"width": 1920, "height": 1080})
            public.goto(base + "/publik")
            expect(public.locator("#publik-map.ready")).to_be_visible()
            assert public.locator("#publik-map path.leaflet-interactive").count() == 4
            expect(public.locator("#publik-reach")).to_contain_text("Warga terlayani")
            public.screenshot(path=str(shots / "publik.png"), full_page=True)
            html = public.content()
            for pattern in (IPV4, IPV6, MAC, PHONE):
                assert not pattern.search(html), (pattern.pattern, pattern.search(html))
        except Exception:
            page.screenshot(path=str(shots / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()
