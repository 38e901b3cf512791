"""`simpul users add|passwd|list` through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from controller.store.db import Store
from controller.store.models import User
from controller.store.users import verify_password
from tests.conftest import ROOT


def simpul(data: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SIMPUL_DATA_DIR": str(data)}
    return subprocess.run([sys.executable, "-m", "controller.cli", "users", *args], cwd=ROOT,
                          env=env, input=stdin, capture_output=True, text=True, timeout=60)


def test_users_add_passwd_list(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert simpul(data, "add", "budi", "--role", "operator", "--password-stdin",
                  stdin="rahasia-panjang-1\n").returncode == 0
    short = simpul(data, "add", "siti", "--password-stdin", stdin="pendek\n")
    assert short.returncode == 1 and "at least 12" in short.stderr
    bad_role = simpul(data, "add", "siti", "--role", "root", "--password-stdin",
                      stdin="rahasia-panjang-2\n")
    assert bad_role.returncode == 1 and "unknown role 'root'" in bad_role.stderr
    assert simpul(data, "passwd", "budi", "--password-stdin",
                  stdin="rahasia-panjang-3\n").returncode == 0
    missing = simpul(data, "passwd", "nobody", "--password-stdin", stdin="rahasia-panjang-3\n")
    assert missing.returncode == 1 and "unknown user 'nobody'" in missing.stderr
    listed = json.loads(simpul(data, "list", "--json").stdout)
    assert listed == [{"username": "budi", "role": "operator", "disabled": False}]
    store = Store(f"sqlite:///{data / 'simpul.db'}")
    with store.session() as session:
        user = session.query(User).filter_by(username="budi").one()
        assert verify_password(user.password_hash, "rahasia-panjang-3")
    store.dispose()
