"""The known_hosts file and its checks, without a device: OpenSSH's formats, refusals first."""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
from pathlib import Path

import paramiko
import pytest

from controller.devices import DeviceTarget
from controller.devices.base import netmiko_connect
from controller.devices.host_keys import (
    REPLACED,
    TRUSTED,
    UNCHANGED,
    HostKeyChanged,
    HostKeyUnknown,
    changed_key_error,
    host_entry,
    pin_host_key,
    pinned_keys,
)


def test_entries_are_named_as_openssh_names_them() -> None:
    assert host_entry("10.10.0.2", 22) == "10.10.0.2"
    assert host_entry("10.10.0.2", 2222) == "[10.10.0.2]:2222"


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH's ssh-keygen")
@pytest.mark.parametrize("kind", ["ed25519", "rsa", "ecdsa"])
def test_fingerprints_are_the_ones_openssh_prints(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)], check=True)
    public = path.with_suffix(".pub").read_text().split()
    key = paramiko.PKey.from_type_string(public[0], base64.b64decode(public[1]))
    openssh = subprocess.run(["ssh-keygen", "-l", "-f", str(path.with_suffix(".pub"))],
                             capture_output=True, text=True, check=True).stdout.split()[1]
    assert key.fingerprint == openssh


def test_pinning_keeps_other_lines_and_refuses_a_changed_key_unless_replaced(
        tmp_path: Path) -> None:
    known_hosts = tmp_path / "data" / "known_hosts"
    old, new, other = (paramiko.ECDSAKey.generate() for _ in range(3))
    hashed = paramiko.HostKeys.hash_host("[10.0.0.5]:2222")
    known_hosts.parent.mkdir()
    known_hosts.write_text("# pinned by hand\n"
                           f"10.0.0.9 {other.get_name()} {other.get_base64()}\n"
                           f"{hashed} {old.get_name()} {old.get_base64()}\n")
    assert pinned_keys(known_hosts, "10.0.0.5", 2222) == {old.get_name(): old}

    assert pin_host_key(known_hosts, "r5", "10.0.0.5", 2222, old).status == UNCHANGED
    with pytest.raises(HostKeyChanged) as changed:
        pin_host_key(known_hosts, "r5", "10.0.0.5", 2222, new)
    message = str(changed.value)
    assert message.startswith("r5 ([10.0.0.5]:2222): SSH HOST KEY CHANGED")
    assert old.fingerprint in message and new.fingerprint in message
    assert "simpul devices trust r5 --replace" in message
    assert pinned_keys(known_hosts, "10.0.0.5", 2222) == {old.get_name(): old}

    replaced = pin_host_key(known_hosts, "r5", "10.0.0.5", 2222, new, replace=True)
    assert (replaced.status, replaced.previous) == (REPLACED, old)
    assert known_hosts.read_text().splitlines() == [
        "# pinned by hand", f"10.0.0.9 {other.get_name()} {other.get_base64()}",
        f"[10.0.0.5]:2222 {new.get_name()} {new.get_base64()}"]
    assert pinned_keys(known_hosts, "10.0.0.9", 22) == {other.get_name(): other}
    assert known_hosts.stat().st_mode & 0o777 == 0o600

    fresh = pin_host_key(known_hosts, "r6", "10.0.0.6", 22, old)
    assert fresh.status == TRUSTED and fresh.previous is None
    assert known_hosts.read_text().endswith(f"\n10.0.0.6 {old.get_name()} {old.get_base64()}\n")
    # Parsed keys are cached per version of the file: a key pinned since is seen at once.
    assert pinned_keys(known_hosts, "10.0.0.6", 22) == {old.get_name(): old}
    assert pinned_keys(known_hosts, "10.0.0.5", 2222) == {new.get_name(): new}


def test_an_unknown_device_is_refused_before_any_connection(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(0.3)
        target = DeviceTarget(name="r1", platform="mikrotik_routeros", host="127.0.0.1",
                              port=listener.getsockname()[1], username="u", password="p",
                              timeout_s=2, known_hosts=tmp_path / "known_hosts")
        with pytest.raises(HostKeyUnknown, match=r"run `simpul devices trust r1`"):
            netmiko_connect(target, "mikrotik_routeros")
        with pytest.raises(TimeoutError):
            listener.accept()  # nobody came: no password can have been sent


def test_a_bad_host_key_behind_netmikos_wrapping_is_named() -> None:
    trusted, offered = paramiko.ECDSAKey.generate(), paramiko.ECDSAKey.generate()
    try:
        try:
            raise paramiko.BadHostKeyException("[10.0.0.5]:2222", offered, trusted)
        except paramiko.SSHException as exc:
            raise RuntimeError(f"SSHException: {exc}")  # noqa: B904 - as netmiko does
    except RuntimeError as wrapped:
        found = changed_key_error(wrapped, "r5", "10.0.0.5", 2222)
    assert found is not None and (found.trusted, found.offered) == (trusted, offered)
    assert changed_key_error(RuntimeError("timeout"), "r5", "10.0.0.5", 2222) is None
