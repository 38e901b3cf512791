"""`simpul serve` and `./run`: both listeners answer, /metrics works, Ctrl-C stops cleanly.

Both run the demo regency moved to 127.0.N.x (N >= 100) with ports of their own, so a demo
running on this machine (127.0.0.10-58, :2222, :1161) is never polled, probed or bound."""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from controller.inventory import check_inventory
from controller.store.db import Store
from controller.store.models import User
from controller.store.portal import RadiusLogin
from controller.store.users import verify_password
from lab.linux_gateways import namespace_name
from lab.relocate import parse_block, relocate
from tests.conftest import ROOT, free_port
from tests.integration.radius_lab import free_udp_port, hidden_fields, hotspot_request

pytestmark = pytest.mark.integration


DEMO_PORTAL_NAME = "portal.simpul.localhost"  # ./run's default SIMPUL_PORTAL_NAME


def _https_status(port: int, ca: Path, name: str) -> str:
    """The status line of GET /healthz over TLS to 127.0.0.1:port, verified against `ca` for
    `name` (a real TLS client; the name need not resolve)."""
    context = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=name) as tls:
        tls.sendall(f"GET /healthz HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n"
                    .encode())
        return tls.recv(256).decode(errors="replace").split("\r\n", 1)[0]


def _namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def wait_healthy(url: str, proc: subprocess.Popen[str], timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode}")
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return response.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {timeout_s}s")


def interrupt(proc: subprocess.Popen[str]) -> int:
    """Ctrl-C as a terminal sends it: SIGINT to the whole process group."""
    os.killpg(proc.pid, signal.SIGINT)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError("did not stop within 30s of Ctrl-C") from None


@pytest.fixture
def serve_env(tmp_path: Path, demo_secrets: Path) -> dict[str, str]:
    """serve's environment: the demo inventory moved to a block of the test's own."""
    inventory = tmp_path / "lab-inventory"
    relocate(ROOT / "inventory", inventory, parse_block(f"127.0.{random.randint(100, 250)}.0/24"),
             ssh_port=free_port(), snmp_port=free_port())
    return {
        **os.environ,
        "SIMPUL_DATA_DIR": str(tmp_path / "data"),
        "SIMPUL_SECRETS_FILE": str(demo_secrets),
        "SIMPUL_INVENTORY_DIR": str(inventory),
        "SIMPUL_ADMIN_LISTEN": f"127.0.0.1:{free_port()}",
        "SIMPUL_PORTAL_LISTEN": f"127.0.0.1:{free_port()}",
    }


