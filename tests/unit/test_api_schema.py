"""schemathesis against /api/v1's OpenAPI: no 5xx, responses conform to the schema.

The inventory's devices are moved to an unused loopback range, so config diffs and pushes
that the generated requests start fail fast (connection refused) instead of reaching anyone.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from controller.auth import create_api_token, token_expiry
from controller.context import Context
from controller.settings import Settings
from controller.store.users import add_user
from controller.web.app import create_admin_app

TOKEN: dict[str, str] = {}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from controller.inventory import check_inventory
    from controller.secrets import generate_missing
    from tests.conftest import DEMO_INVENTORY

    tmp = tmp_path_factory.mktemp("api")
    inventory = tmp / "inventory"
    import shutil

    shutil.copytree(DEMO_INVENTORY, inventory)
    octet = random.randint(100, 250)
    devices = inventory / "devices.yaml"
    devices.write_text(re.sub(r"127\.0\.0\.(\d+)", rf"127.0.{octet}.\1", devices.read_text()))
    secrets = tmp / "secrets.yaml"
    generate_missing(secrets, check_inventory(inventory)[0].secret_names())
    ctx = Context.open(Settings(data_dir=tmp / "data", inventory_dir=inventory,
                                secrets_file=secrets, drift_interval_s=0,
                                allowed_hosts="testserver"))
    with ctx.store.session() as session:
        user = add_user(session, "robot", "kata-sandi-robot-1", "admin", actor="test")
        TOKEN["value"] = create_api_token(session, user, "schemathesis", actor="test",
                                          expires_at=token_expiry(1))
    app = create_admin_app(ctx)
    # The schema is for logged-in engineers only.
    yield schemathesis.openapi.from_asgi("/api/openapi.json", app,
                                         headers={"Authorization": f"Bearer {TOKEN['value']}"})
    ctx.close()


def test_api_conforms_to_its_schema(api_schema: schemathesis.BaseSchema) -> None:
    headers = {"Authorization": f"Bearer {TOKEN['value']}"}
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 15
    # Revoking tokens last: an id it tries may be the robot's own token.
    operations.sort(key=lambda op: op.method.upper() == "DELETE"
                    and op.path.endswith("/tokens/{token_id}"))
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers)

        try:
            check()
        except BaseException as exc:  # noqa: BLE001 - collect every operation's failure
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:2000])
    assert not failures, "\n\n".join(failures)


def test_the_schema_covers_the_api(api_schema: object, tmp_path: Path) -> None:
    paths = set(api_schema.raw_schema["paths"])  # type: ignore[attr-defined]
    for expected in ("/api/v1/sites", "/api/v1/devices", "/api/v1/config/pushes",
                     "/api/v1/hotspots/{name}/sessions", "/api/v1/vouchers", "/api/v1/audit",
                     "/api/v1/users"):
        assert expected in paths
