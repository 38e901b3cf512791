"""Scale-out on real parts: HAProxy (deploy/haproxy/haproxy.cfg at test addresses) in front of
2 admin and 2 portal processes, with 2 poller shards, all on one PostgreSQL the test starts.

Then faults, each bounded: SIGKILL a portal process in a steady stream of logins, and restart
PostgreSQL during logins, RFC 8908 polls and SNMP polls. The citizens are real TCP clients,
each from its own loopback address, which HAProxy passes on in X-Forwarded-For (the only header
Simpul believes, and only from the proxy SIMPUL_TRUSTED_PROXIES names). The portal uses the
in-memory gateway: each process has its own, so the gateway side is not checked here.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from controller.inventory import check_inventory
from controller.secrets import generate_missing
from controller.store.portal import PortalSession
from lab.relocate import parse_block, relocate
from tests.conftest import ROOT, free_port
from tests.pg import postgres_server, start_postgres, stop_postgres

pytestmark = pytest.mark.integration

SIMPUL = [sys.executable, "-m", "controller.cli"]
HAPROXY_CFG = ROOT / "deploy" / "haproxy" / "haproxy.cfg"
ENGINEER = "insinyur"
SHARDS = ("1/2", "2/2")


@dataclass
class Cluster:
    tmp: Path
    env: dict[str, str]
    url: str  # the store, for the test's own questions
    pg_port: int
    proxy: str
    portal: str  # HAProxy's portal frontend, http://host:port
    admin: str  # HAProxy's admin frontend
    listens: dict[str, str] = field(default_factory=dict)  # process name -> its listener
    procs: dict[str, subprocess.Popen[str]] = field(default_factory=dict)
    citizen_block: int = 0
    next_citizen: int = 0

    def citizens(self, n: int) -> list[str]:
        """n loopback addresses never used before in this module: each one a new citizen."""
        first = self.next_citizen
        self.next_citizen += n
        return [f"127.{self.citizen_block}.{1 + i // 250}.{1 + i % 250}"
                for i in range(first, first + n)]

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")[-20000:]


def workers_available() -> bool:
    """`simpul serve --only worker` exists (issue 17, jobs): then the cluster runs 2 of them."""
    out = subprocess.run([*SIMPUL, "serve", "--help"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60).stdout
    return "worker" in out


def start(cluster: Cluster, name: str, *args: str, **env: str) -> None:
    cluster.procs[name] = subprocess.Popen(
        [*SIMPUL, "serve", *args], cwd=ROOT, env={**cluster.env, **env},
        stdout=subprocess.DEVNULL, stderr=(cluster.tmp / f"{name}.log").open("a"), text=True,
        start_new_session=True)


def wait_healthy(cluster: Cluster, name: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        proc = cluster.procs[name]
        if proc.poll() is not None:
            raise AssertionError(f"{name} exited {proc.returncode}: {cluster.log(name)}")
        try:
            if httpx.get(f"http://{cluster.listens[name]}/healthz", timeout=2).is_success:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{name} not healthy in {timeout_s}s: {cluster.log(name)}")


def render_haproxy(cluster: Cluster, portal_port: int, admin_port: int) -> Path:
    """The shipped example with its example addresses replaced by the test's."""
    text = HAPROXY_CFG.read_text()
    for example, real in (("10.10.0.5:80\n", f"{cluster.proxy}:{portal_port}\n"),
                          ("10.10.0.5:8000\n", f"{cluster.proxy}:{admin_port}\n"),
                          ("source 10.10.0.5", f"source {cluster.proxy}"),
                          ("10.10.0.11:8080", cluster.listens["portal1"]),
                          ("10.10.0.12:8080", cluster.listens["portal2"]),
                          ("10.10.0.11:8000", cluster.listens["admin1"]),
                          ("10.10.0.12:8000", cluster.listens["admin2"])):
        assert example in text, example
        text = text.replace(example, real)
    # HAProxy's admin socket, for the test to see which servers it counts as up.
    text = text.replace("global\n", f"global\n    stats socket {cluster.tmp}/haproxy.sock\n", 1)
    config = cluster.tmp / "haproxy.cfg"
    config.write_text(text)
    return config


