"""`simpul db backup` / `simpul db restore` on SQLite and a real PostgreSQL: an archive made of a
data dir with portal sessions, pushes, audit rows, device backups and a git-tracked inventory
restores into an empty data dir (and an empty database) where all of them are found again."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pygit2
import pytest
from sqlalchemy import select, text

from controller.backups import BackupRepo
from controller.store.db import Store, make_engine, migrate
from controller.store.models import AuditLog, ConfigPush, ConfigPushDevice
from controller.store.portal import PortalSession

pytestmark = pytest.mark.integration

STARTED = datetime(2026, 11, 2, 3, 4, 5, tzinfo=UTC)


def simpul(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "controller.cli", *args], env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def environment(data_dir: Path, inventory: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")}
    env.update(SIMPUL_DATA_DIR=str(data_dir), SIMPUL_INVENTORY_DIR=str(inventory),
               SIMPUL_DATABASE_URL=url)
    return env


def fill(url: str) -> None:
    """Rows a regency would miss after a restore: a session, a push, an audit entry."""
    store = Store(url)
    try:
        with store.session() as s:
            s.add(PortalSession(hotspot="taman-kota", method="click_through",
                                client_ip="10.20.0.7", started_at=STARTED,
                                expires_at=STARTED + timedelta(hours=1), bytes_down=123456))
            push = ConfigPush(actor="budi", started_at=STARTED, state="done")
            s.add(push)
            s.flush()
            s.add(ConfigPushDevice(push_id=push.id, device="dinkes-r1", position=0,
                                   status="changed", diff="+/ip address add"))
            s.add(AuditLog(actor="budi", action="config.push", target="dinkes-r1",
                           result="ok", at=STARTED))
    finally:
        store.dispose()


def git_inventory(path: Path) -> str:
    path.mkdir(parents=True)
    (path / "sites.yaml").write_text("sites: []\n")
    repo = pygit2.init_repository(str(path), initial_head="main")
    repo.index.add_all()
    repo.index.write()
    who = pygit2.Signature("Test", "test@localhost")
    return str(repo.create_commit("HEAD", who, who, "inventory", repo.index.write_tree(), []))


def empty_database(url: str, name: str) -> str:
    """A new, empty database beside the one of `url` on the same server."""
    engine = make_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return url.rsplit("/", 1)[0] + "/" + name


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_backup_restores_into_an_empty_data_dir(tmp_path: Path, database: str,
                                                request: pytest.FixtureRequest) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    if database == "sqlite":
        url, restored_url = f"sqlite:///{old / 'simpul.db'}", f"sqlite:///{new / 'simpul.db'}"
    else:
        server = request.getfixturevalue("postgres_url")
        url = empty_database(server, "simpul_archive_old")
        restored_url = empty_database(server, "simpul_archive_new")
    inventory = tmp_path / "repo" / "inventory"
    commit = git_inventory(inventory)
    old.mkdir()
    migrate(url)
    fill(url)
    first = BackupRepo(old / "backups").save("dinkes-r1", "/system identity\nset name=r1\n",
                                             "fetched")
    archive = tmp_path / "simpul-backup.tar.gz"

    made = simpul(environment(old, inventory, url), "db", "backup", str(archive))
    assert made.returncode == 0, made.stderr
    assert f"inventory: revision {commit}" in made.stderr
    assert oct(archive.stat().st_mode & 0o777) == "0o600"
    with tarfile.open(archive) as tar:
        assert "inventory/sites.yaml" not in tar.getnames()  # committed: the revision is enough

    env = environment(new, inventory, restored_url)
    done = simpul(env, "db", "restore", str(archive))
    assert done.returncode == 0, done.stderr
    assert f"at the backup's revision {commit}" in done.stderr
    store = Store(restored_url)
    try:
        with store.session() as s:
            [session] = s.scalars(select(PortalSession)).all()
            assert (session.hotspot, session.client_ip, session.bytes_down) == \
                ("taman-kota", "10.20.0.7", 123456)
            [push] = s.scalars(select(ConfigPush)).all()
            assert (push.actor, push.state) == ("budi", "done")
            [device] = s.scalars(select(ConfigPushDevice)).all()
            assert (device.push_id, device.device, device.status) == \
                (push.id, "dinkes-r1", "changed")
            [audit] = s.scalars(select(AuditLog)).all()
            assert (audit.actor, audit.action, audit.target) == \
                ("budi", "config.push", "dinkes-r1")
    finally:
        store.dispose()
    restored = BackupRepo(new / "backups")
    assert [v.commit for v in restored.history("dinkes-r1")] == [first]
    assert "set name=r1" in restored.show("dinkes-r1")

    again = simpul(env, "db", "restore", str(archive))
    assert again.returncode == 1
    assert "refusing to restore over existing data" in again.stderr
    assert "--force" in again.stderr and "Traceback" not in again.stderr
    forced = simpul(env, "db", "restore", "--force", str(archive))
    assert forced.returncode == 0, forced.stderr
    store = Store(restored_url)
    try:
        with store.session() as s:
            assert len(s.scalars(select(PortalSession)).all()) == 1  # replaced, not doubled
    finally:
        store.dispose()


def test_uncommitted_inventory_travels_in_the_archive(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "sites.yaml").write_text("sites: []\n")
    old, new = tmp_path / "old", tmp_path / "new"
    url = f"sqlite:///{old / 'simpul.db'}"
    migrate(url)
    archive = tmp_path / "b.tar.gz"
    assert simpul(environment(old, inventory, url), "db", "backup", str(archive)).returncode == 0
    restored_inventory = tmp_path / "restored-inventory"
    done = simpul(environment(new, restored_inventory, f"sqlite:///{new / 'simpul.db'}"),
                  "db", "restore", str(archive))
    assert done.returncode == 0, done.stderr
    assert (restored_inventory / "sites.yaml").read_text() == "sites: []\n"


def test_restore_refuses_what_is_not_a_backup(tmp_path: Path) -> None:
    bogus = tmp_path / "not-a-backup.tar.gz"
    bogus.write_bytes(b"hello")
    env = environment(tmp_path / "d", tmp_path / "inventory", f"sqlite:///{tmp_path}/d/s.db")
    done = simpul(env, "db", "restore", str(bogus))
    assert done.returncode == 1
    assert "not a Simpul backup" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "d" / "s.db").exists()
