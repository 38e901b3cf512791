"""End to end in network namespaces: citizen -> gateway (nftables + sshd) -> NOC -> internet.

The test builds four namespaces joined by veth pairs, loads the rendered gateway template into
the gateway's nftables, starts a real sshd there (root by a key made for the test), runs the
controller (`simpul serve --only portal` and `--only poller`) in the NOC namespace and an HTTP
server answering the OS-probe hosts in the internet namespace. The citizen is curl.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from controller.hotspot_gateway import gateway_template_context, render_gateway_files
from controller.inventory import load_inventory
from controller.secrets import SecretStore
from tests.conftest import ROOT, require_root

pytestmark = pytest.mark.integration

CLIENT_SUBNET = "10.77.0.0/24"
CITIZEN_IP, GW_CLIENT_IP = "10.77.0.10", "10.77.0.1"
GW_UPLINK, NOC_DOWN = "10.78.1.1", "10.78.1.2"
# The internet is outside the protected ranges (the backbone's 10/8 is one): TEST-NET-3.
NOC_UP, INTERNET = "203.0.113.1", "203.0.113.2"
PORTAL = f"http://{NOC_DOWN}:8080"
MSN = "https://go.microsoft.com/fwlink/?LinkID=219472&clcid=0x409"
FIREFOX_CANONICAL = ('<meta http-equiv="refresh" '
                     'content="0;url=https://support.mozilla.org/kb/captive-portal"/>')
# Every common OS probe and the answer the real endpoint gives when the internet is reached
# (status, body, a header the client checks). Sources:
# - Android NetworkMonitor (frameworks/base, packages/modules/NetworkStack): default HTTP URL
#   http://connectivitycheck.gstatic.com/generate_204, fallback http://www.google.com/gen_204;
#   validated only by 204 (isDnsOrHttpProbeSuccess); a 3xx with Location is a portal.
# - Apple captive network assistant: captive.apple.com/hotspot-detect.html answers the
#   "Success" page below; anything else opens the login sheet.
# - Microsoft NCSI ("Captive portals", Windows hardware docs): connecttest.txt on
#   www.msftconnecttest.com and ipv6.msftconnecttest.com is "Microsoft Connect Test";
#   /redirect sends the browser to MSN when online, to the portal when captive.
# - Firefox (network.captive-portal-service, captivedetect.canonicalURL/canonicalContent):
#   detectportal.firefox.com/canonical.html and /success.txt ("success").
# - NetworkManager (nm-connectivity.c): online when the header X-NetworkManager-Status:
#   online is present, else when the body starts with "NetworkManager is online";
#   nmcheck.gnome.org/check_network_status.txt (GNOME, Fedora), and Ubuntu's
#   connectivity-check.ubuntu.com (20-connectivity-ubuntu.conf), which answers 204 + header.
# - ChromeOS shill ("Network Portal Detection", chromium.org design docs):
#   clients3.google.com/generate_204, 204 when online.
# - Samsung: Samsung's Android builds probe connectivitycheck.gstatic.com like Android, and
#   connectivity.samsung.com.cn/generate_204 in China; 204 when online.
PROBES: list[tuple[str, str, str, str]] = [
    ("http://connectivitycheck.gstatic.com/generate_204", "204", "", ""),
    ("http://www.google.com/gen_204", "204", "", ""),
    ("http://captive.apple.com/hotspot-detect.html", "200",
     "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>", ""),
    ("http://www.msftconnecttest.com/connecttest.txt", "200", "Microsoft Connect Test", ""),
    ("http://www.msftconnecttest.com/redirect", "302", "", f"location: {MSN}"),
    ("http://ipv6.msftconnecttest.com/connecttest.txt", "200", "Microsoft Connect Test", ""),
    ("http://detectportal.firefox.com/canonical.html", "200", FIREFOX_CANONICAL, ""),
    ("http://detectportal.firefox.com/success.txt", "200", "success\n", ""),
    ("http://nmcheck.gnome.org/check_network_status.txt", "200", "NetworkManager is online\n",
     "x-networkmanager-status: online"),
    ("http://connectivity-check.ubuntu.com/", "204", "", "x-networkmanager-status: online"),
    ("http://clients3.google.com/generate_204", "204", "", ""),
    ("http://connectivity.samsung.com.cn/generate_204", "204", "", ""),
]
PROBE_HOSTS = sorted({url.split("/")[2] for url, *_ in PROBES} | {"internet.test"})
RATE_DOWN_BPS = 8_000_000  # client_rate 8M/4M
QUOTA_BYTES = 8_000_000

INTERNET_SERVER = textwrap.dedent('''
    import sys, threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    MSN, CANONICAL = sys.argv[1], sys.argv[2].encode()
    # (status, body, extra headers) by host + path, then by path alone.
    PAGES = {"/generate_204": (204, b"", {}), "/gen_204": (204, b"", {}),
             "/hotspot-detect.html": (200, b"<HTML><HEAD><TITLE>Success</TITLE></HEAD>"
                                           b"<BODY>Success</BODY></HTML>", {}),
             "/connecttest.txt": (200, b"Microsoft Connect Test", {}),
             "/redirect": (302, b"", {"Location": MSN}),
             "/canonical.html": (200, CANONICAL, {}),
             "/success.txt": (200, b"success\\n", {}),
             "/check_network_status.txt": (200, b"NetworkManager is online\\n",
                                           {"X-NetworkManager-Status": "online"}),
             "connectivity-check.ubuntu.com/": (204, b"", {"X-NetworkManager-Status": "online"}),
             "/": (200, b"internet", {})}
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *a): pass
        def do_GET(self):
            if self.path.startswith("/big/"):
                size = int(self.path.split("/")[2])
                self.send_response(200); self.send_header("Content-Length", str(size))
                self.end_headers()
                chunk = b"x" * 65536
                while size > 0:
                    n = min(size, len(chunk)); self.wfile.write(chunk[:n]); size -= n
                return
            host = (self.headers.get("Host") or "").split(":")[0]
            code, body, headers = PAGES.get(host + self.path) or PAGES.get(
                self.path, (404, b"no", {}))
            self.send_response(code)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers(); self.wfile.write(body)
    servers = [ThreadingHTTPServer(("0.0.0.0", p), H) for p in (80, 443)]
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    servers[0].serve_forever()
''')


def sh(*args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result


def wait_until(what: str, check: Callable[[], bool], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for: {what}")


@dataclass
class Lab:
    tmp: Path
    suffix: str
    citizen: str
    gateway: str
    noc: str
    internet: str
    env: dict[str, str]
    db: Path
    outbox: Path
    procs: dict[str, subprocess.Popen[str]]

    def ns(self, name: str, *args: str, check: bool = True,
           timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return sh("ip", "netns", "exec", name, *args, check=check, timeout=timeout)

    def curl(self, url: str, *extra: str, timeout: float = 5) -> tuple[int, str, str]:
        """(curl exit code, HTTP status, redirect URL) as the citizen sees them."""
        result = self.ns(self.citizen, "curl", "-s", "-o", "/dev/null", "--max-time",
                         str(timeout), "--connect-timeout", "3", "-w",
                         "%{http_code} %{redirect_url}", *extra, url, check=False,
                         timeout=timeout + 5)
        code, _, redirect = result.stdout.partition(" ")
        return result.returncode, code, redirect.strip()

    def fetch(self, url: str) -> tuple[str, dict[str, str], str]:
        """(HTTP status, headers by lower-case name, body) as the citizen gets them."""
        out = self.ns(self.citizen, "curl", "-s", "-i", "--max-time", "5", url,
                      check=False, timeout=10).stdout
        head, _, body = out.partition("\n\n")  # text mode: CRLF reads as LF
        lines = head.split("\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:])}
        return (lines[0].split() + ["", ""])[1], headers, body

    def citizen_get(self, url: str, *extra: str) -> str:
        return self.ns(self.citizen, "curl", "-s", "--max-time", "10", *extra, url).stdout

    def probe(self) -> tuple[str, str]:
        _, code, redirect = self.curl("http://connectivitycheck.gstatic.com/generate_204")
        return code, redirect

    def start_controller(self) -> None:
        for part in ("portal", "poller"):
            log = open(self.tmp / f"serve-{part}.log", "a")  # noqa: SIM115
            self.procs[part] = subprocess.Popen(
                ["ip", "netns", "exec", self.noc, sys.executable, "-m", "controller.cli",
                 "serve", "--only", part], cwd=ROOT, env=self.env, stdout=log,
                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            wait_until("the portal answers", lambda: self.ns(
                self.noc, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                f"{PORTAL}/healthz", check=False).stdout == "200", 120)
        except AssertionError:
            log = (self.tmp / "serve-portal.log").read_text()[-3000:]
            raise AssertionError(f"the portal did not answer; its log ends:\n{log}") from None

    def stop_controller(self) -> None:
        for name in ("portal", "poller"):
            proc = self.procs.pop(name, None)
            if proc is None:
                continue
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def simpul(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.noc, sys.executable, "-m", "controller.cli", *args],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=60)

    def sessions(self) -> list[dict[str, object]]:
        with sqlite3.connect(self.db) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute("SELECT * FROM portal_sessions ORDER BY id")]

    def allowed_set(self) -> str:
        return self.ns(self.gateway, "nft", "list", "set", "inet", "simpul_portal",
                       "allowed").stdout


def _write_inventory(tmp: Path, key_file: Path, secrets_file: Path,
                     hotspot_changes: dict[str, object] | None = None) -> Path:
    target = tmp / "inventory"
    shutil.copytree(ROOT / "inventory", target)
    hotspots = yaml.safe_load((target / "hotspots.yaml").read_text())
    for hotspot in hotspots["hotspots"]:
        if hotspot["name"] == "taman-kota":
            hotspot.update({
                "client_subnet": CLIENT_SUBNET,
                "login_modes": ["click_through", "voucher", "phone_otp"],
                "session_timeout": "2h", "idle_timeout": "10m",
                "daily_quota": {"time": "4h", "bytes": QUOTA_BYTES},
                "client_rate": "8M/4M",
                **(hotspot_changes or {}),
            })
    (target / "hotspots.yaml").write_text(yaml.safe_dump(hotspots, sort_keys=False))
    devices = yaml.safe_load((target / "devices.yaml").read_text())
    for device in devices["devices"]:
        if device["name"] == "taman-kota-gw":
            device.update({"mgmt_address": GW_UPLINK, "mgmt_port": 22,
                           "credentials": "gw-e2e", "snmp": None,
                           "vars": {"client_interface": "g0"}})
            device.pop("snmp")
    (target / "devices.yaml").write_text(yaml.safe_dump(devices, sort_keys=False))
    profiles = yaml.safe_load((target / "profiles.yaml").read_text())
    profiles["credential_profiles"].append(
        {"name": "gw-e2e", "username": "root", "password_secret": "gw_e2e_ssh_key"})
    (target / "profiles.yaml").write_text(yaml.safe_dump(profiles, sort_keys=False))
    # The gateway's credential secret is the private key (an engineer's secrets file would
    # hold it the same way); the file stays mode 600.
    values = yaml.safe_load(secrets_file.read_text())
    values["gw_e2e_ssh_key"] = key_file.read_text()
    secrets_file.write_text(yaml.safe_dump(values, default_flow_style=False))
    return target


@pytest.fixture
def lab(tmp_path: Path, demo_secrets: Path) -> Iterator[Lab]:
    with portal_lab(tmp_path, demo_secrets) as built:
        yield built


@contextmanager
def portal_lab(tmp_path: Path, demo_secrets: Path, env: dict[str, str] | None = None,
               hotspot_changes: dict[str, object] | None = None) -> Iterator[Lab]:
    """The four namespaces with the controller running; `env` adds to or overrides its
    settings, `hotspot_changes` to taman-kota's inventory entry. Everything is removed after."""
    require_root()
    for tool in ("nft", "curl", "ssh-keygen"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    if not Path("/usr/sbin/sshd").exists():
        pytest.skip("OpenSSH server is not installed")
    suffix = secrets.token_hex(3)
    names = {role: f"sp{role[0]}-{suffix}" for role in ("citizen", "gateway", "noc", "internet")}
    hosts_dir = Path("/etc/netns") / names["citizen"]
    procs: dict[str, subprocess.Popen[str]] = {}
    lab: Lab | None = None
    try:
        for name in names.values():
            sh("ip", "netns", "add", name)
            sh("ip", "-n", name, "link", "set", "lo", "up")
        c, g, n, i = (names[r] for r in ("citizen", "gateway", "noc", "internet"))
        citizen_mac = "06:" + ":".join(secrets.token_hex(1) for _ in range(5))  # randomised
        sh("ip", "link", "add", "c0", "netns", c, "address", citizen_mac, "type", "veth",
           "peer", "name", "g0", "netns", g)
        sh("ip", "link", "add", "g1", "netns", g, "type", "veth", "peer", "name", "n0",
           "netns", n)
        sh("ip", "link", "add", "n1", "netns", n, "type", "veth", "peer", "name", "i0",
           "netns", i)
        for ns_name, dev, addr in ((c, "c0", f"{CITIZEN_IP}/24"), (g, "g0", f"{GW_CLIENT_IP}/24"),
                                   (g, "g1", f"{GW_UPLINK}/30"), (n, "n0", f"{NOC_DOWN}/30"),
                                   (n, "n1", f"{NOC_UP}/24"), (i, "i0", f"{INTERNET}/24")):
            sh("ip", "-n", ns_name, "addr", "add", addr, "dev", dev)
            sh("ip", "-n", ns_name, "link", "set", dev, "up")
        sh("ip", "-n", c, "route", "add", "default", "via", GW_CLIENT_IP)
        sh("ip", "-n", g, "route", "add", "default", "via", NOC_DOWN)
        sh("ip", "-n", n, "route", "add", CLIENT_SUBNET, "via", GW_UPLINK)
        sh("ip", "-n", n, "route", "add", "default", "via", INTERNET)
        sh("ip", "-n", i, "route", "add", "default", "via", NOC_UP)
        for ns_name in (g, n):
            sh("ip", "netns", "exec", ns_name, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        hosts_dir.mkdir(parents=True, exist_ok=True)
        # The probe hosts resolve to the fake internet; ipv6.msftconnecttest.com too, over
        # IPv4 (the hotspot is IPv4 only: its real AAAA-only probe gets nowhere, as Windows
        # expects of an IPv4-only network).
        (hosts_dir / "hosts").write_text("127.0.0.1 localhost\n" + "".join(
            f"{INTERNET} {host}\n" for host in PROBE_HOSTS))

        # Gateway: sshd for root by a key made for this test; nftables from the template.
        keys = tmp_path / "ssh"
        keys.mkdir()
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / "host"))
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / "client"))
        shutil.copy(keys / "client.pub", keys / "authorized_keys")
        Path("/run/sshd").mkdir(exist_ok=True)
        (keys / "sshd_config").write_text(textwrap.dedent(f"""\
            ListenAddress {GW_UPLINK}:22
            HostKey {keys / 'host'}
            PidFile {keys / 'sshd.pid'}
            AuthorizedKeysFile {keys / 'authorized_keys'}
            PermitRootLogin prohibit-password
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            StrictModes no
            MaxSessions 20
            MaxStartups 50
            """))
        procs["sshd"] = subprocess.Popen(
            ["ip", "netns", "exec", g, "/usr/sbin/sshd", "-D", "-e", "-f",
             str(keys / "sshd_config")], stdout=subprocess.DEVNULL,
            stderr=open(tmp_path / "sshd.log", "w"), start_new_session=True)  # noqa: SIM115
        inventory_dir = _write_inventory(tmp_path, keys / "client", demo_secrets,
                                         hotspot_changes)
        inventory = load_inventory(inventory_dir, SecretStore.load(demo_secrets))
        hotspot = inventory.hotspots["taman-kota"]
        files = render_gateway_files(gateway_template_context(
            hotspot, inventory.devices[hotspot.gateway], PORTAL))
        ruleset = tmp_path / "simpul_portal.nft"
        ruleset.write_text(files["/etc/nftables.d/simpul_portal.nft"])
        sh("ip", "netns", "exec", g, "nft", "-f", str(ruleset))

        procs["internet"] = subprocess.Popen(
            ["ip", "netns", "exec", i, sys.executable, "-c", INTERNET_SERVER, MSN,
             FIREFOX_CANONICAL],
            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "internet.log", "w"),  # noqa: SIM115
            start_new_session=True)

        data = tmp_path / "data"
        settings = {**os.environ,
                    "SIMPUL_DATA_DIR": str(data), "SIMPUL_INVENTORY_DIR": str(inventory_dir),
                    "SIMPUL_SECRETS_FILE": str(demo_secrets), "SIMPUL_PORTAL_URL": PORTAL,
                    "SIMPUL_PORTAL_LISTEN": "0.0.0.0:8080", "SIMPUL_ADMIN_LISTEN": "127.0.0.1:8000",
                    "SIMPUL_PORTAL_REAP_INTERVAL_S": "1", "SIMPUL_PORTAL_RECONCILE_INTERVAL_S": "2",
                    "SIMPUL_POLL_INTERVAL_S": "3600", "SIMPUL_PROBE_INTERVAL_S": "0",
                    "SIMPUL_PORTAL_SMS_OUTBOX": str(tmp_path / "outbox.jsonl"),
                    "SIMPUL_LOG_LEVEL": "info", **(env or {})}
        lab = Lab(tmp_path, suffix, c, g, n, i, settings, data / "simpul.db",
                  tmp_path / "outbox.jsonl", procs)
        # The engineer trusts the gateway's host key (port 22: known_hosts names it plainly).
        trusted = lab.simpul("devices", "trust", "taman-kota-gw", "--wait", "20")
        assert trusted.returncode == 0, trusted.stderr
        lab.start_controller()
        yield lab
    finally:
        if lab is not None:
            lab.stop_controller()
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        for name in names.values():
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        shutil.rmtree(hosts_dir, ignore_errors=True)


