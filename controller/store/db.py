"""Engine, sessions and migrations. SQLite by default; PostgreSQL via SIMPUL_DATABASE_URL."""

from __future__ import annotations

import fcntl
import os
import select
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30.0

# SQLite has one writer at a time. A second writer would sleep-poll (its busy handler waits 1, 2,
# 5 ... 100 ms between tries), so under load every collision costs tens of ms: a citizen's login
# behind the poller's rollup, the reaper behind a login. Within one process, writers queue on one
# lock per database file instead and wake the moment the last writer commits. The lock is taken
# at a transaction's first writing statement and released when the DBAPI connection commits,
# rolls back or closes (the pool rolls back every connection it takes back), so a read-only
# transaction never waits, and other processes still meet SQLite's own locking.
_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()
_WRITING = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


def _writes(sql: str) -> bool:
    return sql.lstrip()[:7].upper().startswith(_WRITING)


class _SerialisedCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> Self:
        if _writes(sql):
            self.connection._take_write_lock()  # type: ignore[attr-defined]
        return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> Self:
        if _writes(sql):
            self.connection._take_write_lock()  # type: ignore[attr-defined]
        return super().executemany(sql, parameters)


class _SerialisedConnection(sqlite3.Connection):
    """A sqlite3 connection whose writing transactions take the process's lock of its file."""

    write_lock: threading.Lock  # set on the per-file subclass

    def _take_write_lock(self) -> None:
        if getattr(self, "_holds_write_lock", False):
            return
        if not self.write_lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_S):
            raise sqlite3.OperationalError(
                f"database is locked: another writer in this process held it for "
                f"{SQLITE_BUSY_TIMEOUT_S:.0f} s")
        self._holds_write_lock = True

    def _drop_write_lock(self) -> None:
        if getattr(self, "_holds_write_lock", False):
            self._holds_write_lock = False
            self.write_lock.release()

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory or _SerialisedCursor)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._drop_write_lock()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._drop_write_lock()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._drop_write_lock()


def _connection_class(path: str) -> type[_SerialisedConnection]:
    if not path or path == ":memory:":
        lock = threading.Lock()  # every connection is its own database: nothing to share
    else:
        with _WRITE_LOCKS_GUARD:
            lock = _WRITE_LOCKS.setdefault(str(Path(path).resolve()), threading.Lock())
    return type("SerialisedConnection", (_SerialisedConnection,), {"write_lock": lock})


def _private_sqlite_file(path: str) -> None:
    """Create the database file 0600 (SQLite gives its -wal and -shm files the same mode) and
    tighten existing ones, whatever the umask: the store holds password hashes and sessions."""
    db = Path(path)
    db.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(db, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    for name in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{db}.migrate-lock")):
        try:
            if name.stat().st_mode & 0o077:
                os.chmod(name, 0o600)
        except (FileNotFoundError, PermissionError):
            pass


def _sqlite_path(url: str) -> str | None:
    """The file of a SQLite URL; None for in-memory databases."""
    path = url.split("///", 1)[-1].split("?", 1)[0] if "///" in url else ""
    return path if path and path != ":memory:" else None


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if (file := _sqlite_path(url)) is not None:
            _private_sqlite_file(file)
        engine = create_engine(url, connect_args={
            "check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S,
            "factory": _connection_class(path)})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000:.0f}")
            cursor.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # Enough pooled connections for a busy process's threads, so they are not opened and
    # closed per request under load (an overflow connection is closed when it comes back);
    # the cap (size + overflow) is SQLAlchemy's default, so PostgreSQL sees no more of them.
    engine = create_engine(url, pool_size=PG_POOL_SIZE, max_overflow=PG_POOL_OVERFLOW)
    event.listen(engine, "checkout", _closed_by_server)
    return engine


PG_POOL_SIZE = 10
PG_POOL_OVERFLOW = 5


def _closed_by_server(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    """Refuse a pooled connection the server has closed (a restart or failover sends it a
    FATAL message, or just EOF), so the pool opens a new one: a liveness check without the
    round trip of SQLAlchemy's pre-ping. An idle connection has nothing to read otherwise."""
    if dbapi_conn.closed:
        raise sa_exc.DisconnectionError("the connection is closed")
    poller = select.poll()
    poller.register(dbapi_conn.fileno(), select.POLLIN)
    if poller.poll(0):
        raise sa_exc.DisconnectionError("the server closed the connection")


def store_unavailable(exc: BaseException) -> bool:
    """True if `exc` means the database could not be reached or dropped the connection (a
    restart, a failover, a full pool): the request may be retried, it is not a bug."""
    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection came free in time
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    return exc.connection_invalidated or isinstance(
        exc, (sa_exc.OperationalError, sa_exc.InterfaceError))


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


MIGRATION_LOCK_ID = 0x53494D50  # "SIMP": the PostgreSQL advisory lock of migrations


JOB_SCHEMA_TABLE = "procrastinate_jobs"  # the job library's tables are procrastinate_*


def not_job_library(name: str | None, type_: str, parent_names: Mapping[Any, Any]) -> bool:
    """Alembic's include_name: the job library's procrastinate_* tables are not our models."""
    table = name if type_ == "table" else parent_names.get("table_name")
    return not (table or "").startswith("procrastinate_")


def apply_job_schema(connection: Connection) -> None:
    """The job library's (procrastinate's) schema on PostgreSQL, once: its tables are not
    our models, so Alembic leaves them alone and this creates them when they are missing."""
    from procrastinate.schema import SchemaManager

    if connection.execute(text("SELECT to_regclass(:name)"),
                          {"name": JOB_SCHEMA_TABLE}).scalar() is None:
        # The driver formats parameters even when none are given: escape the schema's '%'.
        connection.exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))


def migrate(url: str, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent).

    Several processes may start at once (`serve --only portal` and `--only poller`, or many
    behind a load balancer): they take turns, so the second finds the schema already there.
    """
    config = alembic_config(url)
    if url.startswith("sqlite"):
        path = _sqlite_path(url)
        if path is None:
            command.upgrade(config, revision)
            return
        _private_sqlite_file(path)
        lock_fd = os.open(f"{path}.migrate-lock", os.O_WRONLY | os.O_CREAT, 0o600)
        with open(lock_fd, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            command.upgrade(config, revision)
        return
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:id)"),
                                   {"id": MIGRATION_LOCK_ID})
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            if connection.dialect.name == "postgresql":
                apply_job_schema(connection)
    finally:
        engine.dispose()


def store_problem(exc: BaseException) -> str:
    """What an OperationalError of the store means, in words an operator can act on."""
    message = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    if "disk is full" in message or "No space left" in message:
        return f"the store cannot write: its disk is full ({message})"
    if "database is locked" in message:
        return f"the store is busy ({message})"
    if "read-only" in message or "readonly" in message:
        return f"the store cannot write: it is read-only ({message})"
    return f"the store is unavailable ({message})"


class Store:
    """One engine and its session factory; `with store.session() as s:` commits or rolls back."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
