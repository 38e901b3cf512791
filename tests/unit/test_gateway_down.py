"""A hotspot gateway that could not be reached counts as down for SIMPUL_PORTAL_GATEWAY_RETRY_S:
logins are refused at once instead of each queueing behind another's connect timeout (the
SSH-drop chaos test saw a login wait ~12 s behind the reaper's and reconciler's attempts).
The gateway here is a loopback listener that accepts TCP and never sends an SSH banner, as a
hung sshd does; the connects are netmiko's own."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from captive_portal.gateways.base import GatewayError
from captive_portal.gateways.batching import GroupCommit
from captive_portal.gateways.ssh import GatewaySession
from controller.devices import DeviceTarget
from controller.devices.host_keys import host_entry

CONNECT_S = 2.0  # the connect timeout: each attempt at the silent listener lasts this long


class SilentSshd:
    """Accepts connections on 127.0.0.1 and says nothing; counts them."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.second = threading.Event()
        self.known_hosts = Path()
        self._held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._held.append(conn)
            self.accepted += 1
            if self.accepted == 2:
                self.second.set()

    def close(self) -> None:
        self.sock.close()
        for conn in self._held:
            conn.close()


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[SilentSshd]:
    server = SilentSshd()
    # A pinned host key for it (Simpul connects only to pinned hosts): any real key does.
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    str(tmp_path / "hostkey")], check=True, capture_output=True)
    public = (tmp_path / "hostkey.pub").read_text().split()[:2]
    server.known_hosts = tmp_path / "known_hosts"
    server.known_hosts.write_text(f"{host_entry('127.0.0.1', server.port)} {' '.join(public)}\n")
    yield server
    server.close()


def _session(sshd: SilentSshd, retry_s: float) -> GatewaySession:
    target = DeviceTarget(name="gw-test", platform="linux", host="127.0.0.1", port=sshd.port,
                          username="simpul", password="not-used", timeout_s=CONNECT_S,
                          known_hosts=sshd.known_hosts)
    return GatewaySession(target, "linux", read_timeout_s=CONNECT_S, retry_s=retry_s)


def _run(session: GatewaySession) -> str:
    with session.lock:
        return session.send_locked("true")


def test_a_gateway_that_failed_is_refused_at_once_until_the_retry(sshd: SilentSshd) -> None:
    session = _session(sshd, retry_s=600)
    with pytest.raises(GatewayError, match="gw-test: cannot connect") as failed:
        _run(session)
    assert failed.value.retry_after_s == 600
    assert sshd.accepted == 1
    for _ in range(3):  # no new connection: refused with the reason and the retry named
        with pytest.raises(GatewayError, match=r"gw-test: unreachable \(cannot connect: "
                                               r"\w+\); trying again in \d+ s") as refused:
            _run(session)
        # A login's 503 says what is left of the window (not the store's Retry-After).
        assert refused.value.retry_after_s is not None
        assert 500 < refused.value.retry_after_s <= 600
    assert sshd.accepted == 1


def test_while_one_caller_tries_again_the_others_are_refused(sshd: SilentSshd) -> None:
    session = _session(sshd, retry_s=0.2)
    with pytest.raises(GatewayError, match="cannot connect"):
        _run(session)
    time.sleep(0.3)  # the retry time has passed: the next caller tries the gateway again
    errors: list[str] = []

    def retry() -> None:
        try:
            _run(session)
        except GatewayError as exc:
            errors.append(str(exc))

    prober = threading.Thread(target=retry)
    prober.start()
    assert sshd.second.wait(30), "the retry never connected"
    # The prober now waits CONNECT_S for a banner; another caller does not wait behind it.
    with pytest.raises(GatewayError, match="trying again now") as refused:
        _run(session)
    assert refused.value.retry_after_s == CONNECT_S  # the prober's connect ends by then
    assert prober.is_alive()
    prober.join(30)
    assert errors and "cannot connect" in errors[0]
    assert sshd.accepted == 2


def test_a_connect_that_works_again_ends_the_down_state(sshd: SilentSshd,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    session = _session(sshd, retry_s=0.2)
    with pytest.raises(GatewayError, match="cannot connect"):
        _run(session)
    time.sleep(0.3)

    class Conn:  # sshd is back (netmiko's connection, as far as the session sees it)
        def send_command(self, command: str, read_timeout: float, **options: object) -> str:
            return "ok"

        def disconnect(self) -> None: ...

    monkeypatch.setattr("captive_portal.gateways.ssh.netmiko_connect",
                        lambda target, device_type: Conn())
    assert _run(session) == "ok"
    session.close()  # a later failure of the open session reconnects: not refused
    assert _run(session) == "ok"


class RefusingLock:
    """A lock whose first entry raises, as a down gateway's does."""

    def __init__(self) -> None:
        self.refusals = 1
        self.inner = threading.Lock()

    def __enter__(self) -> RefusingLock:
        if self.refusals:
            self.refusals -= 1
            raise GatewayError("gw: unreachable")
        self.inner.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.inner.release()


def test_a_refused_change_is_withdrawn_never_sent_later() -> None:
    sent: list[list[str]] = []
    commit: GroupCommit[str] = GroupCommit(sent.append, RefusingLock())
    with pytest.raises(GatewayError, match="unreachable"):
        commit.submit(["allow 10.0.0.5"])  # its login answered 503: no session
    commit.submit(["allow 10.0.0.6"])
    assert sent == [["allow 10.0.0.6"]]


def test_closing_a_down_gateways_session_is_never_refused(sshd: SilentSshd) -> None:
    """The CLI closes its portal (every session) after a disconnect the gateway missed."""
    session = _session(sshd, retry_s=600)
    with pytest.raises(GatewayError, match="cannot connect"):
        _run(session)
    session.close()
