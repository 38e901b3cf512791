"""deploy/: Prometheus config and rules pass promtool (check and unit tests), and every metric
that the rules and the Grafana dashboard name is one Simpul exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from exporters.collectors import exported_metric_names

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "simpul-dashboard.json"
# shared/ sits beside the repository (or beside the folder of its worktrees).
DESIGN = next((p for p in (ROOT.parent / "shared" / "DESIGN.md",
                           ROOT.parent.parent / "shared" / "DESIGN.md") if p.exists()),
              ROOT.parent / "shared" / "DESIGN.md")
# A metric name, not a recording-rule name (level:metric:operations) or a longer word.
METRIC = re.compile(r"(?<![:\w])simpul_[a-z0-9_]+(?![:\w])")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.skip("promtool not installed (Debian package prometheus; ./test installs it)")
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=120,
                          cwd=PROMETHEUS)


def test_promtool_check_config():
    out = promtool("check", "config", "prometheus.yml")
    assert out.returncode == 0, out.stdout + out.stderr


def test_promtool_check_rules():
    out = promtool("check", "rules", "simpul-rules.yml")
    assert out.returncode == 0, out.stdout + out.stderr


def test_alerts_fire_when_they_should():
    out = promtool("test", "rules", "simpul-rules.test.yml")
    assert out.returncode == 0, out.stdout + out.stderr


def _promql(node: object) -> list[str]:
    """Every PromQL expression in the dashboard (targets and templating queries)."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "definition") and isinstance(value, str):
                found.append(value)
            else:
                found.extend(_promql(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_promql(item))
    return found


def test_rules_and_dashboard_name_only_exported_metrics():
    rules = (PROMETHEUS / "simpul-rules.yml").read_text()
    dashboard = json.loads(DASHBOARD.read_text())
    named = set(METRIC.findall(rules))
    for expr in _promql(dashboard):
        named |= set(METRIC.findall(expr))
    assert named, "no metric found: the check would pass vacuously"
    exported = exported_metric_names()
    assert named <= exported, f"not exported by Simpul: {sorted(named - exported)}"
    # The dashboard covers the three views the office asked for.
    titles = {p["title"] for p in dashboard["panels"]}
    assert {"Backbone overview", "Public WiFi hotspots"} <= titles
    assert any("allocation" in t.lower() for t in titles)


def test_exported_list_is_design_md():
    if not DESIGN.exists():
        pytest.skip(f"{DESIGN} not beside the repository")
    section = DESIGN.read_text().split("## Metrics", 1)[1].split("\n## ", 1)[0]
    assert set(re.findall(r"`(simpul_[a-z0-9_]+)`", section)) == exported_metric_names()
