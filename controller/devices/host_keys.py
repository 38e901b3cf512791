"""Pinned SSH host keys: `known_hosts` under the data dir, in OpenSSH's format.

An engineer trusts a device's key on first use (`simpul devices trust`); from then on every
connection (the config engine and the portal's gateway adapters, both via `netmiko_connect`)
must be offered that key, or it stops before any credential is sent.
"""

from __future__ import annotations

import fcntl
import os
import socket
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from paramiko import HostKeys, PKey

KNOWN_HOSTS_FILE = "known_hosts"
TRUSTED, UNCHANGED, REPLACED = "trusted", "unchanged", "replaced"


class HostKeyError(Exception):
    """A device's SSH host key is not pinned, or not the pinned one: nothing was sent to it."""


class HostKeyUnknown(HostKeyError):
    def __init__(self, device: str, entry: str):
        super().__init__(f"{device} ({entry}): its SSH host key is not trusted yet; run "
                         f"`simpul devices trust {device}` and compare the fingerprint it "
                         "prints with the device's own")
        self.device = device


class HostKeyChanged(HostKeyError):
    def __init__(self, device: str, entry: str, trusted: PKey, offered: PKey):
        super().__init__(f"{device} ({entry}): SSH HOST KEY CHANGED: trusted "
                         f"{describe(trusted)}, the device offered {describe(offered)}. Someone "
                         "may be intercepting the connection; nothing was sent. If the key "
                         "changed on purpose (device replaced or reinstalled), run "
                         f"`simpul devices trust {device} --replace`")
        self.device = device
        self.trusted = trusted
        self.offered = offered


@dataclass(frozen=True)
class Pinned:
    """What trusting a device's key did: `status` is trusted, unchanged or replaced."""

    device: str
    entry: str
    status: str
    key: PKey
    previous: PKey | None = None


def known_hosts_path(data_dir: Path | None = None) -> Path:
    """`<data_dir>/known_hosts` (default: the settings' data dir)."""
    if data_dir is None:
        from controller.settings import get_settings

        data_dir = get_settings().data_dir
    return data_dir / KNOWN_HOSTS_FILE


def host_entry(host: str, port: int) -> str:
    """The host's name in known_hosts, as OpenSSH writes it: `host`, or `[host]:port`."""
    return host if port == 22 else f"[{host}]:{port}"


def describe(key: PKey) -> str:
    """`ssh-ed25519 SHA256:...`, the fingerprint as OpenSSH prints it."""
    return f"{key.get_name()} {key.fingerprint}"


_parsed: dict[Path, tuple[tuple[int, int, int], HostKeys]] = {}
_parsed_lock = threading.Lock()


def _all_pinned(known_hosts: Path) -> HostKeys | None:
    """Every entry of the file, parsed once per version of it (inode, size, mtime).

    A push to N devices opens N sessions; parsing the whole file for each (paramiko logs
    through a process-wide lock for every line) made host-key checks O(N^2) and took half the
    time of a 200-device push (bench/config, issue #17).
    """
    import paramiko

    try:
        stat = known_hosts.stat()
    except FileNotFoundError:
        return None
    version = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    with _parsed_lock:
        cached = _parsed.get(known_hosts)
        if cached is not None and cached[0] == version:
            return cached[1]
        keys = paramiko.HostKeys(str(known_hosts))
        _parsed[known_hosts] = (version, keys)
        return keys


def pinned_keys(known_hosts: Path, host: str, port: int) -> dict[str, PKey]:
    """The trusted keys of host:port by key type (none when the file is missing)."""
    keys = _all_pinned(known_hosts)
    found = keys.lookup(host_entry(host, port)) if keys is not None else None
    return {kind: found[kind] for kind in found.keys()} if found is not None else {}


@contextmanager
def pinned_file(known_hosts: Path, device: str, host: str, port: int) -> Iterator[Path]:
    """A known_hosts file with only this host's pinned keys, for paramiko to load while it
    connects (HostKeyUnknown if there are none); removed afterwards."""
    import paramiko

    keys = pinned_keys(known_hosts, host, port)
    if not keys:
        raise HostKeyUnknown(device, host_entry(host, port))
    only = paramiko.HostKeys()
    for kind, key in keys.items():
        only.add(host_entry(host, port), kind, key)
    handle, name = tempfile.mkstemp(prefix=".pinned-", dir=known_hosts.parent)
    os.close(handle)
    try:
        only.save(name)
        yield Path(name)
    finally:
        os.unlink(name)


