"""A private copy of the demo regency on 127.0.N.x with the ssh_sim lab running for it."""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.relocate import parse_block, relocate

ROOT = Path(__file__).resolve().parents[2]


def _free_port_on(hosts: list[str]) -> int:
    for _ in range(50):
        port = random.randint(20000, 60000)
        try:
            for host in hosts:
                with socket.socket() as sock:
                    sock.bind((host, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port")


@dataclass
class Lab:
    root: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    octet: int

    @property
    def state_dir(self) -> Path:
        return self.root / "data" / "lab"

    def simpul(self, *args: str, stdin: str | None = None,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "controller.cli", *args], cwd=ROOT,
                              env={**self.env, **(env or {})}, capture_output=True, text=True,
                              timeout=240, input=stdin if stdin is not None else "")

    def connect(self, device: str) -> Any:
        """A netmiko session to a lab device, as an engineer's own SSH client would open one:
        its host key checked against the trusted one."""
        from controller.devices import build_target
        from controller.devices.base import netmiko_connect
        from controller.inventory import load_inventory
        from controller.secrets import SecretStore

        secrets = SecretStore.load(Path(self.env["SIMPUL_SECRETS_FILE"]))
        inventory = load_inventory(Path(self.env["SIMPUL_INVENTORY_DIR"]), secrets)
        found = inventory.devices[device]
        return netmiko_connect(build_target(inventory, found, secrets,
                                            known_hosts=self.root / "data" / "known_hosts"),
                               found.platform)

    def json_lines(self, *args: str, env: dict[str, str] | None = None
                   ) -> tuple[int, list[dict]]:
        done = self.simpul(*args, env=env)
        rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        return done.returncode, rows

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_lab(tmp: Path, secrets_file: Path, templates_dir: Path | None = None,
              components: tuple[str, ...] = ("ssh_sim",)) -> Lab:
    """The lab on its own 127.0.N.x addresses, every device's host key trusted. With the
    component "linux_gw" the Linux gateways are real namespaces (root only)."""
    octet = random.randint(100, 250)
    hosts = [f"127.0.{octet}.{x}" for x in re.findall(
        r"mgmt_address: 127\.0\.0\.(\d+)", (ROOT / "inventory" / "devices.yaml").read_text())]
    port = _free_port_on(hosts)
    inventory = tmp / "inventory"
    relocate(ROOT / "inventory", inventory, parse_block(f"127.0.{octet}.0/24"), ssh_port=port,
             snmp_port=port)
    data = tmp / "data"
    data.mkdir()
    env = {**os.environ, "SIMPUL_DATA_DIR": str(data), "SIMPUL_INVENTORY_DIR": str(inventory),
           "SIMPUL_SECRETS_FILE": str(secrets_file), "SIMPUL_LOG_LEVEL": "warning",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                       os.environ.get("PYTHONPATH")]))}
    if templates_dir is not None:
        env["SIMPUL_TEMPLATES_DIR"] = str(templates_dir)
    log = open(tmp / "lab.log", "wb")  # noqa: SIM115 - kept open for the child's lifetime
    if "linux_gw" in components:
        from controller.inventory import check_inventory as check
        from lab.linux_gateways import ensure_keys

        ensure_keys(secrets_file, check(inventory)[0])
    only = [arg for name in components for arg in ("--only", name)]
    process = subprocess.Popen([sys.executable, "-m", "controller.cli", "lab", "up", *only],
                               cwd=ROOT, env=env, stdout=log, stderr=log)
    lab = Lab(tmp, env, process, octet)
    deadline = time.monotonic() + 60
    sys.path.insert(0, str(ROOT))
    from controller.inventory import check_inventory

    loaded, _ = check_inventory(inventory)
    waiting = [str(d.mgmt_address) for d in loaded.devices.values() if d.platform != "linux"]
    while waiting and time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("lab exited: " + (tmp / "lab.log").read_text())
        try:
            socket.create_connection((waiting[-1], port), timeout=1).close()
            waiting.pop()
        except OSError:
            time.sleep(0.2)
    if waiting:
        lab.stop()
        raise RuntimeError("lab did not start: " + (tmp / "lab.log").read_text())
    trusted = lab.simpul("devices", "trust", "--all", "--wait", "30")  # as ./run does
    if trusted.returncode != 0:
        lab.stop()
        raise RuntimeError(f"lab host keys not trusted: {trusted.stdout}{trusted.stderr}")
    return lab


def config_commands(lab: Lab, device: str) -> list[str]:
    """Config-changing commands a simulated device received (a RouterOS line holding several,
    `;`-separated, counts as each of them)."""
    sys.path.insert(0, str(ROOT))
    from lab.ssh_sim.routeros import split_commands
    from lab.ssh_sim.state import read_command_log

    lines = [part.strip() for line in read_command_log(lab.state_dir, device)
             for part in ([text for text, _ in split_commands(line)]
                          if line.startswith("/") else [line])]
    return [line for line in lines
            if re.search(r"\s(add|set|remove|enable|disable)\b", line)
            or line.startswith(("configure", "conf t", "hostname", "interface", "vlan", "no "))]


def start_demo_lab(tmp: Path) -> Lab:
    """start_lab with a fresh secrets file holding every secret the demo inventory names."""
    from controller.inventory import check_inventory
    from controller.secrets import generate_missing

    secrets = tmp / "secrets.yaml"
    generate_missing(secrets, check_inventory(ROOT / "inventory")[0].secret_names())
    return start_lab(tmp, secrets)


@contextmanager
def simulated(inventory: Any, secrets: Any, state_dir: Path, name: str) -> Iterator[None]:
    """The lab's SSH simulator of one inventory device, in a thread of this test process,
    answering on the device's mgmt address and port until the block ends."""
    from lab.ssh_sim import run_simulators

    device = inventory.devices[name]
    loop = asyncio.new_event_loop()
    tasks: list[asyncio.Task[None]] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        tasks.append(loop.create_task(run_simulators(inventory, secrets, state_dir,
                                                     names=[name])))
        try:
            loop.run_until_complete(tasks[0])
        except asyncio.CancelledError:
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection((str(device.mgmt_address), device.mgmt_port),
                                     timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, f"the simulator of {name} did not start"
            time.sleep(0.1)
    try:
        yield
    finally:
        loop.call_soon_threadsafe(tasks[0].cancel)
        thread.join(timeout=10)
