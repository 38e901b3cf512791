"""Secret values (device passwords, SNMP keys) by name, from a private file or the environment.

The inventory only names secrets; their values live here and are never logged or shown.
"""

from __future__ import annotations

import os
import re
import secrets as _random
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

SECRET_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


class SecretsError(Exception):
    """A secrets source that must not be used (bad permissions, bad format)."""


def env_var_for(name: str) -> str:
    return "SIMPUL_SECRET_" + name.upper().replace("-", "_")


def _check_private(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretsError(
            f"{path}: refused: the secrets file is accessible by group or others "
            f"(mode {stat.S_IMODE(mode):04o}); run: chmod 600 {path}"
        )


def _read_file(path: Path) -> dict[str, str]:
    try:
        _check_private(path)
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise SecretsError(f"{path}: secrets file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        # Never echo the YAML error text: it may quote a secret value.
        raise SecretsError(f"{path}{line}: the secrets file is not valid YAML") from None
    if not isinstance(data, dict):
        raise SecretsError(f"{path}: the secrets file must be a mapping of name: value")
    values: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(key, str) or not SECRET_NAME_RE.match(key):
            raise SecretsError(f"{path}: bad secret name {key!r}")
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise SecretsError(f"{path}: secret {key!r} must be a string")
        values[key] = str(value)
    return values


class SecretStore:
    """Secret lookup: SIMPUL_SECRET_<NAME> environment variables win over the file."""

    def __init__(self, file_values: Mapping[str, str], environ: Mapping[str, str]):
        self._file_values = dict(file_values)
        self._environ = environ

    @classmethod
    def load(cls, path: Path | None, environ: Mapping[str, str] | None = None) -> SecretStore:
        file_values = _read_file(path) if path is not None else {}
        return cls(file_values, os.environ if environ is None else environ)

    def get(self, name: str) -> str | None:
        value = self._environ.get(env_var_for(name))
        return value if value is not None else self._file_values.get(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise SecretsError(
                f"secret {name!r} is not set: set {env_var_for(name)} or add it to the secrets file"
            )
        return value

    def __repr__(self) -> str:
        return f"SecretStore({len(self._file_values)} from file, values hidden)"


def generate_missing(path: Path, names: Iterable[str]) -> list[str]:
    """Add a random value for every named secret the file lacks; return the names added.

    Used for the demo lab, whose devices are simulated. The file is created with mode 600.
    """
    values = _read_file(path) if path.exists() else {}
    added = [name for name in sorted(set(names)) if name not in values]
    if not added:
        return []
    for name in added:
        values[name] = _random.token_urlsafe(18)
    write_secrets_file(path, values)
    return added


def write_secrets_file(path: Path, values: dict[str, str]) -> None:
    """Replace the secrets file with `values` in one rename, mode 600 from the start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("# Simpul secrets: never commit this file.\n")
        yaml.safe_dump(values, handle, default_flow_style=False)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
