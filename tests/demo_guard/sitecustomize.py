"""Refuse, in tests, every socket use of the demo lab's addresses (127.0.0.10-58).

DESIGN.md reserves them for the demo (`./run`); tests take 127.0.N.x with N >= 100 or a network
namespace of their own. tests/conftest.py installs the guard in the test process and puts this
directory on PYTHONPATH, so Python child processes (serve, the CLI, the lab) load this file as
`sitecustomize` and install it too; they append what they refused to the file named by
PYTEST_DEMO_GUARD_LOG, which conftest reads after each test. A child in another network
namespace has a loopback of its own and is left alone. Programs that are not Python (snmpd,
sshd) are started on addresses the tests choose and are not watched.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from collections.abc import Callable
from typing import Any

LOG_ENV = "PYTEST_DEMO_GUARD_LOG"
NETNS_ENV = "PYTEST_DEMO_GUARD_NETNS"
FIRST, LAST = 10, 58
GUARDED = ("connect", "connect_ex", "sendto", "bind")


class DemoAddressRefused(ConnectionRefusedError):
    """A test reached for the demo lab's addresses."""


def demo_host(address: object) -> str | None:
    """The host of a socket address when it is one of the demo lab's, else None."""
    if not isinstance(address, tuple) or not address or not isinstance(address[0], str):
        return None
    host = address[0].removeprefix("::ffff:")
    parts = host.split(".")
    if len(parts) == 4 and parts[:3] == ["127", "0", "0"] and parts[3].isdigit() \
            and FIRST <= int(parts[3]) <= LAST:
        return host
    return None


def netns() -> str:
    """This process's network namespace (the inode of /proc/self/ns/net)."""
    try:
        return str(os.stat("/proc/self/ns/net").st_ino)
    except OSError:
        return ""


def install(report: Callable[[str], None]) -> None:
    """Wrap socket.socket's connect, connect_ex, sendto and bind: a demo address is reported
    and refused with DemoAddressRefused."""
    if getattr(socket.socket, "_simpul_demo_guard", False):
        return

    def guard(name: str) -> Callable[..., Any]:
        original = getattr(socket.socket, name)

        def guarded(self: socket.socket, *args: Any) -> Any:
            address = args[-1] if name == "sendto" else (args[0] if args else None)
            host = demo_host(address)
            if host is not None:
                what = f"{name} {host}:{address[1]}"  # type: ignore[index]
                report(what)
                raise DemoAddressRefused(errno.ECONNREFUSED, f"test guard refused {what}: "
                                         f"127.0.0.{FIRST}-{LAST} belong to the demo lab; "
                                         f"tests use 127.0.N.x (N >= 100) or a namespace")
            return original(self, *args)

        guarded.__name__ = name
        return guarded

    for name in GUARDED:
        setattr(socket.socket, name, guard(name))
    socket.socket._simpul_demo_guard = True  # type: ignore[attr-defined]


def _append_to_log(what: str) -> None:
    command = " ".join(sys.argv)[:200]
    with open(os.environ[LOG_ENV], "a", encoding="utf-8") as log:
        log.write(f"pid {os.getpid()} ({command}): {what}\n")


if __name__ == "sitecustomize" and os.environ.get(LOG_ENV) \
        and os.environ.get(NETNS_ENV) == netns():
    install(_append_to_log)
