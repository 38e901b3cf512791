"""Real snmpd in a network namespace: known traffic through veth interfaces, then the exported
byte counters of `simpul poll --once` are checked against `snmpget` of the same OIDs and against
the kernel's own counters, over SNMPv2c and SNMPv3 (authPriv SHA/AES).

Topology (all namespaces made and removed here; addresses exist only inside them):
  mgr ns  m0 198.18.N.1/29 --- 198.18.N.2,3/29 mg0  agent ns (snmpd)  data0 198.19.N.1/30
                                                                  |
  peer ns data1 198.19.N.2/30 ------------------------------------+
"""

from __future__ import annotations

import os
import random
import secrets as pysecrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from lab.snmpd import SnmpdSpec, V3User, snmpd_env, start_snmpd, stop_snmpd
from tests.conftest import require_root

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SIMPUL = [sys.executable, "-m", "controller.cli"]
HC_IN = "1.3.6.1.2.1.31.1.1.1.6"
HC_OUT = "1.3.6.1.2.1.31.1.1.1.10"
HIGH_SPEED = "1.3.6.1.2.1.31.1.1.1.15"


def sh(*args: str, ns: str | None = None, check: bool = True) -> str:
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=60).stdout


@dataclass
class Lab:
    mgr: str
    agent: str
    peer: str
    agent_mgmt: str  # a second address, .3 instead of .2, reaches the same agent
    agent_data: str
    community: str
    user: V3User
    workdir: Path


SITE = {
    "code": "lab", "name": "Lab site", "kind": "sopd", "address": "Jl. Uji 1",
    "lat": -1.9, "lon": 113.7, "timezone": "Asia/Jakarta",
    "contact": {"name": "Uji"}, "allocation": "20M/10M",
}


def write_inventory(directory: Path, devices: list[dict[str, object]]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "inventory.yaml").write_text(yaml.safe_dump({
        "sites": [SITE],
        "devices": devices,
        "credential_profiles": [{"name": "lab", "username": "u", "password_secret": "lab_pw"}],
        "snmp_profiles": [
            {"name": "lab-v2c", "version": "v2c", "community_secret": "lab_community"},
            {"name": "lab-v3", "version": "v3", "username": "simpullab", "auth_protocol": "SHA",
             "auth_secret": "lab_auth", "priv_protocol": "AES", "priv_secret": "lab_priv"},
        ],
    }))


def write_secrets(path: Path, values: dict[str, str]) -> None:
    path.write_text(yaml.safe_dump(values))
    path.chmod(0o600)


@pytest.fixture
def netns_lab(tmp_path: Path) -> Iterator[Lab]:
    require_root()
    suffix = pysecrets.token_hex(3)
    n = random.randint(1, 250)
    names = {k: f"simpul-{k}-{suffix}" for k in ("mgr", "agent", "peer")}
    proc = None
    try:
        for ns in names.values():
            sh("ip", "netns", "add", ns)
            sh("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", ns=ns)
            sh("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1", ns=ns)
            sh("ip", "link", "set", "lo", "up", ns=ns)
        sh("ip", "link", "add", "m0", "netns", names["mgr"], "type", "veth",
           "peer", "name", "mg0", "netns", names["agent"])
        sh("ip", "link", "add", "data0", "netns", names["agent"], "type", "veth",
           "peer", "name", "data1", "netns", names["peer"])
        for ns, dev, addr in ((names["mgr"], "m0", f"198.18.{n}.1/29"),
                              (names["agent"], "mg0", f"198.18.{n}.2/29"),
                              (names["agent"], "data0", f"198.19.{n}.1/30"),
                              (names["peer"], "data1", f"198.19.{n}.2/30")):
            sh("ip", "addr", "add", addr, "dev", dev, ns=ns)
            sh("ip", "link", "set", dev, "up", ns=ns)
        sh("ip", "addr", "add", f"198.18.{n}.3/29", "dev", "mg0", ns=names["agent"])
        # Static neighbours: no ARP may cross data0 while the test counts its bytes.
        for ns, dev, other_ns, other_dev, other_addr in (
                (names["agent"], "data0", names["peer"], "data1", f"198.19.{n}.2"),
                (names["peer"], "data1", names["agent"], "data0", f"198.19.{n}.1")):
            mac = sh("cat", f"/sys/class/net/{other_dev}/address", ns=other_ns).strip()
            sh("ip", "neigh", "replace", other_addr, "lladdr", mac, "dev", dev,
               "nud", "permanent", ns=ns)
        user = V3User("simpullab", pysecrets.token_hex(8), pysecrets.token_hex(8))
        community = pysecrets.token_hex(8)
        workdir = tmp_path / "snmpd"
        proc = start_snmpd(workdir, SnmpdSpec(listen=[f"udp:198.18.{n}.2:161",
                                                      f"udp:198.18.{n}.3:161"],
                                              communities=[community], v3_users=[user]),
                           netns=names["agent"])
        yield Lab(names["mgr"], names["agent"], names["peer"], f"198.18.{n}.2",
                  f"198.19.{n}.1", community, user, workdir)
    finally:
        if proc is not None:
            stop_snmpd(proc)
        for ns in names.values():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def kernel_counter(lab: Lab, dev: str, name: str) -> int:
    return int(sh("cat", f"/sys/class/net/{dev}/statistics/{name}", ns=lab.agent))


