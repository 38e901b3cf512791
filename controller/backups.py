"""Running-config backups in a git repository under the data dir.

One file per device, one commit per change (an unchanged config is not committed), secrets
masked before anything is written. History and diffs come straight from git; a viewer's diff is
masked again (`RAW_BACKUPS_ROLE`).
"""

from __future__ import annotations

import difflib
import fcntl
import os
import re
import subprocess
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pygit2

from controller.devices.pushed import digest_matches, parse_record, render_record

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


class BackupError(Exception):
    pass


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
    def _locked(self) -> Iterator[pygit2.Repository]:
        """The repository, held by this thread and (flock) this process alone."""
        self.path.mkdir(parents=True, exist_ok=True)
        with _thread_lock, open(self.path.parent / ".backups.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                if not (self.path / ".git").exists():
                    repo = pygit2.init_repository(str(self.path), initial_head="main")
                    repo.config["user.name"] = "Simpul"
                    repo.config["user.email"] = EMAIL
                    repo.config["commit.gpgsign"] = False
                yield pygit2.Repository(str(self.path))
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @staticmethod
    def _commit(repo: pygit2.Repository, name: str, text: str, message: str,
                actor: str) -> str | None:
        """Write `name` and commit it alone, in-process (libgit2): None if git already holds
        this text. A push saves each device two or three times; four git child processes per
        save, one after another under the lock, were 90% of a 200-device push (issue #17).
        The tree is the parent's with one entry replaced (a TreeBuilder), not rebuilt from
        the index; the index then gets that one entry, so `git status` stays clean."""
        (Path(repo.workdir) / name).write_text(text, encoding="utf-8")
        data = text.encode("utf-8")
        blob = pygit2.hash(data)
        parent = None if repo.head_is_unborn else repo[repo.head.target].peel(pygit2.Commit)
        if parent is not None and name in parent.tree and parent.tree[name].id == blob:
            return None
        repo.create_blob(data)
        builder = repo.TreeBuilder(parent.tree) if parent is not None else repo.TreeBuilder()
        builder.insert(name, blob, pygit2.enums.FileMode.BLOB)
        author = pygit2.Signature(re.sub(r"[<>\r\n]", "", actor) or "system", EMAIL)
        committer = pygit2.Signature("Simpul", EMAIL)
        commit = repo.create_commit("HEAD", author, committer, message + "\n", builder.write(),
                                    [parent.id] if parent is not None else [])
        index = repo.index
        index.read()
        index.add(pygit2.IndexEntry(name, blob, pygit2.enums.FileMode.BLOB))
        index.write()
        return str(commit)

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
        with self._locked() as repo:
            return self._commit(repo, name, text, f"{device}: {message}", actor)

    def save_pushed(self, device: str, lines: list[str], actor: str = "system",
                    secrets: Iterable[str] = ()) -> str | None:
        """Record the lines Simpul pushed to a device (`<device>.intent`, beside its backup),
        secrets masked with a digest of each masked line; None if the record is unchanged."""
        name = self.filename(device).removesuffix(".cfg") + ".intent"
        masked = [mask(line, secrets) for line in lines]
        target = self.path / name
        with self._locked() as repo:
            if target.exists() and self._same_record(target.read_text(encoding="utf-8"),
                                                     lines, masked):
                return None
            return self._commit(repo, name, render_record(lines, masked),
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