def servers_up(cluster: Cluster) -> dict[str, str]:
    """HAProxy's view: server name -> UP/DOWN/..., from `show stat` on its admin socket."""
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(str(cluster.tmp / "haproxy.sock"))
            sock.sendall(b"show stat\n")
            out = b"".join(iter(lambda: sock.recv(65536), b"")).decode()
    except OSError:
        return {}
    rows = [line.split(",") for line in out.splitlines() if line and not line.startswith("#")]
    return {r[1]: r[17].split(" ")[0] for r in rows if len(r) > 17
            and r[1] not in ("FRONTEND", "BACKEND")}


def wait_until(what: str, check: Callable[[], bool], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout_s}s: {what}"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        pytest.skip("haproxy not installed (Debian package haproxy; ./test installs it)")
    tmp = tmp_path_factory.mktemp("scale-out")
    block = random.randint(100, 250)
    inventory = tmp / "inventory"
    # The demo regency at test addresses; nothing answers SNMP there: every poll is a timeout.
    relocate(ROOT / "inventory", inventory, parse_block(f"127.0.{block}.0/24"),
             ssh_port=free_port(), snmp_port=free_port())
    secrets_file = tmp / "secrets.yaml"
    loaded, _ = check_inventory(inventory)
    generate_missing(secrets_file, loaded.secret_names())
    pg_port = free_port()
    with postgres_server(pg_port) as url:
        proxy = f"127.0.{block}.250"
        portal_port, admin_port = free_port(proxy), free_port(proxy)
        env = {**os.environ, "SIMPUL_DATABASE_URL": url, "SIMPUL_DATA_DIR": str(tmp / "data"),
               "SIMPUL_INVENTORY_DIR": str(inventory), "SIMPUL_SECRETS_FILE": str(secrets_file),
               "SIMPUL_TRUSTED_PROXIES": proxy, "SIMPUL_ALLOWED_HOSTS": proxy,
               "SIMPUL_PORTAL_URL": f"http://{proxy}:{portal_port}",
               "SIMPUL_PORTAL_GATEWAY": "memory", "SIMPUL_PORTAL_DEMO_HOTSPOT": "taman-kota",
               "SIMPUL_PORTAL_LOGIN_RATE_PER_MIN": "100000", "SIMPUL_LOG_LEVEL": "warning",
               "SIMPUL_POLL_INTERVAL_S": "5", "SIMPUL_SNMP_TIMEOUT_S": "0.5",
               "SIMPUL_PROBE_INTERVAL_S": "0", "SIMPUL_DRIFT_INTERVAL_S": "0"}
        c = Cluster(tmp, env, url, pg_port, proxy, f"http://{proxy}:{portal_port}",
                    f"http://{proxy}:{admin_port}", citizen_block=random.randint(100, 250))
        subprocess.run([*SIMPUL, "db", "upgrade"], cwd=ROOT, env=env, check=True,
                       capture_output=True, timeout=120)
        subprocess.run([*SIMPUL, "users", "add", ENGINEER, "--role", "admin",
                        "--password-stdin"], cwd=ROOT, env=env, check=True,
                       capture_output=True, timeout=120, input="kata-sandi-uji-panjang\n",
                       text=True)
        proc: subprocess.Popen[str] | None = None
        try:
            for n in (1, 2):
                host = f"127.0.{block}.{240 + n}"
                c.listens[f"admin{n}"] = f"{host}:{free_port(host)}"
                start(c, f"admin{n}", "--only", "admin", SIMPUL_ADMIN_LISTEN=c.listens[f"admin{n}"])
                c.listens[f"portal{n}"] = f"{host}:{free_port(host)}"
                start(c, f"portal{n}", "--only", "portal",
                      SIMPUL_PORTAL_LISTEN=c.listens[f"portal{n}"])
                c.listens[f"poller{n}"] = f"{host}:{free_port(host)}"
                start(c, f"poller{n}", "--only", "poller", "--shard", SHARDS[n - 1],
                      SIMPUL_ADMIN_LISTEN=c.listens[f"poller{n}"])
            if workers_available():
                for n in (1, 2):
                    start(c, f"worker{n}", "--only", "worker")
            for name in c.listens:
                wait_healthy(c, name)
            proc = subprocess.Popen([haproxy, "-db", "-f", str(render_haproxy(
                c, portal_port, admin_port))], stdout=subprocess.DEVNULL,
                stderr=(tmp / "haproxy.log").open("w"), text=True, start_new_session=True)
            wait_until("HAProxy counts every process up", lambda: servers_up(c) == {
                "portal1": "UP", "portal2": "UP", "admin1": "UP", "admin2": "UP"})
            yield c
        finally:
            running = [p for p in (*c.procs.values(), proc) if p and p.poll() is None]
            for p in running:
                os.killpg(p.pid, signal.SIGTERM)
            for p in running:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)


