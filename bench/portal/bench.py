"""bench/portal: the captive portal's redirect and login throughput and p99 latency.

Loopback, up to 100 concurrent connections. The portal runs as `simpul serve --only portal`
(SQLite store, the in-memory gateway so the numbers are the portal's own, the demo fallback so
loopback clients are citizens of one hotspot). Every login comes from its own source address
(127.0.X.Y), so each one is a new citizen: identify, quota check, session row, gateway grant,
login counter, one commit. The baseline is Debian's nginx serving a static page on the same
machine with the same client (keep-alive, concurrency 100): the "x nginx" column.
Rows:
- redirect: 100 keep-alive clients probing /generate_204 back to back (closed loop).
- login capacity (closed loop): 100 clients each logging a new citizen in as soon as its last
  login is answered: the most logins/s the portal completes. Its p99 is mostly queueing: by
  Little's law a closed loop of 100 has mean latency 100 / rate, so p99 <= 100 ms here would
  need >= 1,000 logins/s.
- login at 300/s (open loop): new citizens arrive at a fixed offered rate (--login-rate) over
  at most 100 concurrent connections, whatever the answers do; latency counts from each
  arrival's scheduled time (no coordinated omission) and the achieved rate includes the drain.
  This is the target's load: a portal that keeps up shows ~300/s and its service p99.
Run: `uv run python bench/portal/bench.py [--seconds 10] [--concurrency 100] [--login-rate 300]
[--processes 2 --database postgresql]`.
Targets on the 2-core machine: redirect >= 2,000 req/s; login >= 300/s with p99 <= 100 ms
(measured open loop at 300/s offered).
Measured 2026-11-24 (2 CPU, quiet), five runs (one with --seconds 30, ~14,000 sessions in the
store before the open-loop row): redirect 25,000-30,000 req/s (p99 ~6 ms; ~10,000 before
httptools); login capacity 450-650/s, closed-loop p99 240-350 ms (= queueing, see above); open
loop at 300/s: 300/s achieved, p99 6-35 ms. Targets met. Later the same day the host slowed
(nginx 19,000-40,000 req/s instead of ~60,000; a pure-Python loop twice as slow): login
capacity fell to ~330/s and the open-loop p99 at 300/s rose to 310-330 ms (near saturation):
read the rows against the nginx line of the same run. Before migration 0007 the open-loop p99
grew with the sessions already stored (1.6-4.5 s after the earlier rows): SQLite searched the
hotspot index and walked every session of the hotspot on each login.

Scale-out (`--processes N --database postgresql`): the same closed-loop capacity and open-loop
rows for 1..N `serve --only portal` processes on PostgreSQL (a fresh cluster for each N)
behind HAProxy running deploy/haproxy/haproxy.cfg; every login comes through HAProxy's
X-Forwarded-For, each from its own address. The last line is the scaling ratio N / 1.
Goal: p99 <= 100 ms at 300/s offered with 2 processes. On 2 cores shared by the portals,
PostgreSQL, HAProxy and the load generator, more processes cannot add CPU.
Measured 2026-11-27 (2 CPU, busy: nginx 23,900 req/s), 10 s each:
  N=1: capacity 203/s (p99 693 ms), at 300/s offered 203/s achieved, p99 2,880 ms;
  N=2: capacity 203/s (p99 852 ms), at 300/s offered 258/s achieved, p99 1,329 ms;
  scaling N=2/N=1: capacity x1.00, open-loop rate x1.27. Goal not met on this host.
  (Those capacity rows were capped by their source addresses: 2,032 logins in 10 s. And the
  open loop ran out of addresses after 1,778 of its 3,000 arrivals.)
Measured 2026-11-28 (2 CPU, busy), 10 s each, same run before/after a login in 4 round trips
(was 7) and a pool that stops opening a connection per request under load:
  before (nginx 28,356 req/s): N=1 capacity 287/s, at 300/s 225/s p99 3,406 ms; N=2 capacity
  332/s, at 300/s 276/s p99 1,245 ms;
  after (nginx 23,752 req/s): N=1 capacity 299/s, at 300/s 291/s p99 372 ms; N=2 capacity
  376/s, at 300/s 300/s p99 184 ms. Goal not met on this busy host, closer.
  CPU per login (one process, closed loop of 50, 10 s): portal 2.05-2.66 -> 1.87-2.08 ms,
  PostgreSQL 1.15-1.35 -> 0.89-0.95 ms.
Tried 2026-11-28 and not shipped: `maxconn` on the portal servers in HAProxy (queue there
instead of 40 threads per process). 11 runs on this host (load average 5-7, nginx 18,800-
39,700 req/s): N=2 p99 at 300/s without maxconn 26, 364, 746, 749, 1,090 ms; maxconn 16: 286;
8: 1,135, 1,647, 4,312; 4: 175, 425 ms. No gain above the host's noise, and a login holds its
slot during its gateway call (SSH to the router, not timed here), so a small maxconn would
cap logins per process at maxconn / gateway latency. On the wire each login is still 4 round
trips: psycopg sends BEGIN as its own query before the first statement (autocommit off).

RADIUS login line (`--radius [--radius-logins 2000] [--radius-concurrency 20]`, issue #19):
the NAS side of a login, both paths in the same run, closed loop at 1 and at 20 logins at
once; "x SSH" is the RADIUS rate over the SSH path's at the same concurrency.
- SSH path (baseline): adapter mikrotik as a login runs it against the lab RouterOS (its own
  process, 127.0.X.56): `/ip hotspot host print` for the MAC, then `/ip hotspot active
  remove` + `login`, over the adapter's one SSH session (netmiko), so logins queue on it.
- RADIUS path: pyrad Access-Requests (PAP, Message-Authenticator, one per one-time
  credential issued beforehand by the portal, untimed) from 127.0.0.1 to FreeRADIUS built by
  `simpul radius config` on 127.0.0.1, which asks `simpul serve --only admin` (authorize,
  authenticate, post-auth over rlm_rest; SQLite). An answer other than Access-Accept is an
  error. Each NAS is one UDP socket with one request in flight.
Measured 2026-11-27 (2 CPU, busy), two runs, 10 s each:
  SSH path 1 at once 4/s (p99 252-255 ms), 20 at once 4/s (p99 12.8-13.8 s: queueing on one
  SSH session, and threads are not served in order); RADIUS 1 at once 87-98/s (p99 18-30 ms,
  x21.7-24.6), 20 at once 86-94/s (p99 386-651 ms, x21.6-23.4). No errors.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from controller.inventory import check_inventory  # noqa: E402
from controller.secrets import generate_missing  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status


async def keepalive_load(port: int, request: bytes, expect: int, seconds: float,
                         concurrency: int) -> tuple[int, list[float], int]:
    """Each worker reuses one connection; returns (ok, latencies, errors)."""
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.monotonic() < stop:
                start = time.perf_counter()
                writer.write(request)
                try:
                    status = await _read_response(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    # the server closed a kept-alive connection (nginx: keepalive_requests)
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                latencies.append(time.perf_counter() - start)
                if status != expect:
                    errors += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies) - errors, latencies, errors


def login_request(port: int) -> bytes:
    body = b"accept=yes"
    return (b"POST /login/click HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s") % (port, len(body), body)


def citizens(first: int, last: int) -> Iterator[str]:
    """Source addresses 127.0.first.1 .. 127.0.last.254: one per new citizen."""
    return (f"127.0.{x}.{y}" for x in range(first, last + 1) for y in range(1, 255))


async def one_login(port: int, request: bytes, source: str) -> bool:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    try:
        writer.write(request)
        return await _read_response(reader) == 303
    finally:
        writer.close()


async def login_open_loop(port: int, seconds: float, rate: float, max_connections: int,
                          addresses: Iterator[str]) -> tuple[int, list[float], int, float]:
    """Offered load: a new citizen arrives every 1/rate s, whatever the portal's answers do.

    At most `max_connections` logins are in flight; an arrival that finds them all busy waits
    for one, and its latency counts from its scheduled arrival (no coordinated omission).
    """
    latencies: list[float] = []
    errors = 0
    slots = asyncio.Semaphore(max_connections)
    request = login_request(port)

    async def arrival(due: float, source: str) -> None:
        nonlocal errors
        async with slots:
            try:
                ok = await one_login(port, request, source)
            except (OSError, asyncio.IncompleteReadError):
                ok = False
        latencies.append(time.perf_counter() - due)
        if not ok:
            errors += 1

    tasks = []
    begin = time.perf_counter()
    for n in range(int(seconds * rate)):
        source = next(addresses, None)
        if source is None:
            break
        due = begin + n / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(arrival(due, source)))
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    # the achieved rate counts the drain too: a portal that falls behind shows less than offered
    return len(latencies) - errors, latencies, errors, time.perf_counter() - begin


async def login_load(port: int, seconds: float, concurrency: int,
                     addresses: Iterator[str]) -> tuple[int, list[float], int]:
    """Capacity: `concurrency` clients, each logging a new citizen in as soon as the last is in.

    Each login is a new connection from a new 127.0.X.Y source address.
    """
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds
    request = login_request(port)

    async def worker() -> None:
        nonlocal errors
        while time.monotonic() < stop:
            source = next(addresses, None)
            if source is None:
                return
            start = time.perf_counter()
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port,
                                                               local_addr=(source, 0))
                writer.write(request)
                status = await _read_response(reader)
                writer.close()
            except (OSError, asyncio.IncompleteReadError):
                errors += 1
                continue
            latencies.append(time.perf_counter() - start)
            if status != 303:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies) - errors, latencies, errors


def p99_ms(latencies: list[float]) -> float:
    if not latencies:
        return float("nan")
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def portal_env(tmp: Path, **extra: str) -> dict[str, str]:
    secrets_file = tmp / "secrets.yaml"
    if not secrets_file.exists():
        inventory, _ = check_inventory(ROOT / "inventory")
        generate_missing(secrets_file, inventory.secret_names())
    return {**os.environ, "SIMPUL_DATA_DIR": str(tmp / "data"),
            "SIMPUL_INVENTORY_DIR": str(ROOT / "inventory"),
            "SIMPUL_SECRETS_FILE": str(secrets_file),
            "SIMPUL_PORTAL_GATEWAY": "memory", "SIMPUL_PORTAL_DEMO_HOTSPOT": "taman-kota",
            "SIMPUL_PORTAL_LOGIN_RATE_PER_MIN": "1000000", "SIMPUL_LOG_LEVEL": "warning",
            **extra}


def start_portal(tmp: Path, port: int | None = None, **extra: str
                 ) -> tuple[subprocess.Popen[bytes], int]:
    """`simpul serve --only portal` on 127.0.0.1:port; `extra` settings as SIMPUL_* values."""
    port = port or free_port()
    url = extra.pop("SIMPUL_PORTAL_URL", f"http://127.0.0.1:{port}")
    env = portal_env(tmp, SIMPUL_PORTAL_LISTEN=f"127.0.0.1:{port}", SIMPUL_PORTAL_URL=url,
                     **extra)
    proc = subprocess.Popen([sys.executable, "-m", "controller.cli", "serve", "--only", "portal"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=open(tmp / f"portal-{port}.log", "wb"),  # noqa: SIM115
                            start_new_session=True)
    wait_port(port)
    return proc, port


def start_nginx(tmp: Path) -> tuple[subprocess.Popen[bytes] | None, int]:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                      else None)
    if nginx is None:
        return None, 0
    port = free_port()
    tmp.chmod(0o755)  # nginx workers run unprivileged
    (tmp / "www").mkdir()
    (tmp / "www" / "index.html").write_text("<!doctype html><title>ok</title>" + "x" * 2000)
    (tmp / "nginx.conf").write_text(f"""