def test_serve_answers_on_both_listeners_and_stops_on_ctrl_c(serve_env: dict[str, str]) -> None:
    admin = "http://" + serve_env["SIMPUL_ADMIN_LISTEN"]
    portal = "http://" + serve_env["SIMPUL_PORTAL_LISTEN"]
    proc = subprocess.Popen([sys.executable, "-m", "controller.cli", "serve"], cwd=ROOT,
                            env=serve_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        assert wait_healthy(admin + "/healthz", proc)["listener"] == "admin"
        assert wait_healthy(portal + "/healthz", proc)["listener"] == "portal"
        metrics = httpx.get(admin + "/metrics").text
        assert 'simpul_site_allocation_bits_per_second{direction="down",site="dinkes"} 5e+07' \
            in metrics
        page = httpx.get(admin + "/", follow_redirects=True)
        assert page.status_code == 200 and "Nama pengguna" in page.text  # the login page
        # Nothing of the admin side is reachable on the portal listener.
        for path in ("/metrics", "/api/docs", "/api/openapi.json"):
            response = httpx.get(portal + path, follow_redirects=False)
            assert "simpul_site_allocation" not in response.text
            assert "openapi" not in response.text.lower()
    finally:
        code = interrupt(proc)
    output = proc.stdout.read() if proc.stdout else ""
    assert code == 0, output
    assert "Traceback" not in output


def test_serve_refuses_a_broken_inventory_with_path_and_line(
    serve_env: dict[str, str], demo_inventory: Path
) -> None:
    devices = demo_inventory / "devices.yaml"
    devices.write_text(devices.read_text().replace("  site: dinkes\n", "  site: nowhere\n"))
    env = {**serve_env, "SIMPUL_INVENTORY_DIR": str(demo_inventory)}
    result = subprocess.run([sys.executable, "-m", "controller.cli", "serve"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"{devices}:" in result.stderr and "unknown site 'nowhere'" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_script_bootstraps_prints_admin_password_and_serves(tmp_path: Path) -> None:
    """./run on a fresh copy of the repository, as a new user would start it."""
    checkout = tmp_path / "simpul"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, checkout / name)
    admin_port, portal_port, tls_port = free_port(), free_port(), free_port()
    block = f"127.0.{random.randint(100, 250)}"
    ssh_port, hotspot_port = free_port(f"{block}.13"), free_port(f"{block}.58")
    # FreeRADIUS on ports of the test's own (a demo may hold 1812/1813), the NAS told them.
    auth_port, acct_port = free_udp_port("127.0.0.1"), free_udp_port("127.0.0.1")
    hotspots = checkout / "inventory" / "hotspots.yaml"
    hotspots.write_text(hotspots.read_text().replace(
        "radius: {secret: radius_pasar_besar, server: 127.0.0.1}",
        "radius: {secret: radius_pasar_besar, server: 127.0.0.1, "
        f"auth_port: {auth_port}, acct_port: {acct_port}}}"))
    env = {key: value for key, value in os.environ.items() if not key.startswith("SIMPUL_")}
    env.update(SIMPUL_ADMIN_LISTEN=f"127.0.0.1:{admin_port}",
               SIMPUL_PORTAL_LISTEN=f"127.0.0.1:{portal_port}",
               SIMPUL_PORTAL_TLS_LISTEN=f"127.0.0.1:{tls_port}",
               SIMPUL_LAB_ADDRESS_BLOCK=f"{block}.0/24", SIMPUL_LAB_SSH_PORT=str(ssh_port),
               SIMPUL_LAB_SNMP_PORT=str(free_port()),
               SIMPUL_LAB_HOTSPOT_HTTP_PORT=str(hotspot_port),
               SIMPUL_RADIUS_AUTH_PORT=str(auth_port), SIMPUL_RADIUS_ACCT_PORT=str(acct_port),
               VIRTUAL_ENV="", UV_NO_PROGRESS="1")
    log = (tmp_path / "run.log").open("w+")
    proc = subprocess.Popen(["./run"], cwd=checkout, env=env, stdout=log, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        wait_healthy(f"http://127.0.0.1:{admin_port}/healthz", proc, timeout_s=240)
        wait_healthy(f"http://127.0.0.1:{portal_port}/healthz", proc)
        # The lab came up on the block it was given: setda-r1 (the demo's .13) answers SSH.
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection((f"{block}.13", ssh_port), timeout=2) as conn:
                    assert conn.recv(64).startswith(b"SSH-")
                break
            except OSError:
                assert time.monotonic() < deadline, "the lab did not listen on its block"
                time.sleep(0.5)
        # HTTPS with the demo's own CA, for the portal's own name.
        tls = checkout / "data" / "tls"
        assert _https_status(tls_port, tls / "ca.pem", DEMO_PORTAL_NAME) == "HTTP/1.1 200 OK"
        assert {oct((tls / k).stat().st_mode & 0o777) for k in ("key.pem", "ca-key.pem")} \
            == {"0o600"}
        # As root, the Linux hotspot gateways are namespaces with the real sshd (the demo's
        # .55 is taman-kota-gw).
        if os.geteuid() == 0:
            with socket.create_connection((f"{block}.55", ssh_port), timeout=5) as conn:
                assert conn.recv(64).startswith(b"SSH-2.0-OpenSSH")
            gateways = [namespace_name(checkout / "data" / "lab", gw)
                        for gw in ("taman-kota-gw", "tepian-kahayan-gw")]
            assert all(name in _namespaces() for name in gateways)
        if shutil.which("freeradius") is not None:
            _citizen_logs_in_at_the_demos_nas(checkout, env, block, hotspot_port,
                                              portal_port, tls_port)
    finally:
        code = interrupt(proc)
    log.seek(0)
    output = log.read()
    assert code in (0, 130), output
    match = re.search(r"Username: admin\s+Password: (\S+)", output)
    assert match, output
    password = match.group(1)
    store = Store(f"sqlite:///{checkout / 'data' / 'simpul.db'}")
    with store.session() as session:
        user = session.query(User).filter_by(username="admin").one()
        assert verify_password(user.password_hash, password)
    store.dispose()
    assert password not in (checkout / "data" / "simpul.db").read_bytes().decode("latin-1")
    assert oct((checkout / "data" / "secrets.yaml").stat().st_mode & 0o777) == "0o600"
    assert f"lab: started on {block}.0/24" in output
    if os.geteuid() == 0:  # ./run removed its gateways' namespaces on exit
        assert not any(namespace_name(checkout / "data" / "lab", gw) in _namespaces()
                       for gw in ("taman-kota-gw", "tepian-kahayan-gw"))
    # The demo trusted the lab devices' host keys, one pinned key per device.
    assert "lab: SSH host keys trusted" in output, output
    pinned = (checkout / "data" / "known_hosts").read_text().splitlines()
    assert len(pinned) == len(check_inventory(ROOT / "inventory")[0].devices), pinned
    assert "Traceback" not in output


def _citizen_logs_in_at_the_demos_nas(checkout: Path, env: dict[str, str], block: str,
                                      hotspot_port: int, portal_port: int,
                                      tls_port: int) -> None:
    """README "demo's NAS": this machine's browser at Pasar Besar (adapter radius) opens the
    lab router's login page, is sent to the portal, clicks through, posts the one-time
    credential to the router's /login; the router asks ./run's FreeRADIUS (so Simpul), logs
    the browser in and reports it in accounting; an engineer's disconnect reaches it."""
    cli = {**env, "SIMPUL_DATA_DIR": str(checkout / "data"),
           "SIMPUL_INVENTORY_DIR": str(checkout / "data" / "lab-inventory"),
           "SIMPUL_PORTAL_NAME": DEMO_PORTAL_NAME,
           "SIMPUL_PORTAL_TLS_CERT": str(checkout / "data" / "tls" / "cert.pem"),
           "SIMPUL_PORTAL_TLS_KEY": str(checkout / "data" / "tls" / "key.pem")}

    def simpul(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "controller.cli", *args], cwd=ROOT,
                              env=cli, capture_output=True, text=True, timeout=240)

    # ./run pushed the router's RADIUS config before it served: pushing again changes nothing.
    pushed = simpul("config", "push", "pasar-besar-gw", "--yes", "--json")
    assert pushed.returncode == 0 and '"status": "unchanged"' in pushed.stdout, \
        pushed.stdout + pushed.stderr
    nas, dns_name = f"{block}.58", "wifi-pasar-besar.kualakahayan.go.id"
    # The router's login.html sends the browser on to the portal (inventory/sites.yaml's
    # portal_url for Pasar Besar) with the router's MAC for it and its own login URL.
    status, _, page = hotspot_request(nas, hotspot_port, "127.0.0.1", dns_name, "/login")
    assert status == 200 and 'action="https://portal.simpul.localhost:8443/login"' in page, page
    sent = hidden_fields(page)
    assert (sent["mac"], sent["ip"], sent["login"]) == (
        "02:DE:40:00:00:01", "127.0.0.1", f"http://{dns_name}/login")
    # The portal of this ./run (its HTTPS name on another port here): click-through, then
    # the hand-off form to the router's /login.
    portal = httpx.Client(base_url=f"http://127.0.0.1:{portal_port}", timeout=30,
                          headers={"Host": f"{DEMO_PORTAL_NAME}:{tls_port}"})
    assert portal.get("/login", params=sent).status_code == 200
    handoff = portal.post("/login/click", data={"accept": "yes"})
    assert handoff.status_code == 200, handoff.text
    assert f'<form name="nas" action="http://{dns_name}/login"' in handoff.text
    credential = hidden_fields(handoff.text)
    status, location, page = hotspot_request(nas, hotspot_port, "127.0.0.1", dns_name,
                                             "/login", credential)
    assert (status, location) == (
        302, f"https://{DEMO_PORTAL_NAME}:{tls_port}/success"), page
    # The router's accounting Start reached Simpul (through FreeRADIUS) ...
    store = Store(f"sqlite:///{checkout / 'data' / 'simpul.db'}")
    try:
        def login() -> RadiusLogin:
            with store.session() as session:
                found = session.scalar(select(RadiusLogin).where(
                    RadiusLogin.username == credential["username"]))
                assert found is not None and found.used_at is not None
                return found

        deadline = time.monotonic() + 30
        while login().acct_session_id is None:
            assert time.monotonic() < deadline, "no accounting Start from the router"
            time.sleep(0.3)
        # ... and an engineer's disconnect reaches the router, which reports the Stop.
        ended = simpul("hotspot", "disconnect", str(login().session_id))
        assert ended.returncode == 0, ended.stdout + ended.stderr
        while not login().acct_stopped:
            assert time.monotonic() < deadline, "the router did not end the session"
            time.sleep(0.3)
    finally:
        store.dispose()
