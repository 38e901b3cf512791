"""Chaos: a hotspot gateway's SSH drops while the portal runs, then returns (issue #17).

The lab is test_portal_e2e's (citizen -> gateway with real sshd + nftables -> NOC with
`simpul serve` -> internet, each a namespace this test creates and removes). Inside the gateway
the test first drops every packet to port 22 (a link that hangs: the portal's open session
freezes, new connects time out), then answers them with a TCP reset (sshd gone: the open session
is reset, connects are refused). The gateway keeps forwarding meanwhile, as a real one would.

What the portal does, and why: a login while the gateway is out of reach fails cleanly (503, the
refusal page in Bahasa Indonesia, in English with lang=en) and leaves no session. It is not
queued: the portal needs the gateway's neighbour table for the client's MAC before any session
can exist, and a queued session would tell the citizen (success page, RFC 8908 captive:false)
that the gateway let them through when it does not. Sessions opened before the drop stay open
(an unreachable gateway says nothing of idleness, so the reaper ends none as idle), a session
an engineer ends meanwhile stays on the gateway until SSH returns, and then the reconciler makes
the allowed set equal the open sessions without a restart.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_portal_e2e import (
    CITIZEN_IP,
    PORTAL,
    Lab,
    portal_lab,
    wait_until,
)

pytestmark = pytest.mark.integration

# Two more citizens on the same veth (same MAC, their own addresses, so their own sessions).
ENDED_IP, LATE_IP = "10.77.0.11", "10.77.0.12"
IDLE_TIMEOUT_S = 15  # the drop lasts longer than this while the first citizen browses
DROP_TABLE = "inet simpul_test_sshdrop"
GATEWAY_DOWN_ID = "Gateway hotspot sedang tidak dapat dihubungi"  # captive_portal/i18n.py
GATEWAY_DOWN_EN = "The hotspot gateway cannot be reached"
# Every SSH time bound is a setting; short here so the test is quick, generous for the waits.
SETTINGS = {"SIMPUL_PORTAL_GATEWAY_CONNECT_TIMEOUT_S": "2",
            "SIMPUL_PORTAL_GATEWAY_READ_TIMEOUT_S": "3",
            "SIMPUL_PORTAL_RECONCILE_INTERVAL_S": "2", "SIMPUL_PORTAL_REAP_INTERVAL_S": "1"}
HTTP_DEADLINE_S = 90  # a login may wait for the reaper's and reconciler's timed-out rounds


@pytest.fixture
def lab(tmp_path: Path, demo_secrets: Path) -> Iterator[Lab]:
    with portal_lab(tmp_path, demo_secrets, SETTINGS,
                    {"idle_timeout": f"{IDLE_TIMEOUT_S}s"}) as built:
        for address in (ENDED_IP, LATE_IP):
            built.ns(built.citizen, "ip", "addr", "add", f"{address}/24", "dev", "c0")
        yield built


def post(lab: Lab, source: str, path: str, *fields: str) -> tuple[str, str]:
    """(HTTP status, body) of a form POST from the citizen's `source` address."""
    args = [arg for field in fields for arg in ("-d", field)]
    out = lab.ns(lab.citizen, "curl", "-s", "--interface", source, "--max-time",
                 str(HTTP_DEADLINE_S), "-w", "\n%{http_code}", *args, f"{PORTAL}{path}",
                 check=False, timeout=HTTP_DEADLINE_S + 10).stdout
    body, _, status = out.rpartition("\n")
    return status, body


def probe(lab: Lab, source: str) -> str:
    """The HTTP status an Android probe from `source` gets: 204 online, 302 captive."""
    return lab.curl("http://connectivitycheck.gstatic.com/generate_204", "--interface",
                    source)[1]


def gateway_allowed(lab: Lab) -> set[tuple[str, str]]:
    """(address, MAC) of each element of the gateway's allowed set, read with nft itself."""
    doc = json.loads(lab.ns(lab.gateway, "nft", "-j", "list", "set", "inet", "simpul_portal",
                            "allowed").stdout)
    pairs: set[tuple[str, str]] = set()
    for item in doc["nftables"]:
        for elem in item.get("set", {}).get("elem", []):
            value = elem["elem"]["val"] if isinstance(elem, dict) and "elem" in elem else elem
            ip, mac = value["concat"]
            pairs.add((ip, mac))
    return pairs


