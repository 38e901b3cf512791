"""Backups committed after the devices (issue #17): a batch's saves are records written and
fsynced first, committed together later, and nothing is lost when a process dies between."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from controller import backups
from controller.backups import BackupRepo
from controller.devices import Plan
from controller.inventory import load_inventory
from controller.jobs import CHANGED, ConfigJobs
from controller.secrets import SecretStore
from tests.conftest import DEMO_INVENTORY

ROOT = Path(__file__).resolve().parents[2]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


def _new_process(path: Path) -> BackupRepo:
    """The repository as a process that starts now sees it (it has recovered nothing yet)."""
    backups._recovered.discard(path)
    return BackupRepo(path)


@pytest.fixture
def slow_committer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch's committer thread waits past the test: commits happen at the batch's end."""
    monkeypatch.setattr(backups, "COMMIT_EVERY_S", 3600.0)


def test_a_batch_commits_at_its_end_each_save_alone(tmp_path: Path,
                                                     slow_committer: None) -> None:
    path = tmp_path / "backups"
    repo = BackupRepo(path)
    repo.save("r0", "old\n", "backup")
    head = _git(path, "rev-parse", "HEAD")
    with repo.batch():
        assert repo.save("r1", "a\n", "before push") is not None
        assert repo.save("r1", "b\n", "push", actor="cli:ana") is not None
        assert repo.save("r1", "b\n", "push") is None  # the file holds it already
        assert repo.save("r0", "new\n", "backup") is not None
        # Nothing committed yet, but each save is on disk, the file too.
        assert _git(path, "rev-parse", "HEAD") == head
        assert len(list((path / ".git" / backups.PENDING_DIR).glob("*.rec"))) == 3
        assert (path / "r1.cfg").read_text() == "b\n"
    assert [(v.author, v.message) for v in repo.history("r1")] == [
        ("cli:ana", "r1: push"), ("system", "r1: before push")]
    assert repo.show("r1", repo.history("r1")[1].commit) == "a\n"
    assert [v.message for v in repo.history("r0")] == ["r0: backup", "r0: backup"]
    assert _git(path, "rev-list", "--count", "HEAD").strip() == "4"
    assert not list((path / ".git" / backups.PENDING_DIR).glob("*.rec"))
    # The pack written in-process is sound to git, and the files match the last commit.
    assert subprocess.run(["git", "-C", str(path), "fsck", "--strict"],
                          capture_output=True).returncode == 0
    assert _git(path, "status", "--porcelain") == ""


def test_a_process_dying_in_a_batch_loses_no_save(tmp_path: Path) -> None:
    """A child saves twice in a batch and dies (os._exit) before the batch ends: the next
    process commits both, in order, each with its message."""
    path = tmp_path / "backups"
    BackupRepo(path).save("r1", "first\n", "backup")
    child = textwrap.dedent(f"""
        import os, sys
        from pathlib import Path
        from controller import backups
        backups.COMMIT_EVERY_S = 3600.0
        repo = backups.BackupRepo(Path({str(path)!r}))
        with repo.batch():
            repo.save("r1", "before\\n", "before push")
            repo.save("r1", "after\\n", "push", actor="cli:ana")
            os._exit(9)
    """)
    done = subprocess.run([sys.executable, "-c", child], cwd=ROOT, capture_output=True,
                          text=True)
    assert done.returncode == 9, done.stderr
    assert _git(path, "log", "--format=%s") == "r1: backup\n"  # the child committed nothing
    history = _new_process(path).history("r1")
    assert [(v.author, v.message) for v in history] == [
        ("cli:ana", "r1: push"), ("system", "r1: before push"), ("system", "r1: backup")]
    assert _git(path, "status", "--porcelain") == ""


def test_records_a_flush_left_behind_are_not_committed_twice(tmp_path: Path,
                                                             slow_committer: None) -> None:
    """A flush cut off after moving the branch but before deleting its records: the next
    flush finds their commits by their trailers."""
    path = tmp_path / "backups"
    repo = BackupRepo(path)
    pending = path / ".git" / backups.PENDING_DIR
    kept = tmp_path / "kept"
    with repo.batch():
        repo.save("r1", "a\n", "before push")
        repo.save("r1", "b\n", "push")
        shutil.copytree(pending, kept)
    assert _git(path, "rev-list", "--count", "HEAD").strip() == "2"
    for record in kept.iterdir():
        shutil.copy(record, pending / record.name)
    assert _new_process(path).commit_pending() == 0
    assert _git(path, "rev-list", "--count", "HEAD").strip() == "2"
    assert not list(pending.glob("*.rec"))


