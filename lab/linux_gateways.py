"""The demo's Linux hotspot gateways as real Linux: one network namespace per inventory device
of platform `linux`, with OpenSSH sshd (root by key) and the kernel's nftables, when the lab
runs as root. The controller reaches each on its inventory mgmt_address:mgmt_port (loopback):
every connection is handed to `sshd -i` inside the namespace (lab.netns.InetdSshd). The
gateway's /etc is its own (an overlay kept under the lab's state directory).

    python -m lab.linux_gateways keys   # ./run, as root: an SSH key in each gateway's secret

Without root the lab's simulator (lab.ssh_sim.linux) stands in for them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import sys
import tempfile
from pathlib import Path

import yaml

from controller.inventory import Device, Inventory, load_inventory
from controller.secrets import SecretStore, write_secrets_file
from controller.settings import get_settings
from lab import netns

log = logging.getLogger("simpul.lab.linux")
KEY_MARK = "PRIVATE KEY-----"


def namespace_name(state_dir: Path, device: str) -> str:
    """Unique per lab (a test's `./run` beside the demo) and per device."""
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:6]
    return f"simpul-{digest}-{device}"


def _public_key(private_key: str, directory: Path) -> str:
    with tempfile.NamedTemporaryFile("w", dir=directory, delete=False) as handle:
        handle.write(private_key.strip() + "\n")
    try:
        os.chmod(handle.name, 0o600)
        return netns.run("ssh-keygen", "-y", "-f", handle.name).stdout.strip()
    finally:
        os.unlink(handle.name)


class RealGateway:
    """One device's namespace, its own /etc and its sshd; close() removes them."""

    def __init__(self, device: Device, inventory: Inventory, secrets: SecretStore,
                 state_dir: Path):
        self.name = namespace_name(state_dir, device.name)
        # Absolute: sshd and the overlay run where the working directory is not the lab's.
        home = (state_dir / "linux_gw" / device.name).resolve()
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        profile = inventory.credential_profiles[device.credentials]
        secret = secrets.require(profile.password_secret)
        if KEY_MARK not in secret:
            raise RuntimeError(f"{device.name}: secret {profile.password_secret!r} must hold an "
                               "SSH private key for a real gateway (`python -m "
                               "lab.linux_gateways keys` makes one)")
        if profile.username != "root":
            raise RuntimeError(f"{device.name}: credential profile {profile.name!r} logs in as "
                               f"{profile.username!r}; the real gateway's sshd admits root only")
        (home / "authorized_keys").write_text(_public_key(secret, home) + "\n")
        host_key = netns.keypair(home / "host_key")  # kept: the demo's trust survives restarts
        config = netns.sshd_config(home, host_key, home / "authorized_keys")
        self.holder: netns.MountHolder | None = None
        self.sshd: netns.InetdSshd | None = None
        netns.add_namespace(self.name)
        try:
            self._client_side(device, inventory)
            self.holder = netns.MountHolder(self.name, home / "etc")
            self.sshd = netns.InetdSshd(self.name, config, str(device.mgmt_address),
                                        device.mgmt_port, self.holder)
        except BaseException:
            self.close()
            raise

    def _client_side(self, device: Device, inventory: Inventory) -> None:
        """The hotspot's client interface (a bridge, as an AP would hang on) with the gateway's
        address, so the rendered rules and `ip neigh` meet a real interface."""
        hotspot = next((h for h in inventory.hotspots.values() if h.gateway == device.name),
                       None)
        if hotspot is None:
            return
        interface = str(device.vars.get("client_interface", "br-hotspot"))
        first = next(iter(hotspot.client_subnet.hosts()))
        netns.run("ip", "-n", self.name, "link", "add", interface, "type", "bridge")
        netns.address(self.name, interface, f"{first}/{hotspot.client_subnet.prefixlen}")

    def close(self) -> None:
        if self.sshd is not None:
            self.sshd.close()
        if self.holder is not None:
            self.holder.close()
        netns.delete_namespace(self.name)


async def linux_gateways_component(lab) -> None:  # type: ignore[no-untyped-def]
    """The lab component: every `linux` device of the inventory as a real namespace."""
    gateways: list[RealGateway] = []
    try:
        for device in lab.inventory.devices.values():
            if device.platform != "linux":
                continue
            try:
                gateways.append(await asyncio.to_thread(
                    RealGateway, device, lab.inventory, lab.secrets, lab.state_dir))
            except (OSError, RuntimeError) as exc:
                log.error("linux gateway %s: %s", device.name, exc)
        log.info("linux: %d real gateway(s) in network namespaces (%s)", len(gateways),
                 ", ".join(g.name for g in gateways))
        await asyncio.Event().wait()
    finally:
        for gateway in gateways:
            await asyncio.to_thread(gateway.close)


def ensure_keys(secrets_file: Path, inventory: Inventory) -> list[str]:
    """Put an SSH private key in every `linux` device's credential secret that holds none
    (the demo's `secrets init` made random passwords); return the secrets changed."""
    values = yaml.safe_load(secrets_file.read_text(encoding="utf-8")) or {}
    names = sorted({inventory.credential_profiles[d.credentials].password_secret
                    for d in inventory.devices.values() if d.platform == "linux"})
    changed = [n for n in names if KEY_MARK not in str(values.get(n, ""))]
    if not changed:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        for name in changed:
            key = netns.keypair(Path(tmp) / name)
            values[name] = key.read_text()
    write_secrets_file(secrets_file, values)
    return changed


def main(argv: list[str]) -> int:
    if argv != ["keys"]:
        print("usage: python -m lab.linux_gateways keys", file=sys.stderr)
        return 2
    settings = get_settings()
    secrets_file = settings.resolved_secrets_file()
    if secrets_file is None:
        print("error: no secrets file (run `simpul secrets init` first)", file=sys.stderr)
        return 1
    inventory = load_inventory(settings.inventory_dir, SecretStore.load(secrets_file))
    for name in ensure_keys(secrets_file, inventory):
        print(f"lab: secret {name}: an SSH key for the real Linux gateways")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
