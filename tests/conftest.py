"""Shared fixtures. In CI (CI=true) a skipped test fails the run: no daemon may hide. A test
that reaches the demo lab's addresses (127.0.0.10-58) fails (tests/demo_guard). Every file under
tests/integration is marked `integration`, under tests/browser `browser`: the fast path is
`./test -m "not integration and not browser"`."""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.inventory import check_inventory
from controller.secrets import generate_missing
from tests.demo_guard import sitecustomize as demo_guard

ROOT = Path(__file__).resolve().parents[1]
DEMO_INVENTORY = ROOT / "inventory"
MARKED_DIRS = {"integration": "integration", "browser": "browser"}  # tests/<dir>: its marker
_refused: list[str] = []  # what the guard refused in this process since the last look
_guard_log_read = 0  # how much of the children's log has been looked at


def pytest_configure(config: pytest.Config) -> None:
    """Guard this process and its Python children against the demo lab's addresses."""
    global _guard_log_read
    handle, log = tempfile.mkstemp(prefix="simpul-demo-guard-", suffix=".log")
    os.close(handle)
    _guard_log_read = 0
    os.environ[demo_guard.LOG_ENV] = log
    os.environ[demo_guard.NETNS_ENV] = demo_guard.netns()
    site = str(Path(demo_guard.__file__).parent)
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if site not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in [site, *paths] if p)
    demo_guard.install(_refused.append)


def pytest_unconfigure(config: pytest.Config) -> None:
    log = os.environ.pop(demo_guard.LOG_ENV, None)
    if log:
        Path(log).unlink(missing_ok=True)


def take_refusals() -> list[str]:
    """What the guard refused since the last call, here and in child processes."""
    global _guard_log_read
    seen, _refused[:] = list(_refused), []
    log = Path(os.environ.get(demo_guard.LOG_ENV, "/nonexistent"))
    if log.exists():
        with log.open(encoding="utf-8") as handle:
            handle.seek(_guard_log_read)
            seen += handle.read().splitlines()
            _guard_log_read = handle.tell()
    return seen


def _fail_if_refused() -> None:
    refused = take_refusals()
    if refused:
        pytest.fail("the test reached the demo lab's addresses (127.0.0.10-58; DESIGN.md "
                    "'Testing': use 127.0.N.x with N >= 100 or a namespace):\n"
                    + "\n".join(refused[:20]), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """The test fails if it, its fixtures or its child processes reached the demo lab, even
    when the refusal was caught along the way."""
    result = yield
    _fail_if_refused()
    return result


@pytest.fixture(autouse=True)
def _demo_lab_untouched() -> Iterator[None]:
    """The same check once the test's fixtures have been torn down."""
    yield
    _fail_if_refused()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Integration and browser test files must carry their marker, or the fast path
    (`-m "not integration and not browser"`) would run them."""
    unmarked = set()
    for item in items:
        parts = Path(str(item.path)).relative_to(ROOT).parts
        marker = MARKED_DIRS.get(parts[1]) if len(parts) > 2 and parts[0] == "tests" else None
        if marker is not None and item.get_closest_marker(marker) is None:
            unmarked.add(f"{'/'.join(parts)}: add `pytestmark = pytest.mark.{marker}`")
    if unmarked:
        raise pytest.UsageError("unmarked test files:\n" + "\n".join(sorted(unmarked)))


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


def pasar_besar_over_ssh(inventory: Path) -> None:
    """The demo's Pasar Besar (adapter radius) on the SSH adapter instead, in a copy of the
    inventory: for tests of the portal's own SSH path and of the reconciler's allowed sets
    (a radius hotspot's sessions follow the NAS's accounting)."""
    hotspots = inventory / "hotspots.yaml"
    text = re.sub(r"adapter: radius[^\n]*\n  radius: \{[^}]*\}\n", "adapter: mikrotik\n",
                  hotspots.read_text(), count=1)
    assert "adapter: radius" not in text
    hotspots.write_text(text)


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