worker_processes auto; pid {tmp}/nginx.pid; error_log {tmp}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{ access_log off; client_body_temp_path {tmp}/nb; proxy_temp_path {tmp}/np;
  fastcgi_temp_path {tmp}/nf; uwsgi_temp_path {tmp}/nu; scgi_temp_path {tmp}/ns;
  server {{ listen 127.0.0.1:{port}; root {tmp}/www; }} }}
""")
    proc = subprocess.Popen([nginx, "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    wait_port(port)
    return proc, port


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def row(name: str, ok: int, latencies: list[float], errors: int, seconds: float,
        baseline: float | None) -> str:
    rate = ok / seconds
    ratio = f"{rate / baseline:6.2f}" if baseline else "   n/a"
    return f"{name:<30} {rate:>10.0f} {p99_ms(latencies):>9.1f} {errors:>7} {ratio}"


HAPROXY_CFG = ROOT / "deploy" / "haproxy" / "haproxy.cfg"
PROXY_SOURCE = "127.0.0.2"  # HAProxy connects to the portals from here: the trusted proxy


def start_haproxy(tmp: Path, front: int, portals: list[int]) -> subprocess.Popen[bytes]:
    """deploy/haproxy/haproxy.cfg with the portal frontend on 127.0.0.1:front and one server
    line per portal process (the admin backend points nowhere: unused here)."""
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    text = HAPROXY_CFG.read_text()
    lines = "".join(f"    server portal{n} 127.0.0.1:{port} check\n"
                    for n, port in enumerate(portals, start=1))
    for example, real in (("    server portal1 10.10.0.11:8080 check\n", lines),
                          ("    server portal2 10.10.0.12:8080 check\n", ""),
                          ("10.10.0.5:80\n", f"127.0.0.1:{front}\n"),
                          ("10.10.0.5:8000\n", f"127.0.0.1:{free_port()}\n"),
                          ("source 10.10.0.5", f"source {PROXY_SOURCE}"),
                          ("10.10.0.11:8000", f"127.0.0.1:{free_port()}"),
                          ("10.10.0.12:8000", f"127.0.0.1:{free_port()}")):
        if example not in text:
            raise SystemExit(f"{HAPROXY_CFG}: expected {example!r} (the bench renders it)")
        text = text.replace(example, real)
    config = tmp / f"haproxy-{front}.cfg"
    config.write_text(text)
    proc = subprocess.Popen([haproxy, "-db", "-f", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    wait_port(front)
    time.sleep(3)  # the first health checks pass
    return proc


def scale_out(args: argparse.Namespace, tmp: Path) -> list[str]:
    """Login capacity and the open-loop p99 at --login-rate through HAProxy, for 1..N portal
    processes on PostgreSQL (a fresh cluster for each N, so each starts with no sessions)."""
    from tests.pg import postgres_server

    results: list[str] = []
    rates: dict[int, tuple[float, float, float]] = {}
    # Each login needs its own source address (one /24 block holds 254): enough blocks for the
    # open loop's arrivals, the rest shared out to the closed loops, so neither runs dry (8
    # blocks once capped every closed-loop row at 2,032 logins: 203/s in 10 s).
    open_blocks = int(args.seconds * args.login_rate) // 254 + 1
    closed_blocks = (151 - args.processes * open_blocks) // args.processes
    if closed_blocks < 1:
        raise SystemExit("bench: too few source addresses for --seconds x --login-rate")
    blocks = iter(range(100, 251, open_blocks + closed_blocks))
    for n in range(1, args.processes + 1):
        procs: list[subprocess.Popen[bytes] | None] = []
        with postgres_server(free_port()) as url:
            try:
                front = free_port()
                env = portal_env(tmp, SIMPUL_DATABASE_URL=url)
                subprocess.run([sys.executable, "-m", "controller.cli", "db", "upgrade"],
                               cwd=ROOT, env=env, check=True, capture_output=True)
                ports = []
                for _ in range(n):
                    proc, port = start_portal(
                        tmp, SIMPUL_DATABASE_URL=url, SIMPUL_TRUSTED_PROXIES=PROXY_SOURCE,
                        SIMPUL_PORTAL_URL=f"http://127.0.0.1:{front}")
                    procs.append(proc)
                    ports.append(port)
                procs.append(start_haproxy(tmp, front, ports))
                first = next(blocks)
                ok, lat, err = asyncio.run(login_load(front, args.seconds, args.concurrency,
                                                      citizens(first, first + closed_blocks - 1)))
                capacity = ok / args.seconds
                results.append(row(f"N={n} login capacity (closed)", ok, lat, err,
                                   args.seconds, args.baseline))
                ok, lat, err, elapsed = asyncio.run(login_open_loop(
                    front, args.seconds, args.login_rate, args.concurrency,
                    citizens(first + closed_blocks, first + closed_blocks + open_blocks - 1)))
                results.append(row(f"N={n} login at {args.login_rate:.0f}/s (open)", ok, lat,
                                   err, elapsed, args.baseline))
                rates[n] = (capacity, ok / elapsed, p99_ms(lat))
            finally:
                for running in procs:
                    stop(running)
    if 1 in rates and args.processes in rates and args.processes > 1:
        (cap1, open1, p1), (capn, openn, pn) = rates[1], rates[args.processes]
        results.append(f"scaling N={args.processes}/N=1: capacity x{capn / cap1:.2f}, "
                       f"open-loop rate x{openn / open1:.2f}, open-loop p99 {p1:.0f} -> "
                       f"{pn:.0f} ms")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--login-rate", type=float, default=300.0,
                        help="offered new citizens per second in the open-loop login run")
    parser.add_argument("--processes", type=int, default=0,
                        help="scale-out rows: 1..N portal processes behind HAProxy "
                        "(with --database postgresql)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--radius", action="store_true",
                        help="the login line through FreeRADIUS -> Simpul beside the SSH "
                        "path's (adapter mikrotik against the lab RouterOS) of the same run")
    parser.add_argument("--radius-logins", type=int, default=2000,
                        help="with --radius: at most this many logins per path")
    parser.add_argument("--radius-concurrency", type=int, default=20,
                        help="with --radius: logins at once in the second pair of rows")
    parser.add_argument("--lab-device", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.lab_device:
        return serve_lab_device(*args.lab_device)
    if args.radius:
        return radius_main(args)
    if args.processes and args.database != "postgresql":
        parser.error("--processes needs --database postgresql: processes share the store")
    if args.processes:
        return scale_out_main(args)
    gc.freeze()  # the load generator's own GC pauses are not the portal's latency
    with tempfile.TemporaryDirectory(prefix="simpul-bench-portal-") as tmpdir:
        tmp = Path(tmpdir)
        portal, nginx = None, None
        try:
            portal, port = start_portal(tmp)
            nginx, nginx_port = start_nginx(tmp)
            probe = (b"GET /generate_204 HTTP/1.1\r\nHost: connectivitycheck.gstatic.com\r\n"
                     b"User-Agent: bench\r\n\r\n")
            baseline = None
            results = []
            if nginx is not None:
                get = b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                ok, lat, err = asyncio.run(keepalive_load(nginx_port, get, 200, args.seconds,
                                                          args.concurrency))
                baseline = ok / args.seconds
                results.append(row("nginx static page (baseline)", ok, lat, err, args.seconds,
                                   baseline))
            ok, lat, err = asyncio.run(keepalive_load(port, probe, 302, args.seconds,
                                                      args.concurrency))
            results.append(row("portal redirect (probe)", ok, lat, err, args.seconds, baseline))
            ok, lat, err = asyncio.run(login_load(port, args.seconds, args.concurrency,
                                                  citizens(100, 174)))
            results.append(row("portal login capacity (closed)", ok, lat, err, args.seconds,
                               baseline))
            ok, lat, err, elapsed = asyncio.run(login_open_loop(
                port, args.seconds, args.login_rate, args.concurrency, citizens(175, 250)))
            results.append(row(f"portal login at {args.login_rate:.0f}/s (open)", ok, lat, err,
                               elapsed, baseline))
        finally:
            stop(nginx)
            stop(portal)
    print(f"concurrency {args.concurrency}, {args.seconds:.0f} s each, loopback, "
          f"{os.cpu_count()} CPU")
    print(f"{'what':<30} {'req/s':>10} {'p99 ms':>9} {'errors':>7} {'x nginx':>6}")
    for line in results:
        print(line)


def scale_out_main(args: argparse.Namespace) -> None:
    gc.freeze()
    with tempfile.TemporaryDirectory(prefix="simpul-bench-portal-") as tmpdir:
        tmp = Path(tmpdir)
        nginx, nginx_port = start_nginx(tmp)
        args.baseline = None
        results = []
        try:
            if nginx is not None:
                get = b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                ok, lat, err = asyncio.run(keepalive_load(nginx_port, get, 200, args.seconds,
                                                          args.concurrency))
                args.baseline = ok / args.seconds
                results.append(row("nginx static page (baseline)", ok, lat, err, args.seconds,
                                   args.baseline))
        finally:
            stop(nginx)
        results += scale_out(args, tmp)
    print(f"portal processes behind HAProxy on PostgreSQL; concurrency {args.concurrency}, "
          f"{args.seconds:.0f} s each, loopback, {os.cpu_count()} CPU")
    print(f"{'what':<30} {'req/s':>10} {'p99 ms':>9} {'errors':>7} {'x nginx':>6}")
    for line in results:
        print(line)


# ------------------------------------------------------------------ RADIUS path (issue #19)

RADIUS_HOTSPOT = "pasar-besar"  # adapter radius in the demo inventory
SSH_HOTSPOT, SSH_GATEWAY = "alun-alun", "alun-alun-gw"  # adapter mikrotik (SSH)


def lab_inventory(tmp: Path, sim_address: str, sim_port: int, coa_port: int
                  ) -> tuple[Path, Path]:
    """A copy of the demo inventory: the SSH hotspot's RouterOS gateway at the simulator's
    address, the RADIUS hotspot's NAS at 127.0.0.1 (the load generator); its secrets file."""
    import yaml

    inventory_dir = tmp / "inventory"
    shutil.copytree(ROOT / "inventory", inventory_dir)
    devices = inventory_dir / "devices.yaml"
    data = yaml.safe_load(devices.read_text())
    [device] = [d for d in data["devices"] if d["name"] == SSH_GATEWAY]
    device.update({"mgmt_address": sim_address, "mgmt_port": sim_port})
    devices.write_text(yaml.safe_dump(data, sort_keys=False))
    hotspots = inventory_dir / "hotspots.yaml"
    data = yaml.safe_load(hotspots.read_text())
    [hotspot] = [h for h in data["hotspots"] if h["name"] == RADIUS_HOTSPOT]
    hotspot["radius"] = {**hotspot.get("radius", {}), "server": "127.0.0.1",
                         "nas_address": "127.0.0.1", "coa_port": coa_port}
    hotspots.write_text(yaml.safe_dump(data, sort_keys=False))
    secrets_file = tmp / "lab-secrets.yaml"
    inventory, _ = check_inventory(inventory_dir)
    generate_missing(secrets_file, inventory.secret_names() | {"radius_rest_token"})
    return inventory_dir, secrets_file


