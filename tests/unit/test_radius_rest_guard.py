"""Only FreeRADIUS may call /api/v1/radius/*: its TCP peer in SIMPUL_RADIUS_REST_FROM and its
bearer token (the secret radius_rest_token), and the NAS it names must be a radius hotspot."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from controller.context import Context
from controller.inventory import check_inventory
from controller.secrets import SecretStore, generate_missing
from controller.settings import Settings
from controller.web.app import create_admin_app
from tests.conftest import DEMO_INVENTORY

URL = "/api/v1/radius/post-auth"


@pytest.fixture(scope="module")
def app_and_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, str]]:
    tmp = tmp_path_factory.mktemp("radius-guard")
    inventory = tmp / "inventory"
    shutil.copytree(DEMO_INVENTORY, inventory)
    secrets = tmp / "secrets.yaml"
    generate_missing(secrets, [*check_inventory(inventory)[0].secret_names(),
                               "radius_rest_token"])
    token = SecretStore.load(secrets).get("radius_rest_token")
    assert token
    ctx = Context.open(Settings(data_dir=tmp / "data", inventory_dir=inventory,
                                secrets_file=Path(secrets), drift_interval_s=0,
                                allowed_hosts="testserver", radius_rest_from="127.0.0.0/8"))
    yield create_admin_app(ctx), token
    ctx.close()


def post(app: object, peer: str, token: str, nas: str = "pasar-besar") -> int:
    client = TestClient(app, client=(peer, 40000))  # type: ignore[arg-type]
    return client.post(URL, json={}, headers={"Authorization": f"Bearer {token}",
                                              "X-Simpul-NAS": nas}).status_code


def test_a_peer_outside_the_freeradius_hosts_is_refused(app_and_token: tuple[object, str]) -> None:
    app, token = app_and_token
    assert post(app, "192.0.2.7", token) == 403  # the right token from elsewhere: refused


def test_a_wrong_token_is_refused(app_and_token: tuple[object, str]) -> None:
    app, token = app_and_token
    assert post(app, "127.0.0.1", token + "x") == 401
    assert post(app, "127.0.0.1", "") == 401


def test_the_nas_must_be_a_radius_hotspot(app_and_token: tuple[object, str]) -> None:
    app, token = app_and_token
    assert post(app, "127.0.0.1", token, nas="taman-kota") == 404  # adapter nftables
    assert post(app, "127.0.0.1", token, nas="no-such-hotspot") == 404
    assert post(app, "127.0.0.1", token) not in (401, 403, 404)  # FreeRADIUS itself gets in
