"""Real Linux hosts on this machine: network namespaces with OpenSSH sshd and nftables.

The demo's Linux hotspot gateways (lab.linux_gateways) and the integration tests build their
gateways, citizens and NOCs with these. Root only (`ip netns`, mounts). Nothing here touches
the host's own network: every address lives inside a namespace, or is a loopback listener.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

SSHD = "/usr/sbin/sshd"


def available() -> str | None:
    """Why real gateways cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for tool in ("ip", "nft", "ssh-keygen", "nsenter", "unshare"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not Path(SSHD).exists():
        return "OpenSSH server is not installed"
    return None


def run(*args: str, ns: str | None = None, check: bool = True,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a command (inside namespace `ns` if given); on failure raise with its stderr."""
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def add_namespace(name: str) -> None:
    """A new network namespace with its loopback up (an old one of the same name is removed)."""
    delete_namespace(name)
    run("ip", "netns", "add", name)
    run("ip", "-n", name, "link", "set", "lo", "up")


def delete_namespace(name: str) -> None:
    subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)


def veth(ns_a: str, dev_a: str, ns_b: str, dev_b: str, mac_a: str | None = None) -> None:
    """A veth pair from `ns_a`/`dev_a` to `ns_b`/`dev_b`."""
    extra = ["address", mac_a] if mac_a else []
    run("ip", "link", "add", dev_a, "netns", ns_a, *extra, "type", "veth", "peer", "name",
        dev_b, "netns", ns_b)


def address(ns: str, dev: str, cidr: str) -> None:
    run("ip", "-n", ns, "addr", "add", cidr, "dev", dev)
    run("ip", "-n", ns, "link", "set", dev, "up")


def keypair(path: Path) -> Path:
    """An ed25519 key at `path` (kept if present) and `path`.pub; returns `path`."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path))
    return path


def sshd_config(directory: Path, host_key: Path, authorized_keys: Path,
                listen: str | None = None) -> Path:
    """sshd_config for root by key only (what Simpul's Linux driver logs in as)."""
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    config = directory / "sshd_config"
    config.write_text(
        (f"ListenAddress {listen}\n" if listen else "") +
        f"HostKey {host_key}\nAuthorizedKeysFile {authorized_keys}\n"
        "PermitRootLogin prohibit-password\nPubkeyAuthentication yes\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        f"StrictModes no\nPidFile none\nLogLevel ERROR\nPrintMotd no\n"
        "MaxSessions 20\nMaxStartups 50\n")
    return config


class MountHolder:
    """A process holding a namespace's own mount namespace, where /etc is an overlay whose
    writes land in `etc_dir`: the gateway's /etc/nftables.d, dnsmasq.d and sysctl.d are its
    own, as on a real machine, and the host's /etc is untouched."""

    def __init__(self, ns: str, etc_dir: Path):
        upper, work = (etc_dir / "upper").resolve(), (etc_dir / "work").resolve()
        upper.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        script = (f"mount -t overlay overlay -o lowerdir=/etc,upperdir={upper},"
                  f"workdir={work} /etc && echo ready && exec sleep infinity")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, "unshare", "--mount", "--propagation", "private",
             "sh", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            err = self.proc.stderr.read() if self.proc.stderr else ""
            self.close()
            raise RuntimeError(f"{ns}: cannot give the gateway its own /etc: {err.strip()}")

    def enter(self) -> list[str]:
        """The command prefix that runs a program in the holder's network and mount namespaces."""
        return ["nsenter", f"--target={self.proc.pid}", "--net", "--mount"]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class InetdSshd:
    """Accept on a loopback address and port; hand each connection to `sshd -i` run inside
    the namespace (inetd style): the controller reaches a namespace's real sshd on 127.x."""

    def __init__(self, ns: str, config: Path, host: str, port: int = 0,
                 holder: MountHolder | None = None):
        config = config.resolve()  # sshd runs with another working directory
        self.ns, self.config, self.holder = ns, config, holder
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.children: list[subprocess.Popen[bytes]] = []
        self.log_path = config.parent / "sshd.log"
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - open while children run
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _command(self) -> list[str]:
        prefix = self.holder.enter() if self.holder else ["ip", "netns", "exec", self.ns]
        return [*prefix, SSHD, "-i", "-f", str(self.config), "-E", str(self.log_path)]

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                child = subprocess.Popen(self._command(), stdin=conn.fileno(),
                                         stdout=conn.fileno(), stderr=self.log)
            except OSError:
                conn.close()
                continue
            conn.close()
            self.children = [c for c in self.children if c.poll() is None] + [child]

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        except OSError:
            pass
        self.sock.close()
        self.thread.join(timeout=5)
        for child in self.children:
            if child.poll() is None:
                child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self.log.close()