def serve_lab_device(inventory_dir: str, secrets_file: str, state_dir: str) -> None:
    """(`--lab-device`, its own process) the lab RouterOS simulator of the SSH hotspot's
    gateway, so its CPU is not the load generator's."""
    from controller.secrets import SecretStore
    from lab.ssh_sim import load_extensions, start_device
    from lab.ssh_sim.server import host_key

    inventory, _ = check_inventory(Path(inventory_dir))
    secrets = SecretStore.load(Path(secrets_file), {})

    async def run() -> None:
        load_extensions()
        key = host_key(Path(state_dir) / "host_key")
        await start_device(inventory.devices[SSH_GATEWAY], inventory, secrets,
                           Path(state_dir), key)
        await asyncio.Event().wait()

    asyncio.run(run())


def udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def issue_credentials(settings: object, count: int) -> list[tuple[str, str, str]]:
    """`count` citizens logged in at the RADIUS hotspot (click-through, each its own address
    and MAC), each with the one-time credential the portal hands the browser:
    (user, password, Calling-Station-Id). Not timed: this is the portal's part."""
    from captive_portal.service import Portal
    from controller.context import Context

    ctx = Context.open(settings)  # type: ignore[arg-type]
    portal = Portal(ctx)
    issued = []
    try:
        for n, source in enumerate(citizens(100, 250)):
            if n == count:
                break
            mac = f"02:00:5e:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}"
            view = portal.login.log_in(source, "click_through", accepted_terms=True,
                                       nas_mac=mac)
            credential = portal.radius.issue(view.id, RADIUS_HOTSPOT, mac)
            issued.append((credential.username, credential.password,
                           mac.upper().replace(":", "-")))  # RFC 3580 3.21's form
    finally:
        portal.close()
        ctx.close()
    return issued


