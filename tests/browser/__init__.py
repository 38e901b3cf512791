"""Browser tests: real Chromium (Debian's) driven by Playwright."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx


def wait_until_serving(proc: subprocess.Popen[bytes], base: str, log: Path,
                       timeout_s: float = 60) -> None:
    """Wait for `simpul serve` to answer /healthz; fail with its log if it exits first."""
    deadline = time.monotonic() + timeout_s
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "serve did not start"
        time.sleep(0.3)


def stop_serving(proc: subprocess.Popen[bytes]) -> None:
    """Stop a `simpul serve` started in its own session: SIGINT, then SIGKILL after 30 s."""
    import os
    import signal

    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
