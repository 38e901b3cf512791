"""Running-config backups in a git repository under the data dir.

One file per device, one commit per change (an unchanged config is not committed), secrets
masked before anything is written. History and diffs come straight from git; a viewer's diff is
masked again (`RAW_BACKUPS_ROLE`).
"""

from __future__ import annotations

import ctypes
import difflib
import fcntl
import json
import logging
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pygit2

from controller.devices.pushed import digest_matches, parse_record, render_record
from controller.gitpack import BLOB, COMMIT, TREE, PackWriter, TreeEntries

MASK = "********"
EMAIL = "simpul@localhost"
RAW_BACKUPS_ROLE = "operator"  # and admins: the stored text; viewers get it masked again
# A line of a config, or of a diff of one (a leading +/- kept): where IOS commands start.
_LINE = r"^(?:[-+])?[ \t]*"
_TYPE = r"(?: [0-9])?"  # IOS's encryption type before a secret: 0 (clear), 5, 6, 7, 8, 9
_REST = r"(?P<secret>\S.*?)[ \t]*\r?$"  # a secret that ends the line (it may hold spaces)
_WORD = r"(?P<secret>\S+)"
# RouterOS properties whose value is secret, in any menu (`name=value`, value maybe quoted).
ROUTEROS_SECRET_PROPERTIES = (
    "password", "passphrase", "secret", "pre-shared-key", "preshared-key", "private-key",
    "auth-key", "authentication-key", "tcp-md5-key", "trap-community",
)
# The value, maybe quoted, maybe wrapped onto the next line by the export (`=\` + newline).
_ROUTEROS_VALUE = r"(?:\\\r?\n[ \t]*)?(?P<secret>\"(?:\\.|[^\"\\])*\"|\S+)"
# Patterns that carry secrets in device configs, whatever their value. Only the `secret`
# (and `secret2`) groups are replaced; the rest of the line stays as it was.
SECRET_PATTERNS = [
    re.compile(rf"(?:{'|'.join(ROUTEROS_SECRET_PROPERTIES)})={_ROUTEROS_VALUE}"),
    # IOS: secrets that end their line.
    re.compile(_LINE + r"(?:enable(?: algorithm-type \S+)? (?:secret|password)(?: level \d+)?"
               r"|username \S+ (?:.*? )?(?:secret|password)"
               r"|password(?! encryption )"
               r"|(?:tacacs|radius)-server (?:host \S+ (?:.*? )?)?key"
               r"|server-private \S+ (?:.*? )?key"
               r"|key-string"
               r"|key(?! chain )(?=(?: [0-9])? (?!\d+[ \t]*\r?$))"
               r"|ip ospf authentication-key"
               r"|ip ospf message-digest-key \d+ md5"
               r"|neighbor \S+ password"
               r"|wpa-psk (?:ascii|hex)"
               r"|ppp (?:chap|pap) password"
               r"|ppp pap sent-username \S+ password"
               r"|pre-shared-key (?:address \S+(?: \S+)? |hostname \S+ )key"
               r"|pre-shared-key(?: local| remote)?)" + _TYPE + " " + _REST, re.M),
    # IOS: secrets followed by more of the command.
    re.compile(_LINE + r"(?:snmp-server community"
               r"|snmp-server host \S+(?: vrf \S+)?(?: informs| traps)?"
               r"(?: version (?:1|2c|3 (?:auth|noauth|priv)))?"
               r"|crypto isakmp key" + _TYPE +
               r"|ntp authentication-key \d+ md5) " + _WORD, re.M),
    re.compile(_LINE + r"snmp-server user \S+ \S+ (?:.*? )?auth \S+ (?P<secret>\S+)"
               r"(?: priv \S+(?: \d+)? (?P<secret2>\S+))?", re.M),
]
# RouterOS `/snmp community` entries (up to the next menu): `name=` is the community string.
_SNMP_COMMUNITY_MENU = re.compile(r"^[-+ ]?[ \t]*/snmp community\b.*?(?=^[-+ ]?[ \t]*/|\Z)",
                                  re.M | re.S)
