"""Running-config backups in a git repository under the data dir.

One file per device, one commit per change (an unchanged config is not committed), secrets
masked before anything is written. History and diffs come straight from git.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

MASK = "********"
# Patterns that carry secrets in device configs, whatever their value.
SECRET_PATTERNS = [
    re.compile(r"((?:authentication|encryption)-password|password|passphrase|secret|"
               r"pre-shared-key|private-key)=(\"(?:\\.|[^\"\\])*\"|\S+)"),
    re.compile(r"^(\s*(?:enable |username \S+ .*?)(?:secret|password)(?: \d+)? )(\S+)", re.M),
    re.compile(r"^(\s*snmp-server community )(\S+)", re.M),
    re.compile(r"^(\s*snmp-server user \S+ \S+ v3 auth \S+ )(\S+)( priv \S+(?: \d+)? )(\S+)",
               re.M),
    re.compile(r"^(\s*(?:key|key-string|tacacs-server key|radius-server key)(?: \d)? )(\S+)",
               re.M),
]


class BackupError(Exception):
    pass


def mask(text: str, known_values: Iterable[str] = ()) -> str:
    """Replace secret values: known ones anywhere, and whatever sits where secrets go."""
    for value in sorted(set(known_values), key=len, reverse=True):
        if value and len(value) >= 4:
            text = text.replace(value, MASK)
    for pattern in SECRET_PATTERNS:
        groups = pattern.groups

        def repl(m: re.Match[str], groups: int = groups) -> str:
            if groups == 2:
                sep = "=" if m.group(0)[len(m.group(1))] == "=" else ""
                return m.group(1) + sep + MASK
            if groups == 4:
                return m.group(1) + MASK + m.group(3) + MASK
            return m.group(1) + MASK
        text = pattern.sub(repl, text)
    return text


@dataclass(frozen=True)
class Version:
    commit: str
    at: str  # ISO 8601
    author: str
    message: str


_thread_lock = threading.Lock()


class BackupRepo:
    def __init__(self, path: Path):
        self.path = path

    def _git(self, *args: str, check: bool = True) -> str:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
        result = subprocess.run(["git", "-C", str(self.path), *args], capture_output=True,
                                text=True, env=env, check=False)
        if check and result.returncode != 0:
            raise BackupError(f"git {args[0]}: {result.stderr.strip() or result.stdout.strip()}")
        return result.stdout

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.mkdir(parents=True, exist_ok=True)
        with _thread_lock, open(self.path.parent / ".backups.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                if not (self.path / ".git").exists():
                    self._git("init", "-q", "-b", "main")
                    self._git("config", "user.name", "Simpul")
                    self._git("config", "user.email", "simpul@localhost")
                    self._git("config", "commit.gpgsign", "false")
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @staticmethod
    def filename(device: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", device):
            raise BackupError(f"bad device name {device!r}")
        return f"{device}.cfg"

    def save(self, device: str, config: str, message: str, actor: str = "system",
             secrets: Iterable[str] = ()) -> str | None:
        """Store a device's running config; return the new commit, or None if unchanged."""
        name = self.filename(device)
        text = mask(config, secrets)
        with self._locked():
            target = self.path / name
            if target.exists() and target.read_text(encoding="utf-8") == text:
                return None
            target.write_text(text, encoding="utf-8")
            self._git("add", "--", name)
            if not self._git("status", "--porcelain", "--", name).strip():
                return None
            author = f"{re.sub(r'[<>]', '', actor) or 'system'} <simpul@localhost>"
            self._git("commit", "-q", "--author", author, "-m", f"{device}: {message}",
                      "--", name)
            return self._git("rev-parse", "HEAD").strip()

    def history(self, device: str) -> list[Version]:
        name = self.filename(device)
        if not (self.path / ".git").exists():
            return []
        out = self._git("log", "--format=%H%x1f%aI%x1f%an%x1f%s", "--", name)
        versions = []
        for line in out.splitlines():
            commit, at, author, message = line.split("\x1f", 3)
            versions.append(Version(commit, at, author, message))
        return versions

    def show(self, device: str, version: str = "HEAD") -> str:
        self._check_version(version)
        return self._git("show", f"{version}:{self.filename(device)}")

    def diff(self, device: str, old: str, new: str = "HEAD") -> str:
        self._check_version(old)
        self._check_version(new)
        return self._git("diff", old, new, "--", self.filename(device))

    @staticmethod
    def _check_version(version: str) -> None:
        if not re.fullmatch(r"[0-9a-fA-F]{4,40}|HEAD(~\d+)?", version):
            raise BackupError(f"bad version {version!r}: a commit id from `simpul config "
                              "history`, or HEAD~N")