def test_a_save_that_died_between_its_record_and_its_file(tmp_path: Path) -> None:
    """The record was written, the file not: the next process puts the record's text in the
    file before comparing, so saving the older text again is a change, not `unchanged`."""
    path = tmp_path / "backups"
    BackupRepo(path).save("r1", "old\n", "backup")
    BackupRepo(path)._write_record("r1.cfg", "new\n", "r1: push", "system")
    repo = _new_process(path)
    assert repo.save("r1", "old\n", "backup") is not None
    assert [v.message for v in repo.history("r1")] == ["r1: backup", "r1: push", "r1: backup"]
    assert repo.show("r1") == "old\n"


def test_a_file_written_without_record_is_committed_on_restart(tmp_path: Path) -> None:
    path = tmp_path / "backups"
    BackupRepo(path).save("r1", "old\n", "backup")
    (path / "r1.cfg").write_text("written before a crash\n")
    repo = _new_process(path)
    repo.save("r2", "x\n", "backup")
    assert [v.message for v in repo.history("r1")] == ["r1: recovered after a restart",
                                                       "r1: backup"]
    assert _git(path, "status", "--porcelain") == ""


class _Platform:
    """A device that checks, when it is changed, that its backup is already on disk."""

    keeps_pushed_record = False

    def __init__(self, pending: Path):
        self.pending = pending
        self.running = "running before\n"
        self.records_seen: list[str] = []

    def connect(self, target: Any) -> Any:
        return self

    def disconnect(self) -> None:
        pass

    def fetch(self, conn: Any, intent: str) -> str:
        return self.running

    def plan(self, intent: str, running: str) -> Plan:
        return Plan("" if running == intent else f"-{running}+{intent}",
                    [] if running == intent else [intent])

    def apply_and_fetch(self, conn: Any, plan: Plan, intent: str) -> str:
        self.records_seen = [p.read_text() for p in self.pending.glob("*.rec")]
        self.running = intent
        return intent

    def save(self, conn: Any) -> None:
        pass


def test_a_push_writes_its_backup_before_it_touches_the_device(
        tmp_path: Path, demo_secrets: Path, slow_committer: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = SecretStore.load(demo_secrets)
    inventory = load_inventory(DEMO_INVENTORY, secrets)
    device = inventory.devices["setda-r1"]
    jobs = ConfigJobs(inventory, secrets, tmp_path / "data")
    platform = _Platform(jobs.backups.path / ".git" / backups.PENDING_DIR)
    monkeypatch.setattr(jobs, "_session", lambda _device: (platform, platform))
    monkeypatch.setattr(jobs, "render", lambda _device: "intended\n")
    [result] = asyncio.run(jobs.run(jobs.push_one, [device]))
    assert result.status == CHANGED, result
    assert len(platform.records_seen) == 1
    assert platform.records_seen[0].endswith("\nrunning before\n")
    assert '"message": "setda-r1: before push"' in platform.records_seen[0]
    history = jobs.backups.history("setda-r1")
    assert [v.message for v in history] == ["setda-r1: push", "setda-r1: before push"]
    assert result.commit == history[0].commit  # the record id, once committed: its commit


def test_packs_are_packed_together_past_max_packs(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Every flush writes a pack; past MAX_PACKS git packs them into one."""
    monkeypatch.setattr(backups, "MAX_PACKS", 5)
    path = tmp_path / "backups"
    repo = BackupRepo(path)
    for n in range(12):
        repo.save("r1", f"version {n}\n", "backup")
    packs = list((path / ".git" / "objects" / "pack").glob("*.pack"))
    assert 1 <= len(packs) <= 6
    assert len(repo.history("r1")) == 12
    assert subprocess.run(["git", "-C", str(path), "fsck", "--strict"],
                          capture_output=True).returncode == 0


def test_a_record_of_what_the_branch_holds_makes_no_empty_commit(tmp_path: Path) -> None:
    """A record left behind whose text the branch already holds (its save raced another
    process's): committed, it would be a commit that changes nothing."""
    path = tmp_path / "backups"
    repo = BackupRepo(path)
    repo.save("r1", "same\n", "backup")
    repo._write_record("r1.cfg", "same\n", "r1: backup", "system")
    _new_process(path).save("r2", "other\n", "backup")  # recovers the record first
    assert [v.message for v in BackupRepo(path).history("r1")] == ["r1: backup"]
    assert _git(path, "rev-list", "--count", "HEAD").strip() == "2"
    assert not list((path / ".git" / backups.PENDING_DIR).glob("*.rec"))
