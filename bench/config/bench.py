"""bench/config: rendering at scale, and pushing to many lab devices against bare netmiko.

1. Render the intended config of 10,000 office routers (copies of a demo device), target <= 2 s.
2. Push to 200 simulated RouterOS devices (ssh_sim on 127.2.x.y) at concurrency 50, then push
   again (unchanged: fetch + diff only). Baseline: bare netmiko connect + disconnect to the same
   devices at the same concurrency, which is the floor any netmiko-based push pays. Goals
   (issue #17): changed <= 1.5x the baseline of the same run, unchanged <= 1.2x.
Run: `uv run python bench/config/bench.py [--render 10000] [--devices 200] [--concurrency 50]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from controller.configs import render_intended_config  # noqa: E402
from controller.devices import build_target  # noqa: E402
from controller.inventory import check_inventory, load_inventory  # noqa: E402
from controller.jobs import ConfigJobs  # noqa: E402
from controller.secrets import SecretStore, generate_missing  # noqa: E402


def bench_render(count: int, secrets_path: Path) -> tuple[float, int]:
    secrets = SecretStore.load(secrets_path)
    inventory = load_inventory(ROOT / "inventory", secrets)
    template = inventory.devices["setda-r1"]
    devices = [template.model_copy(update={"name": f"bench-r{i}"}) for i in range(count)]
    render_intended_config(inventory, template, secrets)  # warm the template cache
    start = time.perf_counter()
    size = 0
    for device in devices:
        size += len(render_intended_config(inventory, device, secrets))
    return time.perf_counter() - start, size


def _address(i: int) -> str:
    return f"127.2.{i // 250}.{i % 250 + 1}"


def _lab(tmp: Path, secrets_path: Path, count: int) -> tuple[subprocess.Popen[bytes], Path,
                                                                dict[str, str], int]:
    inventory = tmp / "inventory"
    shutil.copytree(ROOT / "inventory", inventory)
    port = random.randint(20000, 60000)
    devices = inventory / "devices.yaml"
    # Keep only the bench devices: the demo's own stay off the lab to leave 127.0.0.x alone.
    text = "devices:\n" + "".join(
        f"- name: bench-r{i}\n  site: setda\n  group: office-mikrotik\n"
        f"  mgmt_address: {_address(i)}\n  mgmt_port: {port}\n" for i in range(count))
    demo = devices.read_text()
    keep = re.findall(r"^- name: (\S+)", demo, re.M)
    devices.write_text(text)
    # Links and hotspots name demo devices; drop them in this copy.
    (inventory / "links.yaml").write_text("links: []\n")
    (inventory / "hotspots.yaml").write_text("hotspots: []\n")
    (inventory / "contracts.yaml").write_text("contracts: []\nmaintenance: []\n")
    del keep
    env = {**os.environ, "SIMPUL_DATA_DIR": str(tmp / "data"),
           "SIMPUL_INVENTORY_DIR": str(inventory), "SIMPUL_SECRETS_FILE": str(secrets_path),
           "SIMPUL_LOG_LEVEL": "warning", "PYTHONPATH": str(ROOT)}
    log = open(tmp / "lab.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "controller.cli", "lab", "up", "--only",
                             "ssh_sim"], cwd=ROOT, env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    last = (_address(count - 1), port)
    while time.monotonic() < deadline:
        try:
            socket.create_connection(last, timeout=1).close()
            break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        raise SystemExit("lab did not start: " + (tmp / "lab.log").read_text())
    return proc, inventory, env, port


def bench_push(count: int, concurrency: int, secrets_path: Path) -> dict[str, float]:
    from netmiko import ConnectHandler

    with tempfile.TemporaryDirectory(prefix="simpul-bench-config-") as tmpdir:
        tmp = Path(tmpdir)
        proc, inventory_dir, env, _port = _lab(tmp, secrets_path, count)
        try:
            # The engineer trusts the devices' host keys first; both sides below check them.
            subprocess.run([sys.executable, "-m", "controller.cli", "devices", "trust", "--all"],
                           cwd=ROOT, env=env, check=True, capture_output=True)
            known_hosts = str(tmp / "data" / "known_hosts")
            secrets = SecretStore.load(secrets_path)
            inventory = load_inventory(inventory_dir, secrets)
            devices = list(inventory.devices.values())
            targets = [build_target(inventory, d, secrets) for d in devices]

            # The floor loads only the device's own pinned key, as the push does: loading the
            # whole file for each of N sessions is O(N^2) and would flatter the ratio.
            import paramiko

            every = paramiko.HostKeys(known_hosts)
            own: dict[str, str] = {}
            for t in targets:
                entry = f"[{t.host}]:{t.port}"
                only = paramiko.HostKeys()
                for kind, key in (every.lookup(entry) or {}).items():
                    only.add(entry, kind, key)
                own[t.host] = str(tmp / f"known_hosts.{t.host}")
                only.save(own[t.host])

            def bare(target) -> None:  # type: ignore[no-untyped-def]
                conn = ConnectHandler(device_type="mikrotik_routeros", host=target.host,
                                      port=target.port, username=target.username,
                                      password=target.password, ssh_strict=True,
                                      alt_host_keys=True, alt_key_file=own[target.host])
                conn.disconnect()

            start = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(bare, targets))
            baseline = time.perf_counter() - start

            jobs = ConfigJobs(inventory, secrets, tmp / "data", concurrency=concurrency)
            start = time.perf_counter()
            first = asyncio.run(jobs.run(jobs.push_one, devices))
            push = time.perf_counter() - start
            start = time.perf_counter()
            second = asyncio.run(jobs.run(jobs.push_one, devices))
            again = time.perf_counter() - start
            statuses = {r.status for r in first}, {r.status for r in second}
            if statuses != ({"changed"}, {"unchanged"}):
                errors = [r.error for r in first + second if r.error][:3]
                raise SystemExit(f"unexpected results {statuses}: {errors}")
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
    return {"baseline": baseline, "push": push, "again": again}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--render", type=int, default=10_000)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        secrets_path = Path(tmpdir) / "secrets.yaml"
        inventory, _ = check_inventory(ROOT / "inventory")
        generate_missing(secrets_path, inventory.secret_names())
        render_s, size = bench_render(args.render, secrets_path)
        push = bench_push(args.devices, args.concurrency, secrets_path)
    n, c = args.devices, args.concurrency
    rows = [
        (f"render {args.render} devices", f"{render_s:.2f} s",
         f"{args.render / render_s:,.0f} devices/s, {size / 1e6:.1f} MB", "<= 2 s"),
        (f"bare netmiko connect+disconnect x{n} @{c}", f"{push['baseline']:.2f} s", "1.00x",
         "baseline"),
        (f"push x{n} @{c} (changed)", f"{push['push']:.2f} s",
         f"{push['push'] / push['baseline']:.2f}x", "<= 1.50x"),
        (f"push x{n} @{c} again (unchanged)", f"{push['again']:.2f} s",
         f"{push['again'] / push['baseline']:.2f}x", "<= 1.20x"),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    header = ("measurement", "time", "ratio / rate", "target")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    for row in (header, *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
