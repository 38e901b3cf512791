"""A MikroTik hotspot gateway's schedule (parent queue + /system scheduler) pushed through
netmiko to the RouterOS simulator: push, then push again is `unchanged`, nothing sent."""

from __future__ import annotations

from collections.abc import Iterator

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
