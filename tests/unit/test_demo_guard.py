"""The guard of tests/conftest.py: a test that reaches the demo lab's addresses (127.0.0.10-58)
is refused and reported, in the test process and in the Python processes it starts."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys

import pytest

from tests.conftest import ROOT, free_port, take_refusals
from tests.demo_guard.sitecustomize import DemoAddressRefused


def test_a_deliberate_connect_to_the_demo_lab_is_refused_and_reported() -> None:
    with socket.socket() as sock, pytest.raises(DemoAddressRefused, match="demo lab"):
        sock.connect(("127.0.0.10", 2222))  # the demo's noc-border SSH
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        with pytest.raises(DemoAddressRefused):
            sock.sendto(b"\x30", ("127.0.0.58", 1161))  # its last SNMP agent
        with pytest.raises(DemoAddressRefused):
            sock.bind(("127.0.0.33", 0))
    with socket.socket() as sock, pytest.raises(DemoAddressRefused):
        sock.connect_ex(("127.0.0.12", 2222))
    # Had the test caught those errors, the autouse check would still fail it with these.
    assert take_refusals() == ["connect 127.0.0.10:2222", "sendto 127.0.0.58:1161",
                               "bind 127.0.0.33:0", "connect_ex 127.0.0.12:2222"]


def test_a_python_child_process_is_refused_and_reported() -> None:
    code = ("import socket; socket.create_connection(('127.0.0.20', 2222), timeout=2)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={**os.environ})
    assert done.returncode != 0 and "DemoAddressRefused" in done.stderr
    [refused] = take_refusals()
    assert refused.endswith("connect 127.0.0.20:2222") and refused.startswith("pid ")


def test_other_addresses_are_untouched() -> None:
    host = f"127.0.{random.randint(100, 250)}.10"
    port = free_port(host)
    with socket.socket() as server:
        server.bind((host, port))
        server.listen(1)
        socket.create_connection((host, port), timeout=2).close()
    for edge in ("127.0.0.9", "127.0.0.59", "127.0.0.1"):  # just outside the demo's block
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"", (edge, free_port()))
    assert take_refusals() == []