# -- the citizen and the engineer ---------------------------------------------------------------
LOGIN = b"accept=yes"


def login(cluster: Cluster, source: str) -> httpx.Response:
    """One citizen's click-through login through HAProxy, from its own address."""
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=30) as client:
        return client.post(f"{cluster.portal}/login/click", content=LOGIN,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})


def captive(cluster: Cluster, source: str) -> httpx.Response:
    """The phone's RFC 8908 poll: is this address still captive?"""
    with httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=30) as client:
        return client.get(f"{cluster.portal}/api/captive")


def sessions_by_ip(cluster: Cluster) -> Counter[str]:
    engine = create_engine(cluster.url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with Session(engine) as session:
            return Counter(ip for ip in session.scalars(select(PortalSession.client_ip)) if ip)
    finally:
        engine.dispose()


@dataclass
class Stream:
    """A bounded, steady stream of new citizens logging in through HAProxy. A citizen not
    answered 303 (502 from HAProxy for a request its process died under, 503 while the store
    restarts) tries again, as a phone's login sheet does, until a generous deadline."""

    answers: list[tuple[str, int, str | None]] = field(default_factory=list)  # ip, status, RA
    polls: list[tuple[int, str | None]] = field(default_factory=list)
    logged_in: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def citizen(self, cluster: Cluster, ip: str, deadline: float) -> None:
        while time.monotonic() < deadline:
            try:
                response = login(cluster, ip)
                status, retry = response.status_code, response.headers.get("Retry-After")
                body = response.text
            except httpx.HTTPError:
                status, retry, body = 0, None, ""
            with self.lock:
                self.answers.append((ip, status, retry))
            assert "Traceback" not in body
            if status == 303:
                with self.lock:
                    self.logged_in.add(ip)
                poll = captive(cluster, ip)
                with self.lock:
                    self.polls.append((poll.status_code, poll.headers.get("Retry-After")))
                return
            time.sleep(0.5)

    def run(self, cluster: Cluster, ips: list[str], during: Callable[[], None],
            after: int) -> None:
        """Logins of `ips`, 4 at a time, ~20/s; `during` runs once `after` are answered."""
        deadline = time.monotonic() + 180
        with ThreadPoolExecutor(4) as pool:
            futures = []
            for n, ip in enumerate(ips):
                if n == after:
                    wait_until(f"{after} logins answered",
                               lambda: len(self.logged_in) >= after // 2, 120)
                    futures.append(pool.submit(during))
                futures.append(pool.submit(self.citizen, cluster, ip, deadline))
                time.sleep(0.05)
            for future in futures:
                future.result()

    def statuses(self) -> Counter[int]:
        return Counter(status for _ip, status, _retry in self.answers)


@contextmanager
def admin_session(cluster: Cluster) -> Iterator[httpx.Client]:
    """An engineer logged in through HAProxy (the form from one process, the post maybe to the
    other)."""
    with httpx.Client(timeout=30, follow_redirects=False) as client:
        yield _admin_login(cluster, client)


def _admin_login(cluster: Cluster, client: httpx.Client) -> httpx.Client:
    page = client.get(f"{cluster.admin}/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    response = client.post(f"{cluster.admin}/login", data={
        "username": ENGINEER, "password": "kata-sandi-uji-panjang",
        "csrf_token": token.group(1)})
    assert response.status_code == 303, response.text
    return client


def poller_sites(cluster: Cluster, name: str) -> set[str]:
    text = httpx.get(f"http://{cluster.listens[name]}/metrics", timeout=10).text
    return {s.labels["site"] for f in text_string_to_metric_families(text) for s in f.samples
            if s.name == "simpul_device_up"}


# -- the tests ----------------------------------------------------------------------------------
def test_replicas_behind_haproxy_share_one_postgresql(cluster: Cluster) -> None:
    ips = cluster.citizens(20)
    answers = [login(cluster, ip).status_code for ip in ips]
    assert answers == [303] * len(ips)
    assert {ip: sessions_by_ip(cluster)[ip] for ip in ips} == dict.fromkeys(ips, 1)
    # The RFC 8908 API through either portal process knows every citizen's session.
    assert all(captive(cluster, ip).json()["captive"] is False for ip in ips[:4])
    # A forged X-Forwarded-For makes no one a logged-in citizen: HAProxy drops it, and the
    # processes believe it only from HAProxy.
    stranger = cluster.citizens(1)[0]
    forged = {"X-Forwarded-For": ips[0], "Host": cluster.portal.removeprefix("http://")}
    with httpx.Client(transport=httpx.HTTPTransport(local_address=stranger), timeout=30,
                      headers=forged) as client:
        assert client.get(f"{cluster.portal}/api/captive").json()["captive"] is True
        for name in ("portal1", "portal2"):
            direct = client.get(f"http://{cluster.listens[name]}/api/captive")
            assert direct.json()["captive"] is True, name

    # The engineer's login holds on both admin processes (sessions are in the store).
    with admin_session(cluster) as engineer:
        for _ in range(4):  # round robin: both processes answer
            assert engineer.get(f"{cluster.admin}/").status_code == 200
        cookie = "; ".join(f"{k}={v}" for k, v in engineer.cookies.items())
        for name in ("admin1", "admin2"):  # each process, asked directly, knows the session
            listed = httpx.get(f"http://{cluster.listens[name]}/api/v1/sites", timeout=30,
                               headers={"Cookie": cookie})
            assert listed.status_code == 200, (name, listed.text)
            assert any(site["code"] == "taman-kota" for site in listed.json())

    # The pollers split the sites: crc32(site code) mod 2 names each site's one owner.
    def owner(site: str) -> str:
        return f"poller{zlib.crc32(site.encode()) % 2 + 1}"

    seen: dict[str, set[str]] = {}

    def both_polled() -> bool:
        seen.update({name: poller_sites(cluster, name) for name in ("poller1", "poller2")})
        return all(seen.values())

    wait_until("both pollers finished a cycle", both_polled, 120)
    assert seen["poller1"].isdisjoint(seen["poller2"])
    for name, sites in seen.items():
        assert {owner(site) for site in sites} == {name}, (name, sites)
    for name, shard in (("poller1", "1/2"), ("poller2", "2/2")):
        health = httpx.get(f"http://{cluster.listens[name]}/healthz", timeout=10).json()
        assert health["shard"] == shard


def test_a_postgresql_restart_costs_citizens_a_retry_never_a_500_or_a_session(
        cluster: Cluster) -> None:
    ips = cluster.citizens(120)
    stream = Stream()
    before = sessions_by_ip(cluster)

    down: list[httpx.Response] = []
    with admin_session(cluster) as engineer:
        logged_in = cluster.citizens(1)[0]
        assert login(cluster, logged_in).status_code == 303

        def restart() -> None:
            stop_postgres(cluster.pg_port)
            try:  # logins (the stream), a phone's RFC 8908 poll, an engineer meet it down
                down.extend([captive(cluster, logged_in), captive(cluster, logged_in),
                             engineer.get(f"{cluster.admin}/api/v1/sites"),
                             engineer.get(f"{cluster.admin}/api/v1/sites"),
                             engineer.get(f"{cluster.admin}/")])
                time.sleep(2)
            finally:
                start_postgres(cluster.pg_port)

        stream.run(cluster, ips, restart, after=40)
    assert [r.status_code for r in down] == [503] * 5, [r.text[:300] for r in down]
    assert all(int(r.headers["Retry-After"]) > 0 for r in down)
    assert all("Traceback" not in r.text for r in down)
    statuses = stream.statuses()
    assert 500 not in statuses, statuses
    assert statuses[503] > 0, statuses  # the restart was met
    assert set(statuses) <= {303, 503}, statuses  # every process stayed up and in HAProxy
    assert all(retry and int(retry) > 0 for _ip, status, retry in stream.answers
               if status == 503)
    assert stream.logged_in == set(ips)  # service resumed by itself
    assert all(status == 200 or (status == 503 and retry) for status, retry in stream.polls)
    # Every citizen answered 303 has exactly one session: none lost, none duplicated.
    after = sessions_by_ip(cluster)
    assert {ip: after[ip] for ip in ips} == dict.fromkeys(ips, 1)
    assert after - Counter([*ips, logged_in]) == before
    # Every process lived through it; the pollers still answer.
    for name, proc in cluster.procs.items():
        assert proc.poll() is None, (name, cluster.log(name))
    for name in ("poller1", "poller2", "admin1", "admin2"):
        wait_healthy(cluster, name)
    # The restart is a warning line in their logs, never a trace (workers not counted: the
    # job library logs its own way).
    for name in ("admin1", "admin2", "portal1", "portal2", "poller1", "poller2"):
        assert "Traceback" not in cluster.log(name), (name, cluster.log(name))
    with admin_session(cluster) as engineer:
        assert engineer.get(f"{cluster.admin}/api/v1/sites").status_code == 200


def test_a_killed_portal_process_loses_no_answered_login(cluster: Cluster) -> None:
    ips = cluster.citizens(150)
    stream = Stream()
    victim = cluster.procs["portal1"]

    def kill() -> None:
        os.killpg(victim.pid, signal.SIGKILL)

    stream.run(cluster, ips, kill, after=50)
    assert victim.wait(timeout=30) == -signal.SIGKILL
    statuses = stream.statuses()
    assert 500 not in statuses, statuses
    # HAProxy moved the traffic: everyone got in, through the process left.
    assert stream.logged_in == set(ips)
    wait_until("HAProxy marks the killed process down",
               lambda: servers_up(cluster)["portal1"] == "DOWN")
    answered = {ip for ip, status, _retry in stream.answers if status == 303}
    after = sessions_by_ip(cluster)
    assert {ip: after[ip] for ip in answered} == dict.fromkeys(answered, 1)
    # And once it is back, HAProxy sends it traffic again.
    start(cluster, "portal1", "--only", "portal",
          SIMPUL_PORTAL_LISTEN=cluster.listens["portal1"])
    wait_healthy(cluster, "portal1")
    wait_until("HAProxy counts it up again", lambda: servers_up(cluster)["portal1"] == "UP")
    late = cluster.citizens(6)
    assert [login(cluster, ip).status_code for ip in late] == [303] * 6
