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


def test_users_tokens_list_and_revoke(tmp_path: Path) -> None:
    from controller.auth import create_api_token, token_expiry, token_user
    from controller.store.models import AuditLog

    data = tmp_path / "data"
    assert simpul(data, "add", "budi", "--password-stdin",
                  stdin="rahasia-panjang-1\n").returncode == 0
    store = Store(f"sqlite:///{data / 'simpul.db'}")
    with store.session() as session:
        user = session.query(User).filter_by(username="budi").one()
        tokens = [create_api_token(session, user, name, actor="test", expires_at=token_expiry(7))
                  for name in ("grafana", "backup", "ci")]
    listed = json.loads(simpul(data, "tokens", "list", "--json").stdout)
    assert [(t["name"], t["username"], t["status"]) for t in listed] == [
        ("ci", "budi", "active"), ("backup", "budi", "active"), ("grafana", "budi", "active")]
    assert all(token not in json.dumps(listed) for token in tokens)
    text = simpul(data, "tokens", "list").stdout
    assert "grafana" in text and "active" in text and "expires 20" in text
    both = simpul(data, "tokens", "revoke", "1", "--user", "budi")
    assert both.returncode == 1 and "not both" in both.stderr
    missing = simpul(data, "tokens", "revoke", "99")
    assert missing.returncode == 1 and "no API token 99" in missing.stderr
    grafana_id = listed[2]["id"]
    assert simpul(data, "tokens", "revoke", str(grafana_id)).returncode == 0
    with store.session() as session:
        assert token_user(session, tokens[0]) is None
        assert token_user(session, tokens[1]) is not None
    # A password change revokes the rest.
    assert simpul(data, "passwd", "budi", "--password-stdin",
                  stdin="rahasia-panjang-2\n").returncode == 0
    statuses = {t["name"]: t["status"] for t in
                json.loads(simpul(data, "tokens", "list", "--user", "budi", "--json").stdout)}
    assert statuses == {"grafana": "revoked", "backup": "revoked", "ci": "revoked"}
    with store.session() as session:
        revokes = session.query(AuditLog).filter_by(action="token.revoke").all()
        assert [(r.actor, r.target) for r in revokes] == [("cli", "budi")]
        password = session.query(AuditLog).filter_by(action="user.password").one()
        assert password.detail == {"tokens_revoked": 2}
    store.dispose()