_COMMUNITY_NAME = re.compile(rf"(?<![\w-])name={_ROUTEROS_VALUE}")


log = logging.getLogger("simpul.backups")
_last_ns = 0  # the newest record's time: records of one process sort in the order written


class BackupError(Exception):
    pass


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    _fsync_file(path)


_syncfs = getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)


def _sync_filesystem(path: Path) -> None:
    """Flush the filesystem holding `path` (syncfs: one call for a flush's many objects,
    rather than an fsync per object file); os.sync where syncfs is missing."""
    if _syncfs is None:
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        if _syncfs(fd) != 0:
            raise OSError(ctypes.get_errno(), f"syncfs {path}")
    finally:
        os.close(fd)


def _identity(name: str, at_ns: int) -> bytes:
    """An author or committer line's value: `Name <email> <unix time> +0000`."""
    return f"{name} <{EMAIL}> {at_ns // 1_000_000_000} +0000".encode()


def _committed_records(head: pygit2.Commit | None, depth: int) -> set[str]:
    """The record ids named by the newest `depth` commits (a flush cut off after moving the
    branch left its records behind: those are committed already)."""
    found: set[str] = set()
    commit = head
    for _ in range(depth):
        if commit is None:
            break
        for line in commit.message.splitlines():
            if line.startswith(f"{TRAILER}: "):
                found.add(line.split(": ", 1)[1].strip())
        commit = commit.parents[0] if commit.parents else None
    return found


def _replace_secrets(match: re.Match[str]) -> str:
    """The match with its `secret` groups replaced by MASK and everything else kept."""
    text, start, kept, at = match.group(0), match.start(), [], 0
    for name in ("secret", "secret2"):
        if name in match.re.groupindex and match.group(name) is not None:
            begin, end = match.span(name)
            kept += [text[at:begin - start], MASK]
            at = end - start
    return "".join(kept) + text[at:]


def _mask_snmp_communities(text: str) -> str:
    return _SNMP_COMMUNITY_MENU.sub(
        lambda menu: _COMMUNITY_NAME.sub(_replace_secrets, menu.group(0)), text)


def mask(text: str, known_values: Iterable[str] = ()) -> str:
    """Replace secret values: known ones anywhere, and whatever sits where secrets go."""
    for value in sorted(set(known_values), key=len, reverse=True):
        if value and len(value) >= 4:
            text = text.replace(value, MASK)
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(_replace_secrets, text)
    return _mask_snmp_communities(text)


@dataclass(frozen=True)
class Version:
    commit: str
    at: str  # ISO 8601
    author: str
    message: str


_thread_lock = threading.Lock()
PENDING_DIR = "simpul-pending"  # in .git: saves written and fsynced, not yet committed
TRAILER = "Simpul-Record"  # names the record a commit was made from (in the message body)
_recovered: set[Path] = set()  # repositories this process has already recovered
_ids_lock = threading.Lock()
MAX_PACKS = 50  # git's own gc.autoPackLimit
COMMIT_EVERY_S = 0.5  # a batch's committer thread commits what came in, this often


@dataclass(frozen=True)
class Record:
    """One save not yet committed: `<ns>-<pid>-<n>.rec` under .git/simpul-pending, a JSON
    header line then the masked text. Its id (the file's stem) goes into its commit."""

    id: str
    name: str
    message: str
    actor: str
    at_ns: int
    text: str


