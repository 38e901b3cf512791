"""Backup and restore of Simpul itself: the store, the device backups' git repository and the
inventory's revision, in one tar archive (`simpul db backup FILE` / `simpul db restore FILE`).

SQLite is copied with its online backup API, PostgreSQL with pg_dump/pg_restore (custom format).
Secrets (the secrets file, the portal's salt) are not in the archive: they are kept apart.
"""

from __future__ import annotations

import fcntl
import glob
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pygit2
from sqlalchemy import inspect, make_url, text

from controller.settings import Settings
from controller.store.db import make_engine, migrate

FORMAT = 1
MANIFEST = "simpul-backup.json"
SQLITE_MEMBER = "store/simpul.db"
PG_MEMBER = "store/simpul.pgdump"
BACKUPS_DIR = "backups"  # <data_dir>/backups, the device backups' repository (controller.backups)
BACKUPS_LOCK = ".backups.lock"  # the flock BackupRepo holds while it writes (controller.backups)
KNOWN_HOSTS = "known_hosts"
INVENTORY_DIR = "inventory"
IGNORED_TABLES = {"alembic_version"}

Progress = Callable[[str], None]


class ArchiveError(Exception):
    """A backup or restore that cannot go on; the message says what to do."""


def _quiet(_message: str) -> None:
    pass


# --- the inventory's revision -------------------------------------------------------------

def inventory_revision(inventory_dir: Path) -> dict[str, Any]:
    """{"git": bool, "commit": id|None, "dirty": bool}: the inventory's place in its git."""
    found = pygit2.discover_repository(str(inventory_dir.resolve()))
    if found is None:
        return {"git": False, "commit": None, "dirty": False}
    repo = pygit2.Repository(found)
    commit = None if repo.head_is_unborn else str(repo.head.target)
    workdir = Path(repo.workdir or found).resolve()
    inside = inventory_dir.resolve().relative_to(workdir).as_posix()
    prefix = "" if inside == "." else inside + "/"
    dirty = any(path.startswith(prefix) and not flags & pygit2.GIT_STATUS_IGNORED
                for path, flags in repo.status().items())
    return {"git": True, "commit": commit, "dirty": dirty}


# --- the store -----------------------------------------------------------------------------

def _sqlite_file(url: str) -> Path | None:
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1].split("?", 1)[0] if "///" in url else ""
    if not path or path == ":memory:":
        raise ArchiveError("an in-memory SQLite store cannot be backed up or restored")
    return Path(path)


def pg_tool(name: str) -> str:
    """The newest pg_dump/pg_restore installed (it must be at least the server's version)."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    tool = found[-1] if found else shutil.which(name)
    if tool is None:
        raise ArchiveError(f"{name} not found: install the PostgreSQL client (postgresql-client)")
    return tool


def _pg_env(url: str) -> dict[str, str]:
    """libpq's environment for the URL, so that no password shows in a process list."""
    parsed = make_url(url)
    env = {**os.environ}
    for key, value in (("PGHOST", parsed.host), ("PGPORT", parsed.port),
                       ("PGUSER", parsed.username), ("PGPASSWORD", parsed.password),
                       ("PGDATABASE", parsed.database)):
        if value is not None:
            env[key] = str(value)
    for key, option in parsed.query.items():
        if key in ("host", "sslmode") and isinstance(option, str):
            env["PGHOST" if key == "host" else "PGSSLMODE"] = option
    return env


