"""The persistent SSH session a gateway adapter keeps to its gateway (netmiko).

Opened on first use with the config engine's connection settings (`build_target`,
`netmiko_connect`: a credential secret holding an OpenSSH private key is used as the key),
reopened once when a command fails on a broken session, closed on demand. The gateway's host
key must be the pinned one (controller.devices.host_keys), as for a config push. The caller
holds `lock` around every command sequence that must not interleave with another thread's.

A gateway that could not be reached counts as down for `SshTimeouts.retry_s`: meanwhile every
caller (a login, the reaper, the reconciler) is refused at once instead of queueing on `lock`
behind another's connect timeout; then one caller tries again while the others are still
refused. A successful connect ends it.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from captive_portal.gateways.base import GatewayError, SshTimeouts
from controller.devices import DeviceTarget, build_target
from controller.devices.base import netmiko_connect
from controller.devices.host_keys import HostKeyError
from controller.inventory import Device, Inventory
from controller.secrets import SecretStore


class GatewayLock:
    """The session's lock; entering it while the gateway counts as down raises GatewayError
    at once (the caller never waits behind another's connect timeout)."""

    def __init__(self, session: GatewaySession):
        self._session = session
        self._lock = threading.Lock()

    def __enter__(self) -> GatewayLock:
        self._session.refuse_if_down()
        self._lock.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._lock.release()

    def waiting(self) -> threading.Lock:
        """The lock itself, entered whatever the gateway's state (closing the session)."""
        return self._lock


class GatewaySession:
    def __init__(self, target: DeviceTarget, device_type: str,
                 read_timeout_s: float = SshTimeouts.read_s,
                 retry_s: float = SshTimeouts.retry_s):
        self.name = target.name
        self._target = target  # its timeout_s bounds the connect (a login waits on it)
        self._device_type = device_type
        self._read_timeout_s = read_timeout_s
        self._retry_s = retry_s
        self._conn: Any = None
        self._down_until = 0.0  # time.monotonic(): refuse callers until then
        self._down_reason = ""
        self._retrying = False  # a connect after a failure is under way: refuse the others
        self.lock = GatewayLock(self)

    @classmethod
    def for_device(cls, device: Device, inv: Inventory, secrets: SecretStore,
                   device_type: str, known_hosts: Path | None = None,
                   timeouts: SshTimeouts | None = None) -> GatewaySession:
        timeouts = timeouts or SshTimeouts()
        return cls(build_target(inv, device, secrets, timeout_s=timeouts.connect_s,
                                known_hosts=known_hosts), device_type, timeouts.read_s,
                   timeouts.retry_s)

    def refuse_if_down(self) -> None:
        """Raise GatewayError if the gateway counts as down, or another caller is trying it
        again after a failure."""
        left = self._down_until - time.monotonic()
        if left > 0 or self._retrying:
            wait = f"trying again in {left:.0f} s" if left > 0 else "trying again now"
            # What is left of the window; while another caller connects, its connect's bound.
            raise GatewayError(f"gateway {self.name}: unreachable ({self._down_reason}); "
                               f"{wait}", math.ceil(left if left > 0 else self._target.timeout_s))

    def _connect_locked(self) -> Any:
        if self._conn is None:
            self.refuse_if_down()
            self._retrying = bool(self._down_reason)
            try:
                self._conn = netmiko_connect(self._target, self._device_type)
            except HostKeyError as exc:  # names the device, the fingerprints and the fix
                self._went_down("host key refused")
                raise GatewayError(f"gateway {self.name}: cannot connect: {exc}",
                                   math.ceil(self._retry_s)) from None
            except Exception as exc:  # netmiko and paramiko raise many types; report one
                self._went_down(f"cannot connect: {type(exc).__name__}")
                raise GatewayError(f"gateway {self.name}: cannot connect: "
                                   f"{type(exc).__name__}", math.ceil(self._retry_s)) from None
            finally:
                self._retrying = False
            self._down_reason = ""
        return self._conn

    def _went_down(self, reason: str) -> None:
        self._down_reason = reason
        self._down_until = time.monotonic() + self._retry_s

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
        with self.lock.waiting():  # closing never needs the gateway: never refused
            self.close_locked()
