"""Shared fixtures. In CI (CI=true) a skipped test fails the run: no daemon may hide."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.inventory import check_inventory
from controller.secrets import generate_missing

ROOT = Path(__file__).resolve().parents[1]
DEMO_INVENTORY = ROOT / "inventory"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("CI") != "true":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and session.exitstatus == 0:
        reporter.write_line(f"CI=true: {len(skipped)} skipped test(s) count as failures",
                            red=True)
        session.exitstatus = 1


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def demo_inventory(tmp_path: Path) -> Path:
    """A private copy of the demo inventory that a test may break."""
    target = tmp_path / "inventory"
    shutil.copytree(DEMO_INVENTORY, target)
    return target


@pytest.fixture
def demo_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A mode-600 secrets file with a value for every secret the demo names."""
    path = tmp_path / "secrets.yaml"
    inventory, _ = check_inventory(DEMO_INVENTORY)
    generate_missing(path, inventory.secret_names())
    monkeypatch.setenv("SIMPUL_SECRETS_FILE", str(path))
    return path


def move_device(inventory_dir: Path, name: str, address: str, port: int,
                **variables: str) -> None:
    """Give a device of an inventory copy a test address and SSH port, and optionally template
    vars (its other keys kept)."""
    import yaml

    path = inventory_dir / "devices.yaml"
    data = yaml.safe_load(path.read_text())
    [device] = [d for d in data["devices"] if d["name"] == name]
    device.update({"mgmt_address": address, "mgmt_port": port})
    device.setdefault("vars", {}).update(variables)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, daemons)")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server started for this test session (initdb in a temp dir)."""
    from tests.pg import postgres_server

    try:
        with postgres_server(free_port()) as url:
            yield url
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty store on each supported database."""
    from sqlalchemy import text

    from controller.store.db import make_engine, migrate

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'simpul.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
    migrate(url)
    yield url
