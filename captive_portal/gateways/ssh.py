"""The persistent SSH session a gateway adapter keeps to its gateway (netmiko).

Opened on first use with the config engine's connection settings (`build_target`,
`netmiko_connect`: a credential secret holding an OpenSSH private key is used as the key),
reopened once when a command fails on a broken session, closed on demand. The gateway's host
key must be the pinned one (controller.devices.host_keys), as for a config push. The caller
holds `lock` around every command sequence that must not interleave with another thread's.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from captive_portal.gateways.base import GatewayError, SshTimeouts
from controller.devices import DeviceTarget, build_target
from controller.devices.base import netmiko_connect
from controller.devices.host_keys import HostKeyError
from controller.inventory import Device, Inventory
from controller.secrets import SecretStore


class GatewaySession:
    def __init__(self, target: DeviceTarget, device_type: str,
                 read_timeout_s: float = SshTimeouts.read_s):
        self.name = target.name
        self._target = target  # its timeout_s bounds the connect (a login waits on it)
        self._device_type = device_type
        self._read_timeout_s = read_timeout_s
        self._conn: Any = None
        self.lock = threading.Lock()

    @classmethod
    def for_device(cls, device: Device, inv: Inventory, secrets: SecretStore,
                   device_type: str, known_hosts: Path | None = None,
                   timeouts: SshTimeouts | None = None) -> GatewaySession:
        timeouts = timeouts or SshTimeouts()
        return cls(build_target(inv, device, secrets, timeout_s=timeouts.connect_s,
                                known_hosts=known_hosts), device_type, timeouts.read_s)

    def _connect_locked(self) -> Any:
        if self._conn is None:
            try:
                self._conn = netmiko_connect(self._target, self._device_type)
            except HostKeyError as exc:  # names the device, the fingerprints and the fix
                raise GatewayError(f"gateway {self.name}: cannot connect: {exc}") from None
            except Exception as exc:  # netmiko and paramiko raise many types; report one
                raise GatewayError(f"gateway {self.name}: cannot connect: "
                                   f"{type(exc).__name__}") from None
        return self._conn

    def send_locked(self, command: str, **options: Any) -> str:
        """Run one command and return its output (the caller holds `lock`).

        A failure on an open session (the gateway rebooted, a NAT dropped the idle TCP
        connection) closes it and tries once more on a new one.
        """
        for attempt in (1, 2):
            conn = self._connect_locked()
            try:
                output: str = conn.send_command(command, read_timeout=self._read_timeout_s,
                                                **options)
                return output
            except Exception as exc:
                self.close_locked()
                if attempt == 2:
                    raise GatewayError(f"gateway {self.name}: SSH failed: "
                                       f"{type(exc).__name__}") from None
        raise AssertionError("unreachable")

    def close_locked(self) -> None:
        if self._conn is not None:
            try:
                self._conn.disconnect()
            except Exception:  # closing a broken session
                pass
            self._conn = None

    def close(self) -> None:
        with self.lock:
            self.close_locked()