def access_requests(credentials: list[tuple[str, str, str]], secret: bytes) -> list[bytes]:
    """The NAS's Access-Requests (PAP, with Message-Authenticator), built before the clock
    starts: building them is the NAS's work, not Simpul's."""
    from pyrad import packet
    from pyrad.dictionary import Dictionary

    # the lab NAS's dictionary (RFC 2865 and MikroTik's attributes)
    dictionary = Dictionary(str(ROOT / "lab" / "ssh_sim" / "radius_dictionary"))
    out = []
    for n, (user, password, calling) in enumerate(credentials):
        request = packet.AuthPacket(code=packet.AccessRequest, id=n % 256, secret=secret,
                                    dict=dictionary)
        request["User-Name"] = user
        request["User-Password"] = request.PwCrypt(password)
        request["Calling-Station-Id"] = calling
        request["NAS-IP-Address"] = "127.0.0.1"
        request["NAS-Identifier"] = RADIUS_HOTSPOT
        request["NAS-Port-Type"] = "Wireless-802.11"
        request.add_message_authenticator()
        out.append(request.RequestPacket())
    return out


async def radius_load(port: int, requests: list[bytes], seconds: float, concurrency: int
                      ) -> tuple[int, list[float], int, float]:
    """Closed loop: `concurrency` NASes (one UDP socket each) send the next Access-Request as
    soon as the last is answered; an answer other than Access-Accept, or none in 5 s, is an
    error. Returns (accepted, latencies, errors, elapsed)."""
    loop = asyncio.get_running_loop()
    queue = iter(requests)
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds

    class Nas(asyncio.DatagramProtocol):
        def __init__(self) -> None:
            self.answer: asyncio.Future[bytes] | None = None

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            if self.answer is not None and not self.answer.done():
                self.answer.set_result(data)

    async def worker() -> None:
        nonlocal errors
        transport, nas = await loop.create_datagram_endpoint(
            Nas, local_addr=("127.0.0.1", 0), remote_addr=("127.0.0.1", port))
        try:
            while time.monotonic() < stop:
                data = next(queue, None)
                if data is None:
                    return
                nas.answer = loop.create_future()
                start = time.perf_counter()
                transport.sendto(data)
                try:
                    reply = await asyncio.wait_for(nas.answer, 5)
                except TimeoutError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - start)
                if reply[0] != 2 or reply[1] != data[1]:  # Access-Accept to this id
                    errors += 1
        finally:
            transport.close()

    begin = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies) - errors, latencies, errors, time.perf_counter() - begin


