"""What every platform module provides, and the netmiko plumbing they share.

A platform says only what differs for it: how to fetch and normalise a running config, how to
plan the change from running to intended, how to apply it, save it and plan a rollback. The
shared steps (lock, backup, verify, roll back, audit) live once in controller/jobs.py.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from controller.devices.host_keys import (
    HostKeyError,
    changed_key_error,
    known_hosts_path,
    pinned_file,
)

if TYPE_CHECKING:
    from controller.inventory import Device, Inventory
    from controller.secrets import SecretStore


class DeviceError(Exception):
    """The device refused something; the message is the device's own text."""


class IntentError(Exception):
    """The rendered intent cannot be used on this platform (e.g. an untagged RouterOS object)."""


@dataclass(frozen=True)
class DeviceTarget:
    """How to reach one device. Secrets stay out of repr and logs. `known_hosts` holds its
    pinned host key (default: the settings' data dir's)."""

    name: str
    platform: str
    host: str
    port: int
    username: str
    password: str = field(repr=False)
    secret: str | None = field(default=None, repr=False)
    options: dict[str, Any] = field(default_factory=dict)
    timeout_s: float = 20.0
    known_hosts: Path | None = None


def build_target(inventory: Inventory, device: Device, secrets: SecretStore,
                 timeout_s: float = 20.0, known_hosts: Path | None = None) -> DeviceTarget:
    """How to reach `device`: its address and its credential profile's secrets. The config
    engine and the portal's gateway adapters connect alike (netmiko_connect)."""
    profile = inventory.credential_profiles[device.credentials]
    return DeviceTarget(
        name=device.name, platform=device.platform, host=str(device.mgmt_address),
        port=device.mgmt_port, username=profile.username,
        password=secrets.require(profile.password_secret),
        secret=secrets.require(profile.enable_secret) if profile.enable_secret else None,
        options=dict(device.vars), timeout_s=timeout_s, known_hosts=known_hosts,
    )


class Plan:
    """What a push would do to one device: the diff to show and the actions to take. The diff
    may be given as a function, run on first use: a verify step that finds nothing to do never
    needs it (writing it was a sixth of a push's planning, issue #17)."""

    def __init__(self, diff: str | Callable[[], str], actions: list[Any]):
        self._diff = diff
        self.actions = actions

    @property
    def diff(self) -> str:
        if not isinstance(self._diff, str):
            self._diff = self._diff()
        return self._diff

    @diff.setter
    def diff(self, text: str) -> None:
        self._diff = text

    @property
    def empty(self) -> bool:
        return not self.actions

    def __repr__(self) -> str:
        return f"Plan(diff={self.diff!r}, actions={self.actions!r})"


class DevicePlatform(Protocol):
    name: str

    def connect(self, target: DeviceTarget) -> Any: ...

    def fetch(self, conn: Any, intent: str) -> str:
        """The normalised running config (the parts `intent` needs to see, at least)."""
        ...

    def normalise(self, raw: str) -> str: ...

    def plan(self, intent: str, running: str) -> Plan: ...

    def apply(self, conn: Any, plan: Plan) -> None:
        """Carry out a plan; raise DeviceError with the device's text on the first refusal."""
        ...

    def save(self, conn: Any) -> None: ...

    def rollback_plan(self, backup: str, current: str) -> Plan:
        """The plan that brings `current` back to `backup` for everything Simpul manages."""
        ...


def netmiko_connect(target: DeviceTarget, device_type: str) -> Any:
    """Open a netmiko session to a device whose host key is pinned (HostKeyError otherwise).
    A password that is an OpenSSH private key is used as the key."""
    import paramiko
    from netmiko import ConnectHandler

    known_hosts = target.known_hosts or known_hosts_path()
    params: dict[str, Any] = {
        "device_type": device_type, "host": target.host, "port": target.port,
        "username": target.username, "conn_timeout": target.timeout_s,
        "auth_timeout": target.timeout_s, "banner_timeout": target.timeout_s,
        "read_timeout_override": None, "allow_agent": False,
        # paramiko loads the pinned keys; RejectPolicy refuses a host it does not find there.
        "ssh_strict": True, "system_host_keys": False, "alt_host_keys": True,
    }
    if target.password.lstrip().startswith("-----BEGIN"):
        params["pkey"] = _private_key(paramiko, target.password)
        params["use_keys"] = False  # no key files: the key is given
        params["password"] = ""
    else:
        params["password"] = target.password
        params["use_keys"] = False
    if target.secret:
        params["secret"] = target.secret
    try:
        with pinned_file(known_hosts, target.name, target.host, target.port) as pinned:
            return ConnectHandler(**params, alt_key_file=str(pinned))
    except HostKeyError:
        raise
    except Exception as exc:
        changed = changed_key_error(exc, target.name, target.host, target.port)
        if changed is not None:
            raise changed from None
        raise


def _private_key(paramiko: Any, text: str) -> Any:
    for kind in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return kind.from_private_key(io.StringIO(text))
        except (paramiko.SSHException, ValueError):
            continue
    raise DeviceError("the credential is neither a password nor a readable private key")