def store_open(lab: Lab) -> dict[str, dict[str, object]]:
    """Open sessions by client address, read from the store's file."""
    return {str(s["client_ip"]): s for s in lab.sessions() if s["ended_at"] is None}


def drop_ssh(lab: Lab, verdict: str) -> None:
    """Inside the gateway, before its own ruleset: `verdict` every packet to port 22."""
    script = (f"add table {DROP_TABLE}\nflush table {DROP_TABLE}\n"
              f"add chain {DROP_TABLE} input {{ type filter hook input priority -10; }}\n"
              f"add rule {DROP_TABLE} input tcp dport 22 {verdict}\n")
    subprocess.run(["ip", "netns", "exec", lab.gateway, "nft", "-f", "-"], input=script,
                   text=True, check=True, capture_output=True, timeout=30)


def test_gateway_ssh_drop_fails_logins_cleanly_and_reconciles_after(lab: Lab) -> None:
    # -- before: two citizens logged in; the first keeps browsing from now on ----------------
    for source in (CITIZEN_IP, ENDED_IP):
        assert post(lab, source, "/login/click", "accept=yes")[0] == "303"
        assert probe(lab, source) == "204"
    before = store_open(lab)
    kept, ended = before[CITIZEN_IP], before[ENDED_IP]
    browsing = subprocess.Popen(
        ["ip", "netns", "exec", lab.citizen, "sh", "-c", "while :; do curl -s -o /dev/null "
         "--max-time 2 --interface " + CITIZEN_IP + " http://internet.test/; sleep 0.5; done"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        # -- SSH hangs: packets to port 22 vanish ------------------------------------------
        drop_ssh(lab, "drop")
        dropped_at = time.monotonic()
        status, body = post(lab, LATE_IP, "/login/click", "accept=yes")
        assert status == "503" and GATEWAY_DOWN_ID in body, (status, body[-500:])
        assert "Traceback" not in body
        # An engineer ends a session: the store ends it, the gateway never hears of it.
        result = lab.simpul("hotspot", "disconnect", str(ended["id"]))
        assert result.returncode == 0, result.stderr
        assert (ENDED_IP, ended["client_mac"]) in gateway_allowed(lab)
        assert probe(lab, ENDED_IP) == "204"

        # -- sshd gone: connections reset and refused -------------------------------------
        drop_ssh(lab, "reject with tcp reset")
        status, body = post(lab, LATE_IP, "/login/click", "accept=yes", "lang=en")
        assert status == "503" and GATEWAY_DOWN_EN in body, (status, body[-500:])
        # No session claims access the gateway never granted.
        assert not [s for s in lab.sessions() if s["client_ip"] == LATE_IP]
        assert LATE_IP not in {ip for ip, _ in gateway_allowed(lab)}
        # The drop outlasts the idle timeout while the first citizen browses.
        while time.monotonic() - dropped_at < IDLE_TIMEOUT_S + 5:
            time.sleep(1)
        assert probe(lab, CITIZEN_IP) == "204"

        # -- SSH returns: the reconciler converges without a restart ---------------------
        lab.ns(lab.gateway, "nft", "delete", "table", *DROP_TABLE.split())

        def converged() -> bool:
            want = {(str(s["client_ip"]), str(s["client_mac"]))
                    for s in store_open(lab).values()}
            return gateway_allowed(lab) == want
        wait_until("the gateway's allowed set equals the open sessions", converged, 60)
        after = store_open(lab)
        assert list(after) == [CITIZEN_IP] and after[CITIZEN_IP]["id"] == kept["id"]
        assert probe(lab, CITIZEN_IP) == "204"
        assert probe(lab, ENDED_IP) == "302"
    finally:
        os.killpg(browsing.pid, signal.SIGTERM)
        browsing.wait(timeout=10)

    # -- a new login works again --------------------------------------------------------------
    assert post(lab, LATE_IP, "/login/click", "accept=yes")[0] == "303"
    assert probe(lab, LATE_IP) == "204"
    assert LATE_IP in store_open(lab)
    for part in ("portal", "poller"):  # SQLite: the poller's process runs reaper and reconciler
        log = (lab.tmp / f"serve-{part}.log").read_text()
        assert "Traceback" not in log and not re.search(r'" 500\b', log), log[-3000:]
