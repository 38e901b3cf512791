"""What the browser tests share: Debian's Chromium and its flags, `simpul serve` started and
stopped for a test (`serve`), and the demo served on the admin listener alone with a display
token, citizens' sessions and an admin (`wall_server`; no pollers, so the demo lab's
addresses stay untouched)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import pytest

from tests.browser import wait_until_serving
from tests.conftest import DEMO_INVENTORY, ROOT, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
ADMIN_PASSWORD = "kata-sandi-ujicoba-1"

def need_browser() -> None:
    """Skip unless Chromium is installed and the front-end libraries are vendored."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (./test installs it as root)")
    if not (ROOT / "controller/web/static/vendor/htmx.min.js").exists():
        pytest.skip("front-end libraries not vendored (./test runs vendor.sh)")


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "controller.cli", *args], cwd=ROOT, env=env,
                          input=stdin, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


class Serve:
    """serve(env, *args): start `simpul serve *args` with `env` (the admin listener on a free
    loopback port), wait until it answers, return its base URL. stop() ends them all (the
    fixture does so after the test; call it first to stop them before other teardown)."""

    def __init__(self, log_path: Path):
        self.log_path = log_path
        self.started: list[subprocess.Popen[bytes]] = []

    def __call__(self, env: dict[str, str], *args: str) -> str:
        port = free_port()
        env = {"SIMPUL_PORTAL_LISTEN": f"127.0.0.1:{free_port()}", **env,
               "SIMPUL_ADMIN_LISTEN": f"127.0.0.1:{port}"}
        log = self.log_path.open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "controller.cli", "serve", *args],
                                cwd=ROOT, env=env, stdout=log, stderr=log,
                                start_new_session=True)
        self.started.append(proc)
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(proc, base, self.log_path)
        return base

    def stop(self) -> None:
        while self.started:
            proc = self.started.pop()
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """A Serve whose servers are stopped after the test."""
    need_browser()
    servers = Serve(tmp_path / "serve.log")
    try:
        yield servers
    finally:
        servers.stop()


def add_sessions(url: str, hotspot: str, count: int, *, open_: bool = False) -> None:
    """Demo-like sessions: addresses, MACs, hashes and bytes, as the portal stores them."""
    from controller.store.db import Store
    from controller.store.portal import PortalSession

    store = Store(url)
    now = datetime.now(UTC)
    # "Today" is the demo's local day (WIB): sessions start after its midnight, or a run just
    # after 17:00 UTC would count them in yesterday.
    midnight = datetime.now(ZoneInfo("Asia/Jakarta")).replace(
        hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    with store.session() as session:
        for i in range(count):
            start = max(now - timedelta(minutes=40 + i), midnight + timedelta(seconds=i))
            session.add(PortalSession(
                hotspot=hotspot, method="phone_otp", client_ip=f"10.200.0.{20 + i}",
                client_mac=f"da:00:00:00:01:{i:02x}", client_hash=f"{hotspot}-d{i}",
                month_hash=f"{hotspot}-m{i}", phone_hash="f" * 64, started_at=start,
                last_activity_at=now, expires_at=now + timedelta(hours=1),
                ended_at=None if open_ else min(start + timedelta(minutes=20), now),
                bytes_up=50_000_000, bytes_down=200_000_000))
    store.dispose()


class WallServer(NamedTuple):
    base: str
    url: str          # the store's SQLAlchemy URL
    token: str        # the display account tv-lobi's never-expiring token
    log: str          # the server's log file
    env: dict[str, str]


@pytest.fixture
def wall_server(tmp_path: Path, demo_secrets: Path, serve: Serve) -> WallServer:
    """`simpul serve --only admin` on the demo inventory, with a display token (tv-lobi),
    six citizens' sessions (two open) and an admin (ADMIN_PASSWORD)."""
    data = tmp_path / "data"
    env = {**os.environ, "SIMPUL_DATA_DIR": str(data), "SIMPUL_INVENTORY_DIR": str(DEMO_INVENTORY),
           "SIMPUL_SECRETS_FILE": str(demo_secrets), "SIMPUL_WALL_REFRESH_S": "5",
           "SIMPUL_PUBLIC_MIN_COUNT": "3", "SIMPUL_LOG_LEVEL": "debug"}
    cli(env, "db", "upgrade")
    cli(env, "users", "add", "tv-lobi", "--role", "display")
    cli(env, "users", "add", "admin", "--role", "admin", "--password-stdin",
        stdin=ADMIN_PASSWORD + "\n")
    token = cli(env, "users", "tokens", "add", "tv-lobi", "--name", "lobi", "--never").strip()
    url = f"sqlite:///{data / 'simpul.db'}"
    add_sessions(url, "taman-kota", 4)
    add_sessions(url, "alun-alun", 2, open_=True)
    base = serve(env, "--only", "admin")
    return WallServer(base, url, token, str(tmp_path / "serve.log"), env)
