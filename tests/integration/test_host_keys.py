"""Pinned SSH host keys against the lab's RouterOS simulator: the config engine and the portal's
gateway adapter refuse an unknown key and a changed one; `simpul devices trust` pins on first
use, `--replace` takes a key that changed on purpose; both are audited."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from captive_portal.gateways.base import GatewayError
from captive_portal.service import Portal
from controller.context import Context
from controller.inventory import Inventory, load_inventory
from controller.jobs import ConfigJobs
from controller.secrets import SecretStore
from controller.settings import Settings
from controller.store.models import AuditLog
from lab.ssh_sim.server import host_key
from lab.ssh_sim.state import read_command_log
from tests.conftest import ROOT, free_port, move_device
from tests.integration.config_lab import simulated

pytestmark = pytest.mark.integration

GW = "alun-alun-gw"  # a RouterOS hotspot gateway: pushed to, and the portal's adapter too


@dataclass
class Device:
    inventory_dir: Path
    inventory: Inventory
    secrets: SecretStore
    secrets_file: Path
    state_dir: Path
    data: Path
    address: str
    port: int

    @property
    def entry(self) -> str:
        return f"[{self.address}]:{self.port}"

    @property
    def known_hosts(self) -> Path:
        return self.data / "known_hosts"

    def simulator(self) -> AbstractContextManager[None]:
        return simulated(self.inventory, self.secrets, self.state_dir, GW)

    def new_host_key(self) -> None:
        """The device is reinstalled (or impersonated): its next start makes a new key."""
        (self.state_dir / "ssh_sim" / "host_key").unlink()

    def fingerprint(self) -> str:
        """The simulator's own key, fingerprinted by asyncssh (not by the code under test)."""
        return str(host_key(self.state_dir / "ssh_sim" / "host_key")
                   .get_fingerprint("sha256"))

    def env(self) -> dict[str, str]:
        return {**{k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")},
                "SIMPUL_DATA_DIR": str(self.data), "SIMPUL_INVENTORY_DIR": str(self.inventory_dir),
                "SIMPUL_SECRETS_FILE": str(self.secrets_file), "PYTHONPATH": str(ROOT),
                "LOGNAME": "engineer1", "USER": "engineer1"}

    def simpul(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "controller.cli", *args], cwd=ROOT,
                              env=self.env(), capture_output=True, text=True, timeout=120)

    def diff(self) -> tuple[str, str | None]:
        result = ConfigJobs(self.inventory, self.secrets, self.data).diff_one(
            self.inventory.devices[GW])
        return result.status, result.error

    def audit(self) -> list[tuple[str, str, str, str | None, dict | None]]:
        ctx = self.context()
        try:
            with ctx.store.session() as session:
                rows = session.scalars(select(AuditLog).where(AuditLog.action.startswith(
                    "device.trust")).order_by(AuditLog.id)).all()
                return [(r.actor, r.action, r.result, r.target, r.detail) for r in rows]
        finally:
            ctx.close()

    def context(self) -> Context:
        return Context.open(Settings(data_dir=self.data, inventory_dir=self.inventory_dir,
                                     secrets_file=self.secrets_file,
                                     portal_url="http://portal.test",
                                     portal_sms_outbox=self.data / "outbox.jsonl"))


@pytest.fixture
def device(demo_inventory: Path, demo_secrets: Path, tmp_path: Path) -> Iterator[Device]:
    address = f"127.0.{random.randint(100, 250)}.56"
    port = free_port(address)
    move_device(demo_inventory, GW, address, port)
    secrets = SecretStore.load(demo_secrets)
    yield Device(demo_inventory, load_inventory(demo_inventory, secrets), secrets, demo_secrets,
                 tmp_path / "lab", tmp_path / "data", address, port)


