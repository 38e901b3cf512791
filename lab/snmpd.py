"""Start and stop real net-snmp `snmpd` agents in a private directory (lab, tests, bench).

Each agent gets its own config, persistent dir and log under `workdir`; MIB loading is off
(numeric OIDs only), so no warnings about missing MIB files and a fast start.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class V3User:
    name: str
    auth_key: str
    priv_key: str
    auth_protocol: str = "SHA"
    priv_protocol: str = "AES"


@dataclass(frozen=True)
class SnmpdSpec:
    listen: Sequence[str]  # e.g. ["udp:127.0.0.10:1161"]
    communities: Sequence[str] = ()
    v3_users: Sequence[V3User] = ()
    view_oids: Sequence[str] = (".1",)  # what the communities and users may read
    hidden_oids: Sequence[str] = ()  # subtrees left out of that view
    extra: Sequence[str] = field(default_factory=tuple)  # e.g. pass_persist lines
    exclude_modules: Sequence[str] = ()  # snmpd -I -name,... (mib modules to leave out)


def snmpd_env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(MIBS="", MIBDIRS=str(workdir / "no-mibs"), SNMP_PERSISTENT_DIR=str(workdir),
               SNMPCONFPATH=str(workdir))
    return env


def write_config(workdir: Path, spec: SnmpdSpec) -> Path:
    lines = ["# written by simpul lab/snmpd.py", "sysDescr simpul lab agent",
             "sysLocation simpul lab"]
    for oid in spec.view_oids:
        lines.append(f"view simpulview included {oid}")
    for oid in spec.hidden_oids:
        lines.append(f"view simpulview excluded {oid}")
    for community in spec.communities:
        lines.append(f"rocommunity {community} default -V simpulview")
    for user in spec.v3_users:
        lines.append(f"createUser {user.name} {user.auth_protocol} {user.auth_key} "
                     f"{user.priv_protocol} {user.priv_key}")
        lines.append(f"rouser {user.name} priv -V simpulview")
    lines.extend(spec.extra)
    path = workdir / "snmpd.conf"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def snmpd_command(workdir: Path, spec: SnmpdSpec, netns: str | None = None) -> list[str]:
    binary = shutil.which("snmpd") or "/usr/sbin/snmpd"
    cmd = [binary, "-f", "-Lf", str(workdir / "snmpd.log"), "-C", "-c",
           str(workdir / "snmpd.conf"), "-p", str(workdir / "snmpd.pid")]
    if spec.exclude_modules:  # snmpd(8): "-I -a,b,c": one minus for the whole list
        cmd += ["-I", "-" + ",".join(spec.exclude_modules)]
    cmd.append(",".join(spec.listen))
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    return cmd


def start_snmpd(workdir: Path, spec: SnmpdSpec, netns: str | None = None,
                timeout_s: float = 10.0) -> subprocess.Popen[bytes]:
    """Start snmpd in the foreground (a child we own) and wait until it has bound its ports."""
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o700)
    write_config(workdir, spec)
    log = workdir / "snmpd.log"
    log.unlink(missing_ok=True)
    proc = subprocess.Popen(snmpd_command(workdir, spec, netns), env=snmpd_env(workdir),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            text = log.read_text() if log.exists() else ""
            raise RuntimeError(f"snmpd exited with {proc.returncode}: {text[-500:]}")
        if log.exists() and "NET-SNMP version" in log.read_text():
            return proc
        time.sleep(0.05)
    stop_snmpd(proc)
    raise RuntimeError(f"snmpd did not start within {timeout_s} s (see {log})")


def stop_snmpd(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGCONT)  # a test may have stopped it
        proc.terminate()
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass
