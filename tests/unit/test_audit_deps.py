"""deploy/audit_deps.py never reports a clean audit when nothing was audited."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SPEC = importlib.util.spec_from_file_location(
    "audit_deps", Path(__file__).resolve().parents[2] / "deploy" / "audit_deps.py")
assert SPEC and SPEC.loader
audit_deps = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(audit_deps)


def test_skipped_audited_and_vulnerable_are_told_apart() -> None:
    # The shape of `pip-audit --format json` (pip-audit 2.10): skipped deps carry skip_reason.
    report = {"dependencies": [
        {"name": "alembic", "skip_reason": "Dependency not found on PyPI and could not be "
                                           "audited: alembic (1.20.1)"},
        {"name": "jinja2", "version": "3.1.2", "vulns": [
            {"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"], "aliases": []}]},
        {"name": "pyyaml", "version": "6.0.2", "vulns": []},
    ]}
    audited, skipped, findings = audit_deps.summarise(report)
    assert audited == ["jinja2 3.1.2", "pyyaml 6.0.2"]
    assert skipped == ["alembic: Dependency not found on PyPI and could not be audited: "
                       "alembic (1.20.1)"]
    assert findings == ["jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (fixed in 3.1.3)"]


def test_an_unreachable_database_audits_nothing() -> None:
    report = {"dependencies": [{"name": n, "skip_reason": "could not be audited"}
                               for n in ("fastapi", "uvicorn")]}
    audited, skipped, findings = audit_deps.summarise(report)
    assert (audited, findings) == ([], [])
    assert len(skipped) == 2