def require_pinned(known_hosts: Path, device: str, host: str, port: int) -> None:
    """Raise HostKeyUnknown unless a key is trusted for host:port (checked before connecting)."""
    if not pinned_keys(known_hosts, host, port):
        raise HostKeyUnknown(device, host_entry(host, port))


def changed_key_error(exc: BaseException, device: str, host: str,
                      port: int) -> HostKeyChanged | None:
    """The HostKeyChanged behind a failed connection (netmiko wraps paramiko's), if any."""
    import paramiko

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, paramiko.BadHostKeyException):
            return HostKeyChanged(device, host_entry(host, port), seen.expected_key, seen.key)
        seen = seen.__cause__ or seen.__context__
    return None


def fetch_host_key(host: str, port: int, timeout_s: float = 10.0,
                   prefer: Iterable[str] = ()) -> PKey:
    """The key the device offers in the SSH handshake; no login, so nothing secret is sent.

    Key types in `prefer` (those already pinned) come first, as paramiko's client asks for them
    when it connects, so both see the same key of a device that has several.
    """
    import paramiko

    sock = socket.create_connection((host, port), timeout=timeout_s)
    try:
        transport = paramiko.Transport(sock)
    except Exception:
        sock.close()
        raise
    try:
        transport.banner_timeout = timeout_s
        options = transport.get_security_options()
        wanted = [t for kind in prefer
                  for t in (("rsa-sha2-512", "rsa-sha2-256") if kind == "ssh-rsa" else (kind,))]
        offered = list(options.key_types)
        options.key_types = ([t for t in wanted if t in offered]
                             + [t for t in offered if t not in wanted])
        transport.start_client(timeout=timeout_s)
        key: PKey = transport.get_remote_server_key()
        return key
    finally:
        transport.close()


def pin_host_key(known_hosts: Path, device: str, host: str, port: int, key: PKey, *,
                 replace: bool = False) -> Pinned:
    """Trust `key` for host:port. A different trusted key stays (HostKeyChanged) unless
    `replace`, which drops every key trusted for host:port before adding this one."""
    entry = host_entry(host, port)
    with _locked(known_hosts):
        pinned = pinned_keys(known_hosts, host, port)
        if pinned.get(key.get_name()) == key:
            return Pinned(device, entry, UNCHANGED, key)
        previous = pinned.get(key.get_name()) or next(iter(pinned.values()), None)
        if previous is not None and not replace:
            raise HostKeyChanged(device, entry, previous, key)
        lines = known_hosts.read_text(encoding="utf-8").splitlines() \
            if known_hosts.exists() else []
        kept = [line for line in lines if not _names_host(line, entry)]
        kept.append(f"{entry} {key.get_name()} {key.get_base64()}")
        _write(known_hosts, "".join(f"{line}\n" for line in kept))
    return Pinned(device, entry, REPLACED if previous is not None else TRUSTED, key, previous)


def trust_device(known_hosts: Path, device: str, host: str, port: int, *,
                 replace: bool = False, timeout_s: float = 10.0) -> Pinned:
    """Fetch the device's host key and pin it (trust on first use)."""
    prefer = pinned_keys(known_hosts, host, port)
    key = fetch_host_key(host, port, timeout_s, prefer)
    return pin_host_key(known_hosts, device, host, port, key, replace=replace)


def _names_host(line: str, entry: str) -> bool:
    """Does this known_hosts line name `entry` (plainly or hashed, as `ssh-keyscan -H` does)?"""
    import paramiko

    fields = line.split()
    if not fields or fields[0].startswith("#"):
        return False
    names = fields[1] if fields[0].startswith("@") and len(fields) > 1 else fields[0]
    for name in names.split(","):
        if name.startswith("|1|"):
            if paramiko.HostKeys.hash_host(entry, name) == name:
                return True
        elif name == entry:
            return True
    return False


@contextmanager
def _locked(known_hosts: Path) -> Iterator[None]:
    known_hosts.parent.mkdir(parents=True, exist_ok=True)
    with open(known_hosts.with_name(f".{known_hosts.name}.lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write(path: Path, text: str) -> None:
    """Replace the file at once, so a connecting process never reads half of it."""
    temporary = path.with_name(f".{path.name}.new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)
