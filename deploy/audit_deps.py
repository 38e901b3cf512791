"""Audit the locked dependencies for known vulnerabilities (pip-audit), and say what was audited.

pip-audit prints "No known vulnerabilities found" even when its database was unreachable and
every dependency was skipped. This wrapper counts what was really audited: it exits 1 when a
vulnerability is found, and prints a loud warning (exit 0, or 3 with --strict) when the
database could not be reached for some or all of the dependencies.

Run: `.venv/bin/python deploy/audit_deps.py [--strict]` (CI runs it from .ci/run).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def locked_requirements() -> str:
    uv = ROOT / ".tools" / "bin" / "uv"  # the bootstrap's pinned uv, else the one on PATH
    command = [str(uv) if uv.exists() else "uv", "export", "--frozen", "--no-hashes",
               "--no-emit-project", "--all-groups", "-q"]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout


def summarise(report: dict) -> tuple[list[str], list[str], list[str]]:  # type: ignore[type-arg]
    """(audited names, skipped names with reasons, findings) from pip-audit's JSON report."""
    audited, skipped, findings = [], [], []
    for dep in report.get("dependencies", []):
        name = f"{dep['name']} {dep['version']}" if dep.get("version") else dep["name"]
        if "skip_reason" in dep:
            skipped.append(f"{name}: {dep['skip_reason']}")
            continue
        audited.append(name)
        for vuln in dep.get("vulns", []):
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fix yet"
            findings.append(f"{name}: {vuln['id']} (fixed in {fixed})")
    return audited, skipped, findings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strict", action="store_true",
                        help="exit 3 when any dependency could not be audited")
    args = parser.parse_args()
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as requirements:
        requirements.write(locked_requirements())
        requirements.flush()
        try:
            result = subprocess.run(
                [sys.executable, "-m", "pip_audit", "-r", requirements.name, "--no-deps",
                 "--disable-pip", "--progress-spinner", "off", "--format", "json"],
                capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            print("audit_deps: WARNING: pip-audit timed out; NOTHING WAS AUDITED",
                  file=sys.stderr)
            return 3 if args.strict else 0
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        print("audit_deps: WARNING: pip-audit gave no report; NOTHING WAS AUDITED\n"
              + result.stderr[-2000:], file=sys.stderr)
        return 3 if args.strict else 0
    audited, skipped, findings = summarise(report)
    total = len(audited) + len(skipped)
    for line in findings:
        print(f"audit_deps: VULNERABLE {line}")
    if skipped:
        what = "NOTHING WAS AUDITED" if not audited else f"{len(skipped)} were not audited"
        print(f"audit_deps: WARNING: the vulnerability database could not be reached for "
              f"{len(skipped)} of {total} locked dependencies: {what}. First: {skipped[0]}",
              file=sys.stderr)
    if audited:
        print(f"audit_deps: {len(audited)} of {total} locked dependencies audited, "
              f"{len(findings)} known vulnerabilities")
    if findings:
        return 1
    return 3 if skipped and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