def ssh_clients(count: int) -> Iterator[object]:
    """Clients of the SSH hotspot's subnet (10.200.4.0/22), one per login."""
    from captive_portal.gateways.base import Client

    return iter([Client(f"10.200.{4 + n // 254}.{1 + n % 254}",
                        f"02:00:5e:10:{n >> 8 & 255:02x}:{n & 255:02x}")
                 for n in range(min(count, 4 * 254))])


def ssh_load(gateway: object, clients: Iterator[object], seconds: float, concurrency: int
             ) -> tuple[int, list[float], int, float]:
    """The SSH path's gateway work for one login, as `adapter: mikrotik` does it: look the
    client's MAC up (/ip hotspot host print), then /ip hotspot active remove + login; one
    SSH session per gateway, so logins queue on it. Closed loop, `concurrency` threads."""
    from concurrent.futures import ThreadPoolExecutor

    from captive_portal.gateways.base import GatewayError, Grant

    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker() -> None:
        nonlocal errors
        while time.monotonic() < stop:
            with lock:
                client = next(clients, None)
            if client is None:
                return
            start = time.perf_counter()
            try:
                gateway.mac_for_ip(client.ip)  # type: ignore[attr-defined]
                gateway.allow([Grant(client, 600)])  # type: ignore[attr-defined,arg-type]
            except GatewayError:
                with lock:
                    errors += 1
                continue
            with lock:
                latencies.append(time.perf_counter() - start)

    begin = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    return len(latencies), latencies, errors, time.perf_counter() - begin


