"""A throwaway PostgreSQL server for tests: initdb in a temp dir, loopback only, removed after."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _run_as(user: str | None) -> Callable[[], None] | None:
    """The preexec_fn that makes a child run as `user` (None: as this process)."""
    if user is None:
        return None
    entry = pwd.getpwnam(user)

    def demote() -> None:
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)

    return demote


# port -> (pg_ctl, data dir, pg_ctl start options, run-as preexec_fn) of the servers running now
_RUNNING: dict[int, tuple[str, str, list[str], Callable[[], None] | None]] = {}


def _pg_ctl(port: int, *action: str) -> None:
    pg_ctl, datadir, start_opts, opts = _RUNNING[port]
    args = [*start_opts, "start"] if action == ("start",) else list(action)
    subprocess.run([pg_ctl, "-D", datadir, *args],  # type: ignore[call-overload]
                   check=True, capture_output=True, preexec_fn=opts)


def stop_postgres(port: int) -> None:
    """Stop the test server on `port` as an administrator's restart would (fast shutdown:
    sessions are cut, transactions in flight roll back); start it with start_postgres."""
    _pg_ctl(port, "-w", "-t", "60", "-m", "fast", "stop")


def start_postgres(port: int) -> None:
    _pg_ctl(port, "start")


@contextmanager
def postgres_server(port: int) -> Iterator[str]:
    """Yield a SQLAlchemy URL of a fresh database on 127.0.0.1:port."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise FileNotFoundError("PostgreSQL server binaries (initdb, pg_ctl) not installed")
    # PostgreSQL refuses to run as root: run it as the postgres system user.
    user = "postgres" if os.geteuid() == 0 else None
    base = tempfile.mkdtemp(prefix="simpul-pg-")
    if user:
        entry = pwd.getpwnam(user)
        os.chown(base, entry.pw_uid, entry.pw_gid)
    datadir, sockdir = os.path.join(base, "data"), base
    opts = _run_as(user)
    try:
        subprocess.run([initdb, "-D", datadir, "-U", "simpul", "--auth=trust", "-E", "UTF8"],
                       check=True, capture_output=True, preexec_fn=opts)
        start = ["-l", os.path.join(base, "log"), "-w", "-t", "60", "-o",
                 f"-p {port} -k {sockdir} -c listen_addresses=127.0.0.1 -c fsync=off"]
        _RUNNING[port] = (pg_ctl, datadir, start, opts)
        start_postgres(port)
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(host="127.0.0.1", port=port, user="simpul",
                                     dbname="postgres", autocommit=True) as conn:
                    conn.execute("CREATE DATABASE simpul_test")
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield f"postgresql+psycopg://simpul@127.0.0.1:{port}/simpul_test"
    finally:
        _RUNNING.pop(port, None)
        subprocess.run([pg_ctl, "-D", datadir, "-m", "immediate", "stop"],
                       capture_output=True, preexec_fn=opts)
        shutil.rmtree(base, ignore_errors=True)
