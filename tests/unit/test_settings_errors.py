"""A refused SIMPUL_* value stops any command before it does anything, with one line per value
naming the variable, and no traceback; a database URL (it may carry a password) is never
echoed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def simpul(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")}
    return subprocess.run([sys.executable, "-m", "controller.cli", *args], cwd=ROOT,
                          env={**clean, "SIMPUL_DATA_DIR": str(tmp_path / "data"), **env},
                          capture_output=True, text=True, timeout=120)


def test_each_refused_value_is_one_line_naming_its_variable(tmp_path: Path) -> None:
    done = simpul(tmp_path, "db", "upgrade", SIMPUL_PORTAL_GATEWAY_RETRY_S="soon",
                  SIMPUL_RADIUS_DISCONNECT_SOURCE="nas.example")
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == ("error: SIMPUL_PORTAL_GATEWAY_RETRY_S='soon': Input should be a valid "
                        "number, unable to parse string as a number"), done.stderr
    assert lines[1].startswith("SIMPUL_RADIUS_DISCONNECT_SOURCE='nas.example': "), done.stderr
    assert len(lines) == 2 and "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()  # nothing was done


def test_a_database_url_is_never_echoed(tmp_path: Path) -> None:
    done = simpul(tmp_path, "db", "upgrade",
                  SIMPUL_DATABASE_URL="mysql://simpul:hunter2@db.example/simpul")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("error: SIMPUL_DATABASE_URL: "), done.stderr
    assert "hunter2" not in done.stderr


def test_help_works_whatever_the_settings(tmp_path: Path) -> None:
    done = simpul(tmp_path, "db", "upgrade", "--help", SIMPUL_PORTAL_GATEWAY_RETRY_S="soon")
    assert done.returncode == 0 and "Usage" in done.stdout, done.stderr
