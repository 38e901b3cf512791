"""A MikroTik hotspot gateway's schedule (parent queue + /system scheduler) pushed through
netmiko to the RouterOS simulator: push, then push again is `unchanged`, nothing sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.config_lab import Lab, config_commands, start_demo_lab

pytestmark = pytest.mark.integration

DEVICE = "alun-alun-gw"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    tmp = tmp_path_factory.mktemp("config-lab-hotspot")
    lab = start_demo_lab(tmp)
    yield lab
    lab.stop()


def test_hotspot_gateway_schedule_push_then_unchanged(lab: Lab) -> None:
    code, rows = lab.json_lines("config", "push", DEVICE, "--yes", "--json")
    assert code == 0 and rows[0]["status"] == "changed", rows
    diff = rows[0]["diff"]
    assert "+/system scheduler" in diff
    assert "parent-queue=simpul-hotspot-alun-alun" in diff
    assert "name=simpul-hotspot-alun-alun target=10.200.4.0/22" in diff
    sent = config_commands(lab, DEVICE)
    assert any(c.startswith("/system scheduler add") and "interval=1w" in c for c in sent)

    code, rows = lab.json_lines("config", "push", DEVICE, "--yes", "--json")
    assert code == 0 and rows[0]["status"] == "unchanged" and rows[0]["diff"] == "", rows
    assert config_commands(lab, DEVICE) == sent  # nothing sent the 2nd time

    # A scheduler entry left the site queue at another limit than the one in force now
    # (e.g. a wrong clock): drift shows it.
    conn = lab.connect(DEVICE)
    conn.send_command("/queue simple set [find name=simpul-hotspot-alun-alun] max-limit=1M/2M",
                      expect_string=r"\] > ?$")
    conn.disconnect()
    code, rows = lab.json_lines("config", "drift", DEVICE, "--json")
    assert rows[0]["status"] == "changed" and "max-limit=1M/2M" in rows[0]["diff"], rows


def test_radius_hotspot_gateway_push_then_unchanged_and_no_drift(lab: Lab) -> None:
    """pasar-besar (adapter radius): /radius for the hotspot with the secret masked in the
    diff, /radius incoming for Disconnect-Request, use-radius=yes; push again is unchanged."""
    device = "pasar-besar-gw"
    secret = Path(lab.env["SIMPUL_SECRETS_FILE"]).read_text()
    code, rows = lab.json_lines("config", "push", device, "--yes", "--json")
    assert code == 0 and rows[0]["status"] == "changed", rows
    diff = rows[0]["diff"]
    # /radius incoming always exists (accept=no by default): only its setting changes.
    assert "+/radius\n" in diff and "\n /radius incoming\n" in diff, diff
    [radius] = [line for line in diff.splitlines() if "service=hotspot" in line]
    # the default ports (1812/1813) are not written out, as RouterOS's export does
    assert "address=127.0.0.1 " in radius and "authentication-port" not in radius
    assert "secret=********" in radius, radius  # masked, never the value
    assert "set accept=yes port=3799" in diff
    [profile] = [line for line in diff.splitlines() if "name=simpul-pasar-besar" in line
                 and "use-radius" in line]
    assert "use-radius=yes" in profile and "radius-interim-update=5m" in profile
    assert "/ip hotspot user\n" not in diff  # no portal login user over RADIUS
    sent = config_commands(lab, device)
    assert any(c.startswith("/radius add") and "service=hotspot" in c for c in sent)

    code, rows = lab.json_lines("config", "push", device, "--yes", "--json")
    assert code == 0 and rows[0]["status"] == "unchanged" and rows[0]["diff"] == "", rows
    assert config_commands(lab, device) == sent
    code, rows = lab.json_lines("config", "drift", device, "--json")
    assert code == 0 and rows[0]["status"] == "unchanged", rows
    assert "radius_pasar_besar" in secret  # the demo's secrets file holds the NAS secret