def _run_pg(args: list[str], url: str) -> None:
    result = subprocess.run(args, env=_pg_env(url), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        where = make_url(url).render_as_string(hide_password=True)
        raise ArchiveError(f"{Path(args[0]).name} on {where} failed: "
                           f"{result.stderr.strip() or result.stdout.strip()}")


def store_holds_data(url: str) -> str | None:
    """The first table (besides Alembic's) that holds a row, or None for an empty store."""
    if (path := _sqlite_file(url)) is not None and not path.exists():
        return None
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            for table in sorted(inspect(conn).get_table_names()):
                if table in IGNORED_TABLES:
                    continue
                quoted = conn.dialect.identifier_preparer.quote(table)
                if conn.execute(text(f"SELECT 1 FROM {quoted} LIMIT 1")).first():
                    return table
        return None
    finally:
        engine.dispose()


def _dump_store(url: str, into: Path) -> tuple[str, Path]:
    """(database kind, file) of a consistent copy of the store, written under `into`."""
    if (path := _sqlite_file(url)) is not None:
        if not path.exists():
            raise ArchiveError(f"no store at {path}: nothing to back up")
        copy = into / "simpul.db"
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        target = sqlite3.connect(copy)
        try:
            source.backup(target)  # SQLite's online backup API: consistent while others write
        finally:
            target.close()
            source.close()
        return "sqlite", copy
    copy = into / "simpul.pgdump"
    _run_pg([pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
             f"--file={copy}"], url)
    return "postgresql", copy


def _restore_store(kind: str, dump: Path, url: str) -> None:
    path = _sqlite_file(url)
    if (kind == "sqlite") != (path is not None):
        target = "SQLite" if path is not None else "PostgreSQL"
        raise ArchiveError(f"the archive holds a {kind} store but this Simpul uses {target}: "
                           f"set SIMPUL_DATABASE_URL to a store of the same kind")
    if path is not None:
        migrate(url)  # creates the file with its private mode, then gets overwritten
        archived = sqlite3.connect(f"file:{dump}?mode=ro", uri=True)
        store = sqlite3.connect(path)
        try:
            archived.backup(store)
        finally:
            store.close()
            archived.close()
        return
    _run_pg([pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
             "--single-transaction", "--exit-on-error", f"--dbname={_pg_env(url)['PGDATABASE']}",
             str(dump)], url)


# --- the archive ---------------------------------------------------------------------------

@contextmanager
def _backups_locked(data_dir: Path) -> Iterator[None]:
    """Hold the device backups' lock, so the repository is copied between two commits."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / BACKUPS_LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def backup(settings: Settings, file: Path, progress: Progress = _quiet) -> dict[str, Any]:
    """Write the archive to `file` (0600, replaced atomically); returns its manifest."""
    url = settings.resolved_database_url()
    data_dir = settings.data_dir
    file = file.resolve()
    file.parent.mkdir(parents=True, exist_ok=True)
    revision = inventory_revision(settings.inventory_dir) if settings.inventory_dir.is_dir() \
        else {"git": False, "commit": None, "dirty": False}
    with tempfile.TemporaryDirectory(prefix="simpul-backup-") as work:
        progress(f"store: copying {make_url(url).render_as_string(hide_password=True)}")
        kind, dump = _dump_store(url, Path(work))
        partial = file.with_name(f".{file.name}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        manifest: dict[str, Any] = {
            "format": FORMAT, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": kind, "inventory": revision, "inventory_files": False,
            "device_backups": False, "known_hosts": False,
        }
        try:
            with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
                tar.add(dump, SQLITE_MEMBER if kind == "sqlite" else PG_MEMBER)
                repo = data_dir / BACKUPS_DIR
                if repo.is_dir():
                    progress(f"device backups: copying the git repository {repo}")
                    with _backups_locked(data_dir):
                        tar.add(repo, BACKUPS_DIR)
                    manifest["device_backups"] = True
                if (data_dir / KNOWN_HOSTS).is_file():
                    tar.add(data_dir / KNOWN_HOSTS, KNOWN_HOSTS)
                    manifest["known_hosts"] = True
                if settings.inventory_dir.is_dir() and (not revision["git"] or revision["dirty"]
                                                        or revision["commit"] is None):
                    progress(f"inventory: copying the files of {settings.inventory_dir} "
                             "(not committed in git)")
                    tar.add(settings.inventory_dir, INVENTORY_DIR)
                    manifest["inventory_files"] = True
                elif revision["commit"]:
                    progress(f"inventory: revision {revision['commit']}")
                body = json.dumps(manifest, indent=2).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mode = len(body), 0o600
                info.mtime = int(datetime.now(UTC).timestamp())
                tar.addfile(info, io.BytesIO(body))
            os.replace(partial, file)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    progress(f"backup written to {file}")
    return manifest


def _read_manifest(tar: tarfile.TarFile, file: Path) -> dict[str, Any]:
    try:
        member = tar.extractfile(MANIFEST)
    except KeyError:
        member = None
    if member is None:
        raise ArchiveError(f"{file}: not a Simpul backup (no {MANIFEST})")
    manifest: dict[str, Any] = json.loads(member.read())
    if manifest.get("format") != FORMAT:
        raise ArchiveError(f"{file}: backup format {manifest.get('format')!r} is not "
                           f"{FORMAT}, the one this Simpul reads")
    return manifest


def _not_empty(path: Path) -> bool:
    return path.exists() and (not path.is_dir() or any(path.iterdir()))


def restore(settings: Settings, file: Path, force: bool = False,
            progress: Progress = _quiet) -> dict[str, Any]:
    """Put the archive's store, device backups and known hosts in place; returns its manifest.

    A target that holds data is refused unless `force`; then it is replaced.
    """
    url = settings.resolved_database_url()
    data_dir = settings.data_dir
    if not file.is_file():
        raise ArchiveError(f"{file}: no such file")
    try:
        tar = tarfile.open(file, mode="r:*")
    except tarfile.TarError as exc:
        raise ArchiveError(f"{file}: not a Simpul backup ({exc})") from None
    with tar, tempfile.TemporaryDirectory(prefix="simpul-restore-") as work:
        manifest = _read_manifest(tar, file)
        occupied = []
        if (table := store_holds_data(url)) is not None:
            occupied.append(f"the store {make_url(url).render_as_string(hide_password=True)} "
                            f"holds data (table {table})")
        if manifest["device_backups"] and _not_empty(data_dir / BACKUPS_DIR):
            occupied.append(f"{data_dir / BACKUPS_DIR} is not empty")
        if occupied and not force:
            raise ArchiveError("refusing to restore over existing data: " + "; ".join(occupied)
                               + ". Restore into an empty data dir and store, or add --force "
                               "to replace them")
        progress(f"reading {file} (made {manifest['created_at']}, {manifest['database']})")
        tar.extractall(work, filter="data")
        staged = Path(work)
        settings.ensure_data_dir()
        dump = staged / (SQLITE_MEMBER if manifest["database"] == "sqlite" else PG_MEMBER)
        if not dump.is_file():
            raise ArchiveError(f"{file}: the store's copy is missing")
        progress("store: restoring")
        _restore_store(manifest["database"], dump, url)
        progress("store: applying migrations")
        migrate(url)
        if manifest["device_backups"]:
            progress(f"device backups: restoring the git repository to {data_dir / BACKUPS_DIR}")
            with _backups_locked(data_dir):
                shutil.rmtree(data_dir / BACKUPS_DIR, ignore_errors=True)
                shutil.copytree(staged / BACKUPS_DIR, data_dir / BACKUPS_DIR, symlinks=True)
        if manifest["known_hosts"] and (force or not (data_dir / KNOWN_HOSTS).exists()):
            shutil.copyfile(staged / KNOWN_HOSTS, data_dir / KNOWN_HOSTS)
        _report_inventory(settings.inventory_dir, manifest, staged, progress)
    progress("restore done")
    return manifest


def _report_inventory(inventory_dir: Path, manifest: dict[str, Any], staged: Path,
                      progress: Progress) -> None:
    """Restore inventory files only into an absent or empty directory; else say what differs."""
    if manifest["inventory_files"]:
        if _not_empty(inventory_dir):
            progress(f"inventory: {inventory_dir} is not empty, left as it is; the backup's "
                     "files were not committed in git and are in the archive under inventory/")
        else:
            shutil.copytree(staged / INVENTORY_DIR, inventory_dir, dirs_exist_ok=True)
            progress(f"inventory: files restored to {inventory_dir}")
        return
    wanted = manifest["inventory"].get("commit")
    if not wanted:
        return
    current = inventory_revision(inventory_dir) if inventory_dir.is_dir() else {"commit": None}
    if current["commit"] == wanted:
        progress(f"inventory: at the backup's revision {wanted}")
    else:
        progress(f"inventory: the backup was made at revision {wanted}; {inventory_dir} is at "
                 f"{current['commit'] or 'no git revision'} "
                 f"(git -C {inventory_dir} checkout {wanted})")
