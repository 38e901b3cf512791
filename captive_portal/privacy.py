"""Pseudonyms for citizens' identifiers: HMAC-SHA256 with a secret salt, never the raw value.

The salt is the secret `portal_salt` (secrets file or SIMPUL_SECRET_PORTAL_SALT); without it, a
random salt is created once in <data_dir>/portal-salt (mode 600) so hashes stay stable.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets as _random
from pathlib import Path

from controller.secrets import SecretStore


def load_salt(secrets: SecretStore, data_dir: Path) -> bytes:
    value = secrets.get("portal_salt")
    if value:
        return value.encode()
    path = data_dir / "portal-salt"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_bytes().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(_random.token_hex(32))
    return path.read_bytes().strip()


def pseudonym(salt: bytes, kind: str, value: str) -> str:
    """A stable, non-reversible name for `value` (a phone number, a MAC)."""
    return hmac.new(salt, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
