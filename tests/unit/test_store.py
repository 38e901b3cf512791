"""The store on SQLite and on a real PostgreSQL server: migrations, users, audit log."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text

from controller.store.db import Store, alembic_config, migrate
from controller.store.models import AuditLog, User
from controller.store.users import UserError, add_user, ensure_first_admin, verify_password


def _schema(store: Store) -> dict[str, object]:
    """Every table with its columns and indexes, and the migration the store is at."""
    inspector = inspect(store.engine)
    with store.engine.connect() as conn:
        versions = sorted(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    return {"version": versions, "tables": {
        name: ([(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(name)],
               sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                      for i in inspector.get_indexes(name)))
        for name in inspector.get_table_names()}}


def test_migrations_create_tables_and_are_idempotent(store_url: str) -> None:
    store = Store(store_url)  # the fixture migrated it once
    first = _schema(store)
    assert {"users", "audit_log", "alembic_version", "portal_sessions"} <= set(
        first["tables"])  # type: ignore[arg-type]
    head = ScriptDirectory.from_config(alembic_config(store_url)).get_current_head()
    assert first["version"] == [head]
    with store.session() as session:
        add_user(session, "budi", "panjang-sekali-123", "operator", actor="admin")
    store.dispose()

    migrate(store_url)  # a second run: the same schema, the same head, the data kept
    migrate(store_url)
    store = Store(store_url)
    assert _schema(store) == first
    with store.session() as session:
        assert session.scalars(select(User.username)).all() == ["budi"]
        assert [r.action for r in session.scalars(select(AuditLog))] == ["user.add"]
    store.dispose()


def test_first_admin_is_created_once_with_argon2_hash(store_url: str) -> None:
    store = Store(store_url)
    with store.session() as session:
        password = ensure_first_admin(session)
    assert password and len(password) >= 16
    with store.session() as session:
        assert ensure_first_admin(session) is None
        user = session.scalar(select(User).where(User.username == "admin"))
        assert user is not None and user.role == "admin"
        assert user.password_hash.startswith("$argon2")
        assert password not in user.password_hash
        assert verify_password(user.password_hash, password)
        assert not verify_password(user.password_hash, password + "x")
        rows = session.scalars(select(AuditLog).where(AuditLog.action == "user.add")).all()
        assert [(r.actor, r.target) for r in rows] == [("system", "admin")]
    store.dispose()


def test_bad_users_are_refused_and_nothing_is_stored(store_url: str) -> None:
    store = Store(store_url)
    with store.session() as session:
        add_user(session, "budi", "panjang-sekali-123", "operator", actor="admin")
    cases = [
        ("budi", "panjang-sekali-123", "operator", "already exists"),
        ("siti", "pendek", "viewer", "at least 12"),
        ("siti", "panjang-sekali-123", "root", "unknown role"),
        ("si ti", "panjang-sekali-123", "viewer", "bad username"),
        ("_", "panjang-sekali-123", "viewer", "bad username"),  # schemathesis found it
        ("budé", "panjang-sekali-123", "viewer", "bad username"),  # ASCII, as the API says
    ]
    for username, password, role, message in cases:
        with pytest.raises(UserError, match=message), store.session() as session:
            add_user(session, username, password, role, actor="admin")
    with store.session() as session:
        assert session.scalars(select(User.username)).all() == ["budi"]
    store.dispose()


def test_processes_starting_at_once_migrate_in_turn(tmp_path, request) -> None:  # type: ignore[no-untyped-def]
    """`serve --only portal` and `--only poller` start together on one store: neither may
    crash on a table the other has just created."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    urls = [f"sqlite:///{tmp_path / 'simpul.db'}", request.getfixturevalue("postgres_url")]
    from sqlalchemy import text

    from controller.store.db import make_engine

    engine = make_engine(urls[1])
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    code = "import sys; from controller.store.db import migrate; migrate(sys.argv[1])"
    for url in urls:
        procs = [subprocess.Popen([sys.executable, "-c", code, url], cwd=ROOT,
                                  stderr=subprocess.PIPE, text=True) for _ in range(4)]
        errors = [p.communicate(timeout=120)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
        store = Store(url)
        assert {"users", "audit_log", "portal_sessions", "bandwidth_5m"} <= set(
            inspect(store.engine).get_table_names())
        store.dispose()


def test_migrations_build_exactly_the_schema_the_models_describe(store_url: str) -> None:
    """Every table, column and index a model names exists after `migrate`, and nothing else:
    a model changed without a migration (or the reverse) fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    # store.models alone must register every table (Alembic's env.py imports only it): a
    # table declared elsewhere would show here as one the migrations made and no model has.
    from controller.store.db import not_job_library
    from controller.store.models import Base

    store = Store(store_url)
    try:
        with store.engine.connect() as conn:
            # The job library's own tables (procrastinate_*, PostgreSQL only) are not ours.
            context = MigrationContext.configure(conn, opts={"include_name": not_job_library})
            diff = compare_metadata(context, Base.metadata)
    finally:
        store.dispose()
    assert diff == []


def test_sqlite_writers_in_one_process_queue_instead_of_failing_busy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Writers of one process (logins, the reaper, rollups, audit) wait their turn for SQLite's
    single write lock in the store, not in SQLite's sleep-polling busy handler. With that
    handler switched off (busy_timeout 0), concurrent writers still all succeed, and a reader
    is never held up by a writer's open transaction."""
    import threading

    from sqlalchemy import event, func

    from controller.store import audit

    url = f"sqlite:///{tmp_path / 'simpul.db'}"
    migrate(url)
    store = Store(url)

    @event.listens_for(store.engine, "connect")
    def _no_busy_wait(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.execute("PRAGMA busy_timeout=0")

    failures: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(25):
                with store.session() as session:
                    audit.record(session, f"writer-{n}", "test.write", target=str(i))
                    session.scalar(select(func.count(AuditLog.id)))  # read inside the write
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    with store.session() as session:
        assert session.scalar(select(func.count(AuditLog.id))
                              .where(AuditLog.action == "test.write")) == 8 * 25

    # A writer holds its transaction open; a reader in another thread is answered meanwhile.
    holding, release = threading.Event(), threading.Event()

    def slow_writer() -> None:
        with store.session() as session:
            audit.record(session, "slow", "test.write", target="held")
            session.flush()
            holding.set()
            release.wait(timeout=60)

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert holding.wait(timeout=30)
    with store.session() as session:
        seen = session.scalar(select(func.count(AuditLog.id)).where(AuditLog.actor == "slow"))
    release.set()
    thread.join(timeout=60)
    assert seen == 0  # read while the writer held the lock: its row not yet committed
    with store.session() as session:
        assert session.scalar(select(func.count(AuditLog.id))
                              .where(AuditLog.actor == "slow")) == 1
    store.dispose()


def test_parallel_wrong_passwords_each_count_and_lock_the_account(store_url: str) -> None:
    """20 wrong passwords at once (threads, each with its own session) all count: the counter is
    increased in the database, not read, increased and written back (which left it at 2)."""
    import threading

    from controller.auth import MAX_FAILED_LOGINS, AuthError, login

    store = Store(store_url)
    password = "kata-sandi-rahasia-1"
    with store.session() as session:
        add_user(session, "budi", password, "operator", actor="test")
    start = threading.Barrier(20)
    refused: list[str] = []

    def guess(n: int) -> None:
        with store.session() as session:
            start.wait(timeout=60)
            try:
                login(session, "budi", f"salah-{n:02d}-tebakan", source="127.0.100.1")
            except AuthError as exc:
                refused.append(exc.reason)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert len(refused) == 20
        with store.session() as session:
            budi = session.scalar(select(User).where(User.username == "budi"))
            assert budi is not None and budi.failed_logins == 20
            assert budi.locked_until is not None
            failures = session.scalars(select(AuditLog.detail).where(
                AuditLog.action == "user.login", AuditLog.actor == "budi")).all()
            assert sorted(d["failures"] for d in failures) == list(range(1, 21))
        assert refused.count("bad_credentials") == MAX_FAILED_LOGINS - 1
        with store.session() as session, pytest.raises(AuthError):
            login(session, "budi", password, source="127.0.100.1")  # locked: even the right one
    finally:
        store.dispose()


def test_a_new_database_and_its_directory_are_private_whatever_the_umask(  # type: ignore[no-untyped-def]
        tmp_path, demo_secrets) -> None:
    """The data directory 0700 and simpul.db with its WAL and shared-memory files 0600, even
    under umask 000 (they hold password hashes, sessions and the portal's records)."""
    import os
    import stat

    from controller.context import Context
    from controller.settings import Settings
    from tests.conftest import DEMO_INVENTORY

    data = tmp_path / "data"
    old = os.umask(0)
    try:
        ctx = Context.open(Settings(data_dir=data, inventory_dir=DEMO_INVENTORY,
                                    secrets_file=demo_secrets))
        try:
            with ctx.store.session() as session:
                add_user(session, "budi", "kata-sandi-rahasia-1", "viewer", actor="test")
                files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in data.iterdir()}
        finally:
            ctx.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert {"simpul.db", "simpul.db-wal", "simpul.db-shm"} <= set(files)
    assert {name: mode for name, mode in files.items() if mode != 0o600} == {}
    # A directory and database made earlier with open modes are tightened.
    os.chmod(data, 0o755)
    os.chmod(data / "simpul.db", 0o644)
    Context.open(Settings(data_dir=data, inventory_dir=DEMO_INVENTORY,
                          secrets_file=demo_secrets)).close()
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "simpul.db").stat().st_mode) == 0o600


def test_password_hashing_runs_a_bounded_number_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each argon2 hash takes 64 MiB: 40 parallel logins queue for a few slots instead of
    taking a gigabyte together."""
    import threading
    import time

    from controller.store import users

    running, peak = [0], [0]
    guard = threading.Lock()

    class Slow:
        def verify(self, _hash: str, _password: str) -> bool:
            with guard:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            time.sleep(0.02)
            with guard:
                running[0] -= 1
            return False

    monkeypatch.setattr(users, "_hasher", Slow())
    threads = [threading.Thread(target=verify_password, args=("h", "p")) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert 1 <= peak[0] <= 4  # users.MAX_CONCURRENT_HASHES
