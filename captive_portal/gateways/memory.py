"""An in-memory gateway: enforces nothing. For the demo without gateways and for unit tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from captive_portal.gateways.base import AllowedClient, Client, GatewayError, Grant


class MemoryGateway:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._expiry: dict[Client, float] = {}
        self.bytes: dict[Client, tuple[int, int]] = {}
        self.macs: dict[str, str] = {}  # ip -> mac, what the "neighbour table" answers
        self.calls = 0
        self.broken = False
        self.broken_retry_after_s: int | None = None  # what a broken gateway's error says

    def _check(self) -> None:
        self.calls += 1
        if self.broken:
            raise GatewayError("memory gateway: unreachable (simulated)",
                               self.broken_retry_after_s)

    def allow(self, grants: Sequence[Grant]) -> None:
        with self._lock:
            self._check()
            for grant in grants:
                self._expiry[grant.client] = time.monotonic() + grant.timeout_s
                self.bytes[grant.client] = (0, 0)

    def revoke(self, clients: Sequence[Client]) -> None:
        with self._lock:
            self._check()
            for client in clients:
                self._expiry.pop(client, None)
                self.bytes.pop(client, None)

    def allowed(self) -> list[AllowedClient]:
        with self._lock:
            self._check()
            now = time.monotonic()
            for client in [c for c, t in self._expiry.items() if t <= now]:
                del self._expiry[client]
            return [
                AllowedClient(client, int(t - now), *self.bytes.get(client, (0, 0)))
                for client, t in self._expiry.items()
            ]

    def mac_for_ip(self, ip: str) -> str | None:
        return self.macs.get(ip)

    def flush(self) -> None:
        with self._lock:
            self._expiry.clear()

    def close(self) -> None:
        pass