class BackupRepo:
    """The backups' repository. Inside `batch()` a save only writes its record (fsynced: it
    survives a crash) and the file; the batch's end commits every record at once, each as its
    own commit, so git stays off each device's path. Records a dead process left are
    committed by the next commit of any process, first and in the order they were written."""

    def __init__(self, path: Path):
        self.path = path
        self._batches = 0
        self._batches_lock = threading.Lock()
        self._committer: threading.Thread | None = None
        self.committed: dict[str, str] = {}  # record id -> commit, for flushes made here
        self._wake = threading.Event()
        self._stop = threading.Event()

    def _git(self, *args: str, check: bool = True) -> str:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
        result = subprocess.run(["git", "-C", str(self.path), *args], capture_output=True,
                                text=True, env=env, check=False)
        if check and result.returncode != 0:
            raise BackupError(f"git {args[0]}: {result.stderr.strip() or result.stdout.strip()}")
        return result.stdout

    @property
    def _pending_dir(self) -> Path:
        return self.path / ".git" / PENDING_DIR

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """The repository, for this thread and (flock) this process alone: commits."""
        self.path.mkdir(parents=True, exist_ok=True)
        with _thread_lock, open(self.path.parent / ".backups.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                if not (self.path / ".git").exists():
                    repo = pygit2.init_repository(str(self.path), initial_head="main")
                    repo.config["user.name"] = "Simpul"
                    repo.config["user.email"] = EMAIL
                    repo.config["commit.gpgsign"] = False
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _ready(self) -> None:
        """The first time in a process: the repository exists, and what a dead process
        left (records, files) is committed before this process saves anything."""
        if self.path in _recovered:
            return
        with self._locked():
            if self.path not in _recovered:
                self._recover()
                _recovered.add(self.path)

    @contextmanager
    def batch(self, commit: bool = True) -> Iterator[None]:
        """Saves inside write their records only, and a committer thread commits them as
        they come; the outermost batch's end commits the rest (unless `commit` is False:
        the caller then calls `commit_logged`, off its event loop)."""
        with self._batches_lock:
            self._batches += 1
            if self._committer is None:
                self._stop.clear()
                self._committer = threading.Thread(target=self._commit_loop, daemon=True,
                                                   name="simpul-backups-committer")
                self._committer.start()
        try:
            yield
        finally:
            with self._batches_lock:
                self._batches -= 1
                committer = self._committer if self._batches == 0 else None
                if committer is not None:
                    self._committer = None
                    self._stop.set()
                    self._wake.set()
            if committer is not None:
                committer.join()
            if commit:
                self.commit_logged()

    def _commit_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(COMMIT_EVERY_S)
            self._wake.clear()
            if not self._stop.is_set():
                self._commit_quietly()

    def commit_logged(self) -> None:
        """Commit the records unless a batch still runs; a failure is logged (the records
        stay, for the next commit): the devices are done, their results stand."""
        if not self._batches:
            self._commit_quietly()

    def _commit_quietly(self) -> None:
        try:
            self.commit_pending()
        except (BackupError, pygit2.GitError, OSError, ValueError) as exc:
            log.error("backups: records not committed yet (the next commit will): %s", exc)

    def commit_pending(self) -> int:
        """Commit every record waiting in the repository (any process's); how many."""
        self._ready()
        if not self._has_pending():
            return 0
        with self._locked():
            count = len(self._flush())
            self._repack_if_many()
            return count

    def _repack_if_many(self) -> None:
        """Each flush adds a pack: past MAX_PACKS, git packs them into one (under the lock,
        in the foreground, as `git gc --auto` would have for as many packs)."""
        packs = self.path / ".git" / "objects" / "pack"
        try:
            count = sum(n.endswith(".pack") for n in os.listdir(packs))
        except FileNotFoundError:
            return
        if count > MAX_PACKS:
            self._git("-c", "gc.autoDetach=false", "-c", f"gc.autoPackLimit={MAX_PACKS}",
                      "gc", "--auto", "--quiet")

    def _has_pending(self) -> bool:
        try:
            return any(n.endswith(".rec") for n in os.listdir(self._pending_dir))
        except FileNotFoundError:
            return False

    def _write_record(self, name: str, text: str, message: str, actor: str) -> str:
        """Write a save's record durably (fsync, atomic rename); its id. No lock: ids are
        unique, a record appears whole or not at all, and one device saves one at a time."""
        global _last_ns
        with _ids_lock:
            at = _last_ns = max(time.time_ns(), _last_ns + 1)
        record_id = f"{at:020d}-{os.getpid()}"
        header = json.dumps({"name": name, "message": message, "actor": actor, "at": at})
        self._pending_dir.mkdir(exist_ok=True)
        partial = self._pending_dir / f"{record_id}.part"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(header + "\n" + text)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(partial, self._pending_dir / f"{record_id}.rec")
        _fsync_dir(self._pending_dir)
        return record_id

    def _records(self) -> list[Record]:
        records = []
        for path in sorted(self._pending_dir.glob("*.rec")):
            header, _, text = path.read_text(encoding="utf-8").partition("\n")
            fields = json.loads(header)
            records.append(Record(path.stem, fields["name"], fields["message"],
                                  fields["actor"], int(fields["at"]), text))
        return records

    def _store(self, name: str, text: str, message: str, actor: str) -> str | None:
        """Record `name`'s new text, then write the file, unless it holds this text already;
        outside a batch, commit at once. The commit (in a batch: the record id), or None if
        the file holds this text already."""
        self._ready()
        target = self.path / name
        try:
            if target.read_text(encoding="utf-8") == text:
                return None
        except FileNotFoundError:
            pass
        record_id = self._write_record(name, text, message, actor)
        target.write_text(text, encoding="utf-8")
        if self._batches:
            return record_id
        with self._locked():
            commit = self._flush().get(record_id, record_id)
            self._repack_if_many()
        return commit

    def _flush(self) -> dict[str, str]:
        """Commit the records in the order written, each alone (its parent's tree with one
        entry replaced), all written as one pack (controller.gitpack), then move the branch
        and the index once (the files are the saves' own: a newer save may have written
        one since). A record whose commit a crash left on the branch (its trailer) is not
        committed twice. The pack and the branch reach the disk before the records go."""
        records = self._records()
        if not records:
            return {}
        repo = pygit2.Repository(str(self.path))
        head = None if repo.head_is_unborn else repo[repo.head.target].peel(pygit2.Commit)
        done = _committed_records(head, len(records))
        entries = TreeEntries({str(e.name): (int(e.filemode), e.id.raw)
                               for e in head.tree} if head else {})
        parents = [head.id.raw] if head is not None else []
        pack = PackWriter()
        final: dict[str, bytes] = {}
        commits: dict[str, str] = {}
        committer = _identity("Simpul", time.time_ns())
        for record in records:
            if record.id in done:
                continue
            blob = pack.add(BLOB, record.text.encode("utf-8"))
            if (entries.get(record.name) or (None, None))[1] == blob:
                continue
            entries.set(record.name, int(pygit2.enums.FileMode.BLOB), blob)
            tree = pack.add(TREE, entries.data())
            author = _identity(re.sub(r"[<>\r\n]", "", record.actor) or "system", record.at_ns)
            lines = [b"tree " + tree.hex().encode()]
            lines += [b"parent " + parent.hex().encode() for parent in parents]
            lines += [b"author " + author, b"committer " + committer, b""]
            commit = pack.add(COMMIT, b"\n".join(lines) + b"\n" + (
                f"{record.message}\n\n{TRAILER}: {record.id}\n").encode())
            parents = [commit]
            commits[record.id] = commit.hex()
            final[record.name] = blob
        if final:
            pack.write(self.path / ".git" / "objects" / "pack")
            branch = str(repo.references["HEAD"].target)
            repo.references.create(branch, pygit2.Oid(raw=parents[0]), force=True)
            ref = self.path / ".git" / branch
            if ref.exists():
                _fsync_file(ref)
            else:
                _sync_filesystem(self.path)
            index = repo.index
            index.read()
            for name, blob in final.items():
                index.add(pygit2.IndexEntry(name, pygit2.Oid(raw=blob),
                                            pygit2.enums.FileMode.BLOB))
            index.write()
        for record in records:
            (self._pending_dir / f"{record.id}.rec").unlink(missing_ok=True)
        _fsync_dir(self._pending_dir)
        self.committed.update(commits)
        return commits

    def _recover(self) -> None:
        """After a crash: commit the records left, then any file that differs from the
        branch with no record (written by a save that died before its commit)."""
        for partial in self._pending_dir.glob("*.part") if self._pending_dir.exists() else ():
            partial.unlink()  # its save never returned: the device was not touched after it
        latest = {record.name: record.text for record in self._records()}
        for name, text in latest.items():  # a save that died between record and file
            target = self.path / name
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                target.write_text(text, encoding="utf-8")
        self._flush()
        repo = pygit2.Repository(str(self.path))
        stray = sorted(name for name, flags in repo.status().items()
                       if "/" not in name and name.endswith((".cfg", ".intent"))
                       and flags & (pygit2.enums.FileStatus.WT_MODIFIED
                                    | pygit2.enums.FileStatus.WT_NEW))
        for name in stray:
            self._write_record(name, (self.path / name).read_text(encoding="utf-8"),
                               f"{name.rsplit('.', 1)[0]}: recovered after a restart",
                               "system")
        if stray:
            self._flush()

    @staticmethod
    def filename(device: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", device):
            raise BackupError(f"bad device name {device!r}")
        return f"{device}.cfg"

    def save(self, device: str, config: str, message: str, actor: str = "system",
             secrets: Iterable[str] = ()) -> str | None:
        """Store a device's running config; return the new commit, or None if unchanged."""
        return self._store(self.filename(device), mask(config, secrets),
                           f"{device}: {message}", actor)

    def save_pushed(self, device: str, lines: list[str], actor: str = "system",
                    secrets: Iterable[str] = ()) -> str | None:
        """Record the lines Simpul pushed to a device (`<device>.intent`, beside its backup),
        secrets masked with a digest of each masked line; None if the record is unchanged."""
        name = self.filename(device).removesuffix(".cfg") + ".intent"
        masked = [mask(line, secrets) for line in lines]
        target = self.path / name
        if target.exists() and self._same_record(target.read_text(encoding="utf-8"),
                                                 lines, masked):
            return None
        return self._store(name, render_record(lines, masked),
                           f"{device}: lines Simpul pushed", actor)

    @staticmethod
    def _same_record(text: str, lines: list[str], masked: list[str]) -> bool:
        """The stored record holds these lines: same text, and each masked line's digest
        matches the line as it is now (a digest is salted, so it cannot be compared)."""
        stored = parse_record(text)
        return [item.text for item in stored] == masked and all(
            item.digest is None or digest_matches(line, item.digest)
            for item, line in zip(stored, lines, strict=True))

    def pushed(self, device: str) -> str | None:
        """The record of what Simpul pushed to a device, or None before its first push."""
        path = self.path / (self.filename(device).removesuffix(".cfg") + ".intent")
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def history(self, device: str) -> list[Version]:
        name = self.filename(device)
        if not (self.path / ".git").exists():
            return []
        self.commit_pending()  # a record a dead process left is history too
        out = self._git("log", "--format=%H%x1f%aI%x1f%an%x1f%s", "--", name)
        versions = []
        for line in out.splitlines():
            commit, at, author, message = line.split("\x1f", 3)
            versions.append(Version(commit, at, author, message))
        return versions

    def show(self, device: str, version: str = "HEAD") -> str:
        self._check_version(version)
        self.commit_pending()
        return self._git("show", f"{version}:{self.filename(device)}")

    def diff(self, device: str, old: str, new: str = "HEAD") -> str:
        self._check_version(old)
        self._check_version(new)
        return self._git("diff", old, new, "--", self.filename(device))

    def masked_diff(self, device: str, old: str, new: str = "HEAD",
                    secrets: Iterable[str] = ()) -> str:
        """The diff of both versions masked again with today's rules: a commit stored before a
        rule existed may hold what it now masks (or a section a diff hunk would not show)."""
        name = self.filename(device)
        before, after = (mask(self.show(device, v), secrets).splitlines(keepends=True)
                         for v in (old, new))
        return "".join(difflib.unified_diff(before, after, f"a/{name}", f"b/{name}"))

    @staticmethod
    def _check_version(version: str) -> None:
        if not re.fullmatch(r"[0-9a-fA-F]{4,40}|HEAD(~\d+)?", version):
            raise BackupError(f"bad version {version!r}: a commit id from `simpul config "
                              "history`, or HEAD~N")
