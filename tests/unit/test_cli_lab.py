"""`simpul lab ...` hands every argument to the lab's own entry point; the cli never imports it."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT


def test_simpul_lab_execs_python_m_lab_with_its_arguments() -> None:
    done = subprocess.run([sys.executable, "-m", "controller.cli", "lab", "up", "--help"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "100"})
    assert done.returncode == 0, done.stderr
    assert "python -m lab up" in done.stdout and "--only" in done.stdout


def test_the_cli_does_not_import_the_lab() -> None:
    code = ("import sys, controller.cli; "
            "print(sorted(m for m in sys.modules if m == 'lab' or m.startswith('lab.')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
