"""Pseudonyms for citizens' identifiers: HMAC-SHA256 with a secret salt, never the raw value.

The salt is the secret `portal_salt` (secrets file or SIMPUL_SECRET_PORTAL_SALT). Without it, the
demo creates a random salt once in <data_dir>/portal-salt (mode 600) so hashes stay stable; in
production (SIMPUL_PORTAL_SALT_FILE_ALLOWED=false) the salt lives only in the secret store.

A MAC is hashed under the key of a period (a day, a month), derived from the salt: a hash then
links a device's sessions within its period only, and is erased when the period closes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets as _random
import threading
from pathlib import Path

from controller.secrets import SecretsError, SecretStore, env_var_for

SALT_FILE = "portal-salt"
_KEEP_KEYS = 8  # the current day and month keys of every time zone, with room to spare


def load_salt(secrets: SecretStore, data_dir: Path, *, file_allowed: bool = True) -> bytes:
    """The portal's salt; SecretsError if only a salt file could provide it and that is not
    allowed (production)."""
    value = secrets.get("portal_salt")
    if value:
        return value.encode()
    path = data_dir / SALT_FILE
    if not file_allowed:
        moved = f" (move the value in {path} there, then delete that file)" \
            if path.exists() else ""
        raise SecretsError(
            f"the secret portal_salt is not set and SIMPUL_PORTAL_SALT_FILE_ALLOWED is false: "
            f"add portal_salt to the secrets file or set {env_var_for('portal_salt')}{moved}")
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


def period_key(salt: bytes, period: str) -> bytes:
    """The key of one period, e.g. 'day:2026-11-27' or 'month:2026-11'."""
    return hmac.new(salt, period.encode(), hashlib.sha256).digest()


class PeriodHasher:
    """Pseudonyms under a period's key. Only the keys of the latest periods are held; an older
    one is forgotten (and derived again only if a late caller asks for it)."""

    def __init__(self, salt: bytes):
        self._salt = salt
        self._keys: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def pseudonym(self, period: str, kind: str, value: str) -> str:
        with self._lock:
            key = self._keys.get(period)
            if key is None:
                if len(self._keys) >= _KEEP_KEYS:
                    self._keys.clear()
                key = self._keys[period] = period_key(self._salt, period)
        return pseudonym(key, kind, value)