def snmpget(lab: Lab, oid: str, v3: bool = False) -> int:
    auth = (["-v3", "-l", "authPriv", "-u", lab.user.name, "-a", "SHA", "-A", lab.user.auth_key,
             "-x", "AES", "-X", lab.user.priv_key] if v3 else ["-v2c", "-c", lab.community])
    out = subprocess.run(["ip", "netns", "exec", lab.mgr, "snmpget", "-Oqv", "-t", "2", *auth,
                          lab.agent_mgmt, oid], capture_output=True, text=True, check=True,
                         env=snmpd_env(lab.workdir), timeout=30).stdout
    return int(out.split()[0])


def poll_once(lab: Lab, inventory: Path, secrets_file: Path) -> dict[tuple[str, str], float]:
    """Run `simpul poll --once` inside the manager namespace; samples by (name, device:iface)."""
    env = {**os.environ, "SIMPUL_SECRETS_FILE": str(secrets_file), "SIMPUL_SNMP_TIMEOUT_S": "2"}
    out = subprocess.run(["ip", "netns", "exec", lab.mgr, *SIMPUL, "poll", "--once",
                          "--inventory", str(inventory), "--no-probes"],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    samples: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(out.stdout):
        for s in family.samples:
            key = f"{s.labels.get('device', '')}:{s.labels.get('interface', '')}"
            samples[(s.name, key)] = s.value
    return samples


def test_counters_match_snmpget_and_kernel_over_v2c_and_v3(netns_lab: Lab, tmp_path: Path):
    lab = netns_lab
    inventory = tmp_path / "inventory"
    base = {"site": "lab", "platform": "linux", "role": "router", "credentials": "lab",
            "mgmt_address": lab.agent_mgmt, "snmp_port": 161}
    write_inventory(inventory, [{**base, "name": "agent-v2c", "snmp": "lab-v2c"},
                                {**base, "name": "agent-v3", "snmp": "lab-v3",
                                 "mgmt_address": lab.agent_mgmt.rsplit(".", 1)[0] + ".3"}])
    secrets_file = tmp_path / "secrets.yaml"
    write_secrets(secrets_file, {"lab_pw": "x", "lab_community": lab.community,
                                 "lab_auth": lab.user.auth_key, "lab_priv": lab.user.priv_key})
    index = int(sh("cat", "/sys/class/net/data0/ifindex", ns=lab.agent))

    # Known traffic through data0: 40 echo requests of 1200 bytes each way.
    before_rx = kernel_counter(lab, "data0", "rx_bytes")
    sh("ping", "-q", "-c", "40", "-i", "0.01", "-s", "1200", lab.agent_data, ns=lab.peer)
    rx = kernel_counter(lab, "data0", "rx_bytes")
    tx = kernel_counter(lab, "data0", "tx_bytes")
    assert rx - before_rx >= 40 * 1228  # ICMP payload + headers, at least

    # snmpd caches interface counters for a few seconds: wait until it shows the kernel's.
    deadline = time.monotonic() + 30
    while snmpget(lab, f"{HC_IN}.{index}") != rx and time.monotonic() < deadline:
        time.sleep(0.5)

    samples = poll_once(lab, inventory, secrets_file)
    for device, v3 in (("agent-v2c", False), ("agent-v3", True)):
        key = f"{device}:data0"
        assert samples[("simpul_device_up", f"{device}:")] == 1
        assert samples[("simpul_interface_receive_bytes_total", key)] == rx
        assert samples[("simpul_interface_transmit_bytes_total", key)] == tx
        assert snmpget(lab, f"{HC_IN}.{index}", v3=v3) == rx
        assert snmpget(lab, f"{HC_OUT}.{index}", v3=v3) == tx
        assert samples[("simpul_interface_speed_bits_per_second", key)] == \
            snmpget(lab, f"{HIGH_SPEED}.{index}", v3=v3) * 1_000_000
        assert samples[("simpul_interface_up", key)] == 1
        assert kernel_counter(lab, "data0", "rx_bytes") == rx  # nothing else crossed data0


def test_wrong_v3_key_is_reported_down_and_exit_nonzero(netns_lab: Lab, tmp_path: Path):
    lab = netns_lab
    inventory = tmp_path / "inventory"
    write_inventory(inventory, [{"name": "agent-v3", "site": "lab", "platform": "linux",
                                 "role": "router", "credentials": "lab", "snmp": "lab-v3",
                                 "mgmt_address": lab.agent_mgmt, "snmp_port": 161}])
    secrets_file = tmp_path / "secrets.yaml"
    write_secrets(secrets_file, {"lab_pw": "x", "lab_community": "c",
                                 "lab_auth": "wrong-auth-key", "lab_priv": lab.user.priv_key})
    env = {**os.environ, "SIMPUL_SECRETS_FILE": str(secrets_file), "SIMPUL_SNMP_TIMEOUT_S": "1",
           "SIMPUL_SNMP_RETRIES": "0"}
    out = subprocess.run(["ip", "netns", "exec", lab.mgr, *SIMPUL, "poll", "--once",
                          "--inventory", str(inventory), "--no-probes"],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 1
    assert "agent-v3" in out.stderr and "down" in out.stderr
    assert "wrong-auth-key" not in out.stderr + out.stdout


def test_probes_measure_loss_and_rtt_and_silent_device_is_down(netns_lab: Lab, tmp_path: Path):
    """ICMP probes (scapy, one sr() for all) to the agent's address and to a free address of
    the namespace's subnet; the silent one is down and loses every echo, the other polls."""
    lab = netns_lab
    ghost = lab.agent_mgmt.rsplit(".", 1)[0] + ".5"  # inside 198.18.N.0/29, nobody there
    inventory = tmp_path / "inventory"
    base = {"site": "lab", "platform": "linux", "role": "router", "credentials": "lab",
            "snmp": "lab-v2c", "snmp_port": 161}
    write_inventory(inventory, [{**base, "name": "agent", "mgmt_address": lab.agent_mgmt},
                                {**base, "name": "ghost", "mgmt_address": ghost}])
    secrets_file = tmp_path / "secrets.yaml"
    write_secrets(secrets_file, {"lab_pw": "x", "lab_community": lab.community,
                                 "lab_auth": "a" * 8, "lab_priv": "p" * 8})
    env = {**os.environ, "SIMPUL_SECRETS_FILE": str(secrets_file), "SIMPUL_SNMP_TIMEOUT_S": "1",
           "SIMPUL_SNMP_RETRIES": "0", "SIMPUL_PROBE_COUNT": "4"}
    out = subprocess.run(["ip", "netns", "exec", lab.mgr, *SIMPUL, "poll", "--once",
                          "--inventory", str(inventory)],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr  # one device answered
    assert "ghost" in out.stderr and "down" in out.stderr
    samples = {(s.name, s.labels.get("device")): s.value
               for family in text_string_to_metric_families(out.stdout)
               for s in family.samples}
    assert samples[("simpul_device_up", "agent")] == 1
    assert samples[("simpul_device_up", "ghost")] == 0
    assert samples[("simpul_probe_loss_ratio", "agent")] == 0
    assert 0 < samples[("simpul_probe_rtt_seconds", "agent")] < 1
    assert samples[("simpul_probe_loss_ratio", "ghost")] == 1
    assert ("simpul_probe_rtt_seconds", "ghost") not in samples
