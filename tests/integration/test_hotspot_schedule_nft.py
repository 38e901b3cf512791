"""The config engine's Linux hotspot gateway ruleset, with its scheduled site limits, loaded by
the real nft in a network namespace made here: the schedule matches packets at the site's local
day and hour whatever the zone of the kernel and of nft, reloading keeps the allowed clients,
and the lab's simulated gateway lists the table as real nft does."""

from __future__ import annotations

import ctypes
import json
import os
import random
import re
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from controller.configs import render_intended_config
from controller.hotspot_gateway import gateway_template_context, render_gateway_files
from controller.inventory import DAYS, ScheduleWindow, check_inventory
from controller.schedules import hotspot_schedule
from controller.secrets import SecretStore
from lab.ssh_sim.linux_nft import Ruleset
from tests.conftest import DEMO_INVENTORY, require_root

pytestmark = pytest.mark.integration


@pytest.fixture
def ns() -> Iterator[str]:
    require_root()
    name = f"simpul-hs-{random.randint(10**5, 10**6 - 1)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def _nft(ns: str, *args: str) -> str:
    env = {**os.environ, "TZ": "Asia/Jakarta"}  # the gateway's zone is the site's (WIB)
    done = subprocess.run(["ip", "netns", "exec", ns, "nft", *args], env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _gateway_ruleset(tmp_path: Path) -> Path:
    """The demo taman-kota gateway's nftables file, as the config engine renders it."""
    inventory = check_inventory(DEMO_INVENTORY)[0]
    secrets = SecretStore({n: f"value-of-{n}" for n in inventory.secret_names()}, {})
    text = render_intended_config(inventory, inventory.devices["taman-kota-gw"], secrets)
    ruleset = tmp_path / "simpul_portal.nft"
    ruleset.write_text(text.split("### file: /etc/nftables.d/simpul_portal.nft\n", 1)[1])
    return ruleset


def test_site_limits_load_in_real_nft_and_reload_keeps_clients(ns: str, tmp_path: Path) -> None:
    ruleset = _gateway_ruleset(tmp_path)
    _nft(ns, "-f", str(ruleset))
    _nft(ns, "add", "element", "inet", "simpul_portal", "allowed",
         "{ 10.200.0.20 . 02:00:00:00:00:01 timeout 1h }")
    _nft(ns, "-f", str(ruleset))  # a re-push
    assert "10.200.0.20 . 02:00:00:00:00:01" in _nft(ns, "list", "set", "inet", "simpul_portal",
                                                      "allowed")
    down = _nft(ns, "list", "chain", "inet", "simpul_portal", "client_down")
    site = [line.strip() for line in down.splitlines() if "ip daddr 10.200.0.0/22" in line]
    assert len(site) == 4, down
    office = next(line for line in site if "jam-kerja 50M" in line)
    # Listed by an nft in WIB: the UTC seconds of the rule read as the site's hours.
    assert re.search(r'meta hour "07:30"-"15:59:59" counter packets \d+ bytes \d+ '
                     r'limit rate over 6250000 bytes/second', office)
    weekend = next(line for line in site if "akhir-pekan" in line)
    assert '"Saturday"' in weekend and '"Sunday"' in weekend and "meta hour" not in weekend
    assert "18750000 bytes/second" in weekend  # 150M after the 300% of the schedule
    up = _nft(ns, "list", "chain", "inet", "simpul_portal", "client_up")
    assert len(re.findall(r"ip saddr 10\.200\.0\.0/22 .*limit rate over", up)) == 4


def _shape(listing: str) -> dict[str, object]:
    """What `nft -j list table` says of sets and chains, less handles, rules and the values that
    move with time (seconds left, counted bytes): which keys an element carries stays."""
    items = json.loads(listing)["nftables"]
    sets = {i["set"]["name"]: {
        **{k: v for k, v in i["set"].items() if k not in ("handle", "elem")},
        "elem": [{k: (v if k == "val" else type(v).__name__) for k, v in e["elem"].items()}
                 if isinstance(e, dict) and "elem" in e else e
                 for e in i["set"].get("elem", [])]}
        for i in items if "set" in i}
    chains = {i["chain"]["name"]: {k: v for k, v in i["chain"].items() if k != "handle"}
              for i in items if "chain" in i}
    tables = [i["table"]["name"] for i in items if "table" in i]
    return {"tables": tables, "sets": sets, "chains": chains}


def test_the_lab_simulator_lists_the_table_as_real_nft_does(ns: str, tmp_path: Path) -> None:
    """The portal reads both counters from one `nft -j list table`; the lab's simulated gateway
    must answer it in real nft's shape, with the same sets, elements and chains."""
    ruleset = _gateway_ruleset(tmp_path)
    client = "{ 10.200.0.20 . 02:00:00:00:00:01 timeout 1h }"
    _nft(ns, "-f", str(ruleset))
    _nft(ns, "add", "element", "inet", "simpul_portal", "allowed", client)
    _nft(ns, "add", "element", "inet", "simpul_portal", "allowed_down",
         "{ 10.200.0.20 timeout 1h }")
    real = _nft(ns, "-j", "list", "table", "inet", "simpul_portal")

    sim = Ruleset()
    sim.run(ruleset.read_text())
    sim.run(f"add element inet simpul_portal allowed {client}")
    sim.run("add element inet simpul_portal allowed_down { 10.200.0.20 timeout 1h }")
    simulated = sim.run("list table inet simpul_portal", json_output=True)
    assert _shape(simulated) == _shape(real)
    assert _shape(real)["sets"]["allowed"]["elem"] == [  # type: ignore[index]
        {"val": {"concat": ["10.200.0.20", "02:00:00:00:00:01"]}, "timeout": "int",
         "expires": "int", "counter": "dict"}]


# ------------------------------------------------------------------ matching at the site's clock

CITIZEN, GW_CLIENT = "10.200.0.20", "10.200.0.1"  # in the demo taman-kota client subnet
GW_UP, UPSTREAM = "203.0.113.1", "203.0.113.2"  # TEST-NET-3 (RFC 5737), inside namespaces only
WINDOW = "uji-zona"


def _kernel_minutes_west() -> int:
    """The kernel's own zone (sys_tz), as gettimeofday(2) reports it: what `meta day` uses."""
    class Timezone(ctypes.Structure):
        _fields_ = [("tz_minuteswest", ctypes.c_int), ("tz_dsttime", ctypes.c_int)]
    tz = Timezone()
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.gettimeofday(None, ctypes.byref(tz)) == 0
    return tz.tz_minuteswest


def _far_zone(now: datetime) -> str:
    """A zone whose local date differs from UTC's now: UTC+14 from 10:00 UTC, UTC-11 before
    11:00 UTC; between them every hour of the day."""
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        if now.astimezone(ZoneInfo(zone)).date() != now.date():
            return zone
    raise AssertionError(f"no zone's date differs from UTC's at {now}")


@pytest.fixture
def routed(ns: str) -> Iterator[tuple[str, str, str]]:
    """citizen (c0) -- gateway `ns` (g0 | g1) -- upstream (u0): the citizen is routed through
    the gateway's forward chain."""
    suffix = ns.rsplit("-", 1)[1]
    citizen, upstream = f"simpul-hsc-{suffix}", f"simpul-hsu-{suffix}"
    try:
        for name in (citizen, upstream):
            subprocess.run(["ip", "netns", "add", name], check=True)
        for args in (
                ["link", "add", "c0", "netns", citizen, "type", "veth", "peer", "name", "g0",
                 "netns", ns],
                ["link", "add", "u0", "netns", upstream, "type", "veth", "peer", "name", "g1",
                 "netns", ns],
                ["-n", citizen, "addr", "add", f"{CITIZEN}/22", "dev", "c0"],
                ["-n", ns, "addr", "add", f"{GW_CLIENT}/22", "dev", "g0"],
                ["-n", ns, "addr", "add", f"{GW_UP}/24", "dev", "g1"],
                ["-n", upstream, "addr", "add", f"{UPSTREAM}/24", "dev", "u0"]):
            subprocess.run(["ip", *args], check=True)
        for name, dev in ((citizen, "c0"), (ns, "g0"), (ns, "g1"), (upstream, "u0"),
                          (citizen, "lo"), (ns, "lo"), (upstream, "lo")):
            subprocess.run(["ip", "-n", name, "link", "set", dev, "up"], check=True)
        subprocess.run(["ip", "-n", citizen, "route", "add", "default", "via", GW_CLIENT],
                       check=True)
        subprocess.run(["ip", "-n", upstream, "route", "add", "10.200.0.0/22", "via", GW_UP],
                       check=True)
        subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"],
                       check=True)
        yield ns, citizen, upstream
    finally:
        for name in (citizen, upstream):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