def open_sessions(lab: Lab) -> list[dict[str, object]]:
    return [s for s in lab.sessions() if s["ended_at"] is None]


def test_citizen_journey_through_a_real_nftables_gateway(lab: Lab) -> None:
    # -- before login: every probe is redirected; HTTPS and other traffic are rejected ----------
    for url in [*(p[0] for p in PROBES), "http://internet.test/some/page"]:
        rc, code, redirect = lab.curl(url)
        assert (rc, code, redirect) == (0, "302", f"{PORTAL}/login"), url
        assert "x-networkmanager-status" not in lab.fetch(url)[1], url
    rc, code, _ = lab.curl("http://internet.test:443/")
    assert rc == 7 and code == "000"  # connection refused: TCP reset from the gateway
    captive = json.loads(lab.citizen_get(f"{PORTAL}/api/captive"))
    assert captive["captive"] is True and captive["user-portal-url"] == f"{PORTAL}/login"
    page = lab.citizen_get("http://captive.apple.com/hotspot-detect.html", "-L")
    assert "Saya menyetujui syarat penggunaan" in page and len(page.encode()) < 50_000

    # -- click-through: a form POST answered by a full navigation to /success ---------------
    rc, code, redirect = lab.curl(f"{PORTAL}/login/click", "-d", "accept=yes")
    assert (code, redirect) == ("303", f"{PORTAL}/success?lang=id")
    assert lab.probe() == ("204", "")
    for url, status, body, header in PROBES:  # each OS now sees the real answer: online
        got = lab.fetch(url)
        assert (got[0], got[2]) == (status, body), (url, got)
        if header:
            name, _, value = header.partition(": ")
            assert got[1].get(name) == value, (url, got)
    assert lab.curl("http://internet.test:443/")[1] == "200"
    captive = json.loads(lab.citizen_get(f"{PORTAL}/api/captive"))
    assert captive["captive"] is False and 7000 < captive["seconds-remaining"] <= 7200
    [session] = open_sessions(lab)
    assert session["method"] == "click_through" and session["client_ip"] == CITIZEN_IP
    mac = str(session["client_mac"])
    assert int(mac.split(":")[0], 16) & 0x02  # the randomised (locally administered) MAC
    assert f"{CITIZEN_IP} . {mac}" in lab.allowed_set()

    # -- the per-client rate limit holds throughput near client_rate ------------------------
    # nft's byte limit starts with a full bucket (1 s of rate + burst), then holds the rate.
    size = 5_000_000
    out = lab.ns(lab.citizen, "curl", "-s", "-o", "/dev/null", "-w", "%{speed_download}",
                 "--max-time", "30", f"http://internet.test/big/{size}").stdout
    rate_bps = float(out) * 8
    assert 0.5 * RATE_DOWN_BPS < rate_bps < 1.5 * RATE_DOWN_BPS, rate_bps
    wait_until("accounting reads the gateway counters",
               lambda: int(lab.sessions()[0]["bytes_down"]) >= size, 60)  # type: ignore[call-overload]
    [counted] = lab.sessions()
    # Only what reached the citizen counts: IP and TCP headers add ~4%, but packets the rate
    # limit dropped (and TCP sent again) are not the citizen's use. Counting them once ended
    # this session by quota (8 MB) in CI.
    assert counted["ended_at"] is None, counted
    assert int(counted["bytes_down"]) < size * 1.10, counted  # type: ignore[call-overload]

    # -- a controller restart mid-session leaves the client authorised, the session intact --
    lab.stop_controller()
    # The probe may meet the per-client meter still draining the download above (seen once
    # under load as a dropped connection): retry briefly; a revoked client would get 302s.
    wait_until("the client stays authorised with the controller down",
               lambda: lab.probe() == ("204", ""), 15)
    lab.start_controller()
    assert lab.probe() == ("204", "")
    assert [s["id"] for s in open_sessions(lab)] == [session["id"]]

    # -- re-pushing the gateway's ruleset keeps the allowed clients ---------------------------
    lab.ns(lab.gateway, "nft", "-f", str(lab.tmp / "simpul_portal.nft"))
    assert lab.probe() == ("204", "")
    assert lab.allowed_set().count(CITIZEN_IP) == 1

    # -- a gateway set flushed by hand is restored by the reconciler -------------------------
    flushed = lab.ns(lab.gateway, "sh", "-c", "nft flush set inet simpul_portal allowed; "
                     "nft flush set inet simpul_portal allowed_down; "
                     "nft list set inet simpul_portal allowed").stdout
    assert CITIZEN_IP not in flushed
    wait_until("the reconciler restores the allowed set", lambda: lab.probe()[0] == "204", 45)

    # -- an engineer disconnects the session: blocked again ---------------------------------
    listed = lab.simpul("hotspot", "sessions", "--hotspot", "taman-kota")
    assert listed.returncode == 0 and str(session["id"]) in listed.stdout, listed.stderr
    result = lab.simpul("hotspot", "disconnect", str(session["id"]))
    assert result.returncode == 0, result.stderr
    assert lab.probe() == ("302", f"{PORTAL}/login")
    assert lab.curl("http://internet.test:443/")[0] == 7
    ended = lab.sessions()[0]
    assert ended["end_reason"] == "engineer" and ended["client_ip"] is None

    # -- voucher: a 30-second voucher; the session times out and the client is blocked ------
    made = lab.simpul("hotspot", "vouchers", "create", "--count", "1", "--duration", "30s",
                      "--hotspot", "taman-kota", "--batch", "e2e")
    assert made.returncode == 0, made.stderr
    code_text = re.search(r"\b[A-Z0-9]{4}-[A-Z0-9]{4}\b", made.stdout)
    assert code_text, made.stdout
    rc, code, _ = lab.curl(f"{PORTAL}/login/voucher", "-d", f"code={code_text.group(0)}",
                           "-d", "accept=yes")
    assert code == "303"
    assert lab.probe() == ("204", "")
    wait_until("the voucher session times out",
               lambda: lab.probe() == ("302", f"{PORTAL}/login"), 45)
    wait_until("the reaper ends it", lambda: lab.sessions()[-1]["end_reason"] == "timeout", 30)

    # -- phone + one-time code from the outbox; quota exhaustion ends the session -----------
    form = re.search(r'name="form_token" value="([^"]+)"', lab.citizen_get(f"{PORTAL}/login"))
    assert form, "the login page offers the OTP form with its token"
    sent = lab.citizen_get(f"{PORTAL}/login/otp/request", "-d", "phone=0812 1111 2222",
                           "-d", "accept=yes", "-d", f"form_token={form.group(1)}")
    assert "Kode telah dikirim" in sent
    message = json.loads(lab.outbox.read_text().splitlines()[-1])
    otp = re.search(r"\b(\d{6})\b", message["text"]).group(1)  # type: ignore[union-attr]
    rc, code, _ = lab.curl(f"{PORTAL}/login/otp/verify", "-d", "phone=081211112222",
                           "-d", f"code={otp}")
    assert code == "303"
    assert lab.probe() == ("204", "")
    phone_session = open_sessions(lab)[0]
    assert phone_session["phone_hash"] and "1111" not in str(phone_session["phone_hash"])
    download = subprocess.Popen(
        ["ip", "netns", "exec", lab.citizen, "curl", "-s", "-o", "/dev/null", "--max-time",
         "30", f"http://internet.test/big/{QUOTA_BYTES}"], start_new_session=True)
    try:
        wait_until("quota exhaustion ends the session",
                   lambda: lab.sessions()[-1]["end_reason"] == "quota", 45)
    finally:
        os.killpg(download.pid, signal.SIGTERM)
        download.wait(timeout=10)
    wait_until("the gateway blocks the client again",
               lambda: lab.probe() == ("302", f"{PORTAL}/login"), 30)
    rc, code, _ = lab.curl(f"{PORTAL}/login/click", "-d", "accept=yes")
    assert code == "403"  # the daily quota is used up