def test_unknown_then_trusted_then_changed_then_replaced(device: Device) -> None:
    with device.simulator():
        # Unknown: refused before any login, with the command that fixes it.
        status, error = device.diff()
        assert status == "failed" and error is not None
        assert f"{GW} ({device.entry})" in error and f"simpul devices trust {GW}" in error
        assert read_command_log(device.state_dir, GW) == []

        first = device.fingerprint()
        trusted = device.simpul("devices", "trust", GW)
        assert trusted.returncode == 0, trusted.stderr
        assert f"{GW} ({device.entry}): trusted ssh-ed25519 {first}" in trusted.stdout
        [line] = device.known_hosts.read_text().splitlines()
        assert line.startswith(f"{device.entry} ssh-ed25519 ")  # OpenSSH's form for port != 22
        if shutil.which("ssh-keygen"):  # OpenSSH itself finds and fingerprints the entry
            found = subprocess.run(["ssh-keygen", "-l", "-F", device.entry, "-f",
                                    str(device.known_hosts)], capture_output=True, text=True)
            assert first in found.stdout, found.stdout + found.stderr
        assert device.diff()[0] == "changed"  # connected, fetched, planned

        again = device.simpul("devices", "trust", GW)
        assert again.returncode == 0 and f"already trusted ssh-ed25519 {first}" in again.stdout

    device.new_host_key()
    with device.simulator():
        second = device.fingerprint()
        assert second != first
        # The config engine refuses, naming the device and both fingerprints.
        status, error = device.diff()
        assert status == "failed" and error is not None
        assert "SSH HOST KEY CHANGED" in error and GW in error
        assert first in error and second in error and "--replace" in error
        # So does the portal's gateway adapter (the same pinned file, through the portal).
        ctx = device.context()
        portal = Portal(ctx)
        try:
            with pytest.raises(GatewayError) as refused:
                portal.gateways.get("alun-alun").allowed()
            assert "SSH HOST KEY CHANGED" in str(refused.value)
            assert first in str(refused.value) and second in str(refused.value)
        finally:
            portal.close()
            ctx.close()

        # Trusting again without --replace is refused too, with both fingerprints.
        kept = device.known_hosts.read_text()
        refused_cli = device.simpul("devices", "trust", GW)
        assert refused_cli.returncode == 1
        assert first in refused_cli.stderr and second in refused_cli.stderr
        assert device.known_hosts.read_text() == kept
        assert device.simpul("devices", "trust", "--all", "--replace").returncode == 2

        replaced = device.simpul("devices", "trust", GW, "--replace")
        assert replaced.returncode == 0, replaced.stderr
        assert f"replaced ssh-ed25519 {first} with ssh-ed25519 {second}" in replaced.stdout
        assert len(device.known_hosts.read_text().splitlines()) == 1
        assert device.diff()[0] == "changed"
        ctx = device.context()
        portal = Portal(ctx)
        try:
            assert portal.gateways.get("alun-alun").allowed() == []
        finally:
            portal.close()
            ctx.close()

    engineer = "cli:engineer1"
    assert device.audit() == [  # "already trusted" changed nothing and is not audited
        (engineer, "device.trust", "ok", GW,
         {"host": device.entry, "key": f"ssh-ed25519 {first}"}),
        (engineer, "device.trust", "refused", GW,
         {"trusted": f"ssh-ed25519 {first}", "offered": f"ssh-ed25519 {second}"}),
        (engineer, "device.trust.replace", "ok", GW,
         {"host": device.entry, "key": f"ssh-ed25519 {second}",
          "previous": f"ssh-ed25519 {first}"}),
    ]


def test_trust_waits_for_a_device_that_is_not_up_yet(device: Device) -> None:
    # Nothing listens yet: without --wait the device is named and the exit code is 1.
    down = device.simpul("devices", "trust", GW)
    assert down.returncode == 1 and f"{GW} ({device.address}:{device.port})" in down.stderr
    assert not device.known_hosts.exists()
    unknown = device.simpul("devices", "trust", "no-such-device")
    assert unknown.returncode == 2 and "no-such-device" in unknown.stderr
    # With --wait it retries until the device answers (./run starts the lab just before).
    waiting = subprocess.Popen([sys.executable, "-m", "controller.cli", "devices", "trust",
                                GW, "--wait", "60"], cwd=ROOT, env=device.env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3)
        with device.simulator():
            out, err = waiting.communicate(timeout=60)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()
    assert waiting.returncode == 0, err
    assert f"trusted ssh-ed25519 {device.fingerprint()}" in out