def radius_main(args: argparse.Namespace) -> None:
    """The SSH path (baseline) and the RADIUS path of the same run, side by side."""
    from captive_portal.service import Portal
    from controller.context import Context
    from controller.devices.host_keys import known_hosts_path, trust_device
    from controller.radius_config import build_config
    from controller.secrets import SecretStore
    from controller.settings import Settings

    freeradius = shutil.which("freeradius") or shutil.which("radiusd")
    if freeradius is None:
        raise SystemExit("--radius needs FreeRADIUS (Debian: freeradius)")
    gc.freeze()
    with tempfile.TemporaryDirectory(prefix="simpul-bench-radius-") as tmpdir:
        tmp = Path(tmpdir)
        # 127.0.X.56: off the demo's 127.0.0.10-58, like the tests' gateways
        sim_address = f"127.0.{random.randint(100, 250)}.56"
        with socket.socket() as sock:
            sock.bind((sim_address, 0))
            sim_port = int(sock.getsockname()[1])
        inventory_dir, secrets_file = lab_inventory(tmp, sim_address, sim_port, udp_port())
        secrets = SecretStore.load(secrets_file, {})
        admin_port, auth_port, acct_port = free_port(), udp_port(), udp_port()
        env = {"SIMPUL_DATA_DIR": str(tmp / "data"), "SIMPUL_INVENTORY_DIR": str(inventory_dir),
               "SIMPUL_SECRETS_FILE": str(secrets_file),
               "SIMPUL_ADMIN_LISTEN": f"127.0.0.1:{admin_port}",
               "SIMPUL_PORTAL_DEMO_HOTSPOT": RADIUS_HOTSPOT,
               "SIMPUL_PORTAL_LOGIN_RATE_PER_MIN": "1000000",
               "SIMPUL_RADIUS_REST_FROM": "127.0.0.1/32", "SIMPUL_LOG_LEVEL": "warning"}
        settings = Settings(data_dir=tmp / "data", inventory_dir=inventory_dir,
                            secrets_file=secrets_file, portal_demo_hotspot=RADIUS_HOTSPOT,
                            portal_login_rate_per_min=1_000_000, portal_name=None,
                            portal_url="http://127.0.0.1")
        procs: list[subprocess.Popen[bytes] | None] = []
        results = []
        try:
            print("issuing one-time credentials (not timed)", file=sys.stderr)
            credentials = issue_credentials(settings, args.radius_logins)
            procs.append(subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--lab-device",
                 str(inventory_dir), str(secrets_file), str(tmp / "sim")],
                cwd=ROOT, stdout=subprocess.DEVNULL,
                stderr=open(tmp / "sim.log", "wb"), start_new_session=True))  # noqa: SIM115
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "controller.cli", "serve", "--only", "admin"],
                cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                stderr=open(tmp / "admin.log", "wb"), start_new_session=True))  # noqa: SIM115
            conf = tmp / "freeradius"
            inventory, _ = check_inventory(inventory_dir)
            build_config(conf, inventory, secrets, listen="127.0.0.1", auth_port=auth_port,
                         acct_port=acct_port, rest_url=f"http://127.0.0.1:{admin_port}")
            radius_log = tmp / "freeradius.log"
            procs.append(subprocess.Popen([freeradius, "-f", "-d", str(conf)],
                                          stdout=open(radius_log, "wb"),  # noqa: SIM115
                                          stderr=subprocess.STDOUT, start_new_session=True))
            wait_port(admin_port)
            deadline = time.monotonic() + 60
            while "Ready to process requests" not in radius_log.read_text():
                if time.monotonic() > deadline or procs[-1].poll() is not None:  # type: ignore[union-attr]
                    raise SystemExit(f"FreeRADIUS did not start:\n{radius_log.read_text()}")
                time.sleep(0.1)
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection((sim_address, sim_port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit((tmp / "sim.log").read_text()) from None
                    time.sleep(0.2)

            # SSH path (the baseline): adapter mikrotik against the lab RouterOS
            trust_device(known_hosts_path(settings.data_dir), SSH_GATEWAY, sim_address,
                         sim_port)
            ctx = Context.open(settings)
            portal = Portal(ctx)
            levels = sorted({1, args.radius_concurrency})
            ssh_rates: dict[int, float | None] = {}
            clients = ssh_clients(args.radius_logins)
            print("SSH path", file=sys.stderr)
            try:
                gateway = portal.gateways.get(SSH_HOTSPOT)
                gateway.mac_for_ip("10.200.4.1")  # the SSH session is open before the clock
                for level in levels:
                    ok, lat, err, elapsed = ssh_load(gateway, clients, args.seconds, level)
                    ssh_rates[level] = ok / elapsed if ok else None
                    results.append(row(f"SSH path login, {level} at once", ok, lat, err,
                                       elapsed, ssh_rates[level]))
            finally:
                portal.close()
                ctx.close()

            # RADIUS path: NAS -> FreeRADIUS -> Simpul's rlm_rest endpoints
            requests = access_requests(credentials,
                                       secrets.require("radius_pasar_besar").encode())
            share = len(requests) // len(levels)
            for n, level in enumerate(levels):
                ok, lat, err, elapsed = asyncio.run(radius_load(
                    auth_port, requests[n * share:(n + 1) * share], args.seconds, level))
                results.append(row(f"RADIUS path login, {level} at once", ok, lat, err,
                                   elapsed, ssh_rates[level]))
        finally:
            for proc in reversed(procs):
                stop(proc)
    print(f"the NAS side of a login, closed loop, at most {args.seconds:.0f} s each (plus the "
          f"drain), {args.radius_logins} logins per path, loopback, {os.cpu_count()} CPU; "
          f"x SSH: the SSH path's rate at the same concurrency")
    print(f"{'what':<30} {'logins/s':>10} {'p99 ms':>9} {'errors':>7} {'x SSH':>6}")
    for line in results:
        print(line)


if __name__ == "__main__":
    main()