def _schedule_rules(ns: str) -> dict[str, list[int]]:
    """Packets counted by each site schedule rule of client_up, by its comment."""
    listing = json.loads(subprocess.run(
        ["ip", "netns", "exec", ns, "nft", "-j", "list", "chain", "inet", "simpul_portal",
         "client_up"], capture_output=True, text=True, check=True).stdout)
    counts: dict[str, list[int]] = {}
    for item in listing["nftables"]:
        rule = item.get("rule")
        if rule and str(rule.get("comment", "")).startswith("simpul "):
            packets = [e["counter"]["packets"] for e in rule["expr"] if "counter" in e]
            counts.setdefault(rule["comment"], []).append(sum(packets))
    return counts


@pytest.mark.parametrize("nft_zone", ["site", "UTC"])
def test_schedule_matches_the_site_day_and_hour_in_any_kernel_zone(
        routed: tuple[str, str, str], nft_zone: str) -> None:
    """A window for the site's current local hour on its current local day, with a tiny
    allocation, in a zone whose date is not UTC's: packets from a logged-in citizen meet that
    window's rule (and only it), and its limit drops most of a burst. The gateway's nft runs in
    the site's zone or in UTC; the kernel keeps its own (UTC here, as systemd leaves it)."""
    gw, citizen, upstream = routed
    assert _kernel_minutes_west() == 0, "the kernel's zone (sys_tz) is not UTC on this host"
    now = datetime.now(UTC)
    if 3600 - (now.minute * 60 + now.second) < 45:  # both zones' hours turn with UTC's
        time.sleep(3600 - (now.minute * 60 + now.second) + 2)
        now = datetime.now(UTC)
    zone = _far_zone(now)
    local = now.astimezone(ZoneInfo(zone))
    assert local.weekday() != now.weekday()
    inventory = check_inventory(DEMO_INVENTORY)[0]
    hotspot = inventory.hotspots["taman-kota"]
    window = ScheduleWindow.model_validate({
        "name": WINDOW, "days": [DAYS[local.weekday()]],
        "times": [f"{local.hour:02d}:00-{local.hour + 1:02d}:00"], "allocation": "16k/16k"})
    site = inventory.sites[hotspot.site].model_copy(
        update={"timezone": zone, "schedule": [window]})
    context = gateway_template_context(hotspot, inventory.devices[hotspot.gateway],
                                       "http://198.51.100.5:8080", {"client_interface": "g0"})
    context["hotspot_schedule"] = hotspot_schedule(site, "q", inventory, now)
    ruleset = render_gateway_files(context)["/etc/nftables.d/simpul_portal.nft"]
    env = {**os.environ, "TZ": zone if nft_zone == "site" else "UTC"}
    for command in (["nft", "-f", "-"],
                    ["nft", "add", "element", "inet", "simpul_portal", "allowed",
                     f"{{ {CITIZEN} . {_mac(citizen)} timeout 1h }}"],
                    ["nft", "add", "element", "inet", "simpul_portal", "allowed_down",
                     f"{{ {CITIZEN} timeout 1h }}"]):
        done = subprocess.run(["ip", "netns", "exec", gw, *command], input=ruleset, env=env,
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr

    # 150 pings of 1 KB in about a second: 150 KB against 2000 B/s and a 16 KiB burst.
    ping = subprocess.run(["ip", "netns", "exec", citizen, "ping", "-q", "-n", "-c", "150",
                           "-i", "0.005", "-s", "1000", "-W", "1", UPSTREAM],
                          capture_output=True, text=True, timeout=60)
    received = int(re.search(r"(\d+) received", ping.stdout).group(1))  # type: ignore[union-attr]
    counts = _schedule_rules(gw)
    ours = {c: n for c, n in counts.items() if f" {WINDOW} " in c}
    others = {c: n for c, n in counts.items() if f" {WINDOW} " not in c}
    assert ours and others, counts
    assert sum(sum(n) for n in ours.values()) >= 150, (zone, local, counts)
    assert all(n == 0 for ns_ in others.values() for n in ns_), (zone, local, counts)
    assert received < 75, (zone, local, ping.stdout)  # the window's 16k limit holds


def _mac(citizen: str) -> str:
    """The citizen's MAC (sysfs inside its namespace)."""
    return subprocess.run(["ip", "netns", "exec", citizen, "cat", "/sys/class/net/c0/address"],
                          capture_output=True, text=True, check=True).stdout.strip()
