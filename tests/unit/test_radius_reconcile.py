"""adapter radius: the reconciler takes the NAS's accounting as its truth. An open session the
NAS has not reported for radius_stale_intervals x radius_interim_interval_s (or never, since
its start) is ended and disconnected; one the store has closed but the NAS still reports in
accounting gets a Disconnect-Request from the accounting endpoint. Pasar Besar is the demo's
radius hotspot (client subnet 10.200.12.0/22)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import update

from captive_portal.clock import utcnow
from captive_portal.gateways.base import AllowedClient, Client
from captive_portal.gateways.memory import MemoryGateway
from captive_portal.gateways.pool import GatewayPool
from captive_portal.gateways.radius import RadiusGateway
from captive_portal.service import Portal, install_portal
from controller.context import Context
from controller.inventory import check_inventory
from controller.secrets import SecretStore, generate_missing
from controller.settings import Settings
from controller.store.portal import PortalSession, RadiusLogin
from controller.web.app import create_admin_app
from tests.conftest import DEMO_INVENTORY

HOTSPOT = "pasar-besar"


class NasGateway(MemoryGateway):
    """What the portal sees of a RADIUS NAS: no allowed set; each Disconnect-Request kept."""

    def __init__(self) -> None:
        super().__init__()
        self.disconnected: list[Client] = []

    def allowed(self) -> list[AllowedClient]:
        return []

    def revoke(self, clients: Sequence[Client]) -> None:
        self.disconnected += clients


def _portal(tmp_path: Path) -> tuple[Portal, NasGateway, str]:
    secrets = tmp_path / "secrets.yaml"
    generate_missing(secrets, [*check_inventory(DEMO_INVENTORY)[0].secret_names(),
                               "radius_rest_token"])
    ctx = Context.open(Settings(
        data_dir=tmp_path / "data", inventory_dir=DEMO_INVENTORY, secrets_file=secrets,
        drift_interval_s=0, allowed_hosts="testserver", radius_rest_from="127.0.0.0/8",
        radius_interim_interval_s=300, radius_stale_intervals=3))
    nas = NasGateway()
    portal = Portal(ctx, gateway_factory=lambda hotspot: nas)
    install_portal(portal)
    return portal, nas, SecretStore.load(secrets).get("radius_rest_token") or ""


def _accepted(portal: Portal, last: int) -> tuple[int, str, str]:
    """A citizen admitted at the portal whose credential RADIUS accepted: (session, user,
    MAC)."""
    ip, mac = f"10.200.12.{last}", f"02:00:5e:00:00:{last:02x}"
    session = portal.login.log_in(ip, "click_through", accepted_terms=True, nas_mac=mac)
    credential = portal.radius.issue(session.id, HOTSPOT, mac)
    assert portal.radius.authenticate(HOTSPOT, credential.username, credential.password, mac)
    return session.id, credential.username, mac


def _report(portal: Portal, user: str, status: str, up: int = 0) -> Client | None:
    body: dict[str, Any] = {"User-Name": user, "Acct-Status-Type": status,
                            "Acct-Input-Octets": up, "Acct-Output-Octets": 8 * up}
    return portal.radius.account(HOTSPOT, {k: {"type": "x", "value": [v]}
                                           for k, v in body.items()})


def _age(portal: Portal, session_id: int, started_s: int, reported_s: int | None) -> None:
    now = utcnow()
    with portal.ctx.store.session() as db:
        db.execute(update(PortalSession).where(PortalSession.id == session_id).values(
            started_at=now - timedelta(seconds=started_s)))
        if reported_s is not None:
            db.execute(update(RadiusLogin).where(RadiusLogin.session_id == session_id).values(
                acct_at=now - timedelta(seconds=reported_s)))


def _ended(portal: Portal, session_id: int) -> str | None:
    with portal.ctx.store.session() as db:
        row = db.get(PortalSession, session_id)
        assert row is not None
        return row.end_reason if row.ended_at is not None else None


def test_sessions_the_nas_stopped_reporting_are_ended_and_disconnected(tmp_path: Path) -> None:
    portal, nas, _ = _portal(tmp_path)
    try:
        # 3 intervals of 300 s: 900 s without a report ends a session.
        reported, silent, never, fresh = (_accepted(portal, n) for n in (11, 12, 13, 14))
        for _, user, _ in (reported, silent):
            assert _report(portal, user, "Start") is None
        assert _report(portal, reported[1], "Interim-Update", up=1000) is None
        _age(portal, reported[0], started_s=5000, reported_s=880)  # old, but reported lately
        _age(portal, silent[0], started_s=5000, reported_s=920)
        _age(portal, never[0], started_s=920, reported_s=None)  # no accounting since its start
        _age(portal, fresh[0], started_s=880, reported_s=None)

        report = portal.reconciler.reconcile()
        assert report.ended == 2
        assert [_ended(portal, s) for s, _, _ in (reported, silent, never, fresh)] == [
            None, "nas-silent", "nas-silent", None]
        assert nas.disconnected == [Client("10.200.12.12", silent[2]),
                                    Client("10.200.12.13", never[2])]
        # The NAS's counters are cumulative: reconciling does not make it count them again.
        assert _report(portal, reported[1], "Interim-Update", up=1000) is None
        with portal.ctx.store.session() as db:
            row = db.get(PortalSession, reported[0])
            assert row is not None and (row.bytes_up, row.bytes_down) == (1000, 8000)
    finally:
        portal.close()
        portal.ctx.close()


def test_a_session_the_store_closed_but_the_nas_reports_is_disconnected(
        tmp_path: Path) -> None:
    portal, nas, token = _portal(tmp_path)
    try:
        session_id, user, mac = _accepted(portal, 21)
        assert portal.accounting.disconnect(session_id, "budi")
        assert nas.disconnected == [Client("10.200.12.21", mac)]
        # The NAS missed it (or was down) and still reports the session: disconnected again,
        # as the NAS names the client (RFC 3580 MAC form).
        body = {"User-Name": user, "Acct-Status-Type": "Interim-Update",
                "Framed-IP-Address": "10.200.12.21", "Calling-Station-Id": "02-00-5E-00-00-15",
                "Acct-Input-Octets": 10}
        answer = TestClient(create_admin_app(portal.ctx), client=("127.0.0.1", 40000)).post(
            "/api/v1/radius/accounting", json={k: {"type": "x", "value": [v]}
                                               for k, v in body.items()},
            headers={"Authorization": f"Bearer {token}", "X-Simpul-NAS": HOTSPOT})
        assert answer.status_code == 204
        assert nas.disconnected == [Client("10.200.12.21", mac)] * 2
    finally:
        portal.close()
        portal.ctx.close()


def test_disconnect_source_setting_is_checked_and_reaches_the_radius_adapter(
        tmp_path: Path) -> None:
    """SIMPUL_RADIUS_DISCONNECT_SOURCE: an IP address or empty (the OS chooses); the pool
    gives it to each radius adapter, whose Disconnect-Requests then leave from it."""
    with pytest.raises(ValidationError, match="SIMPUL_RADIUS_DISCONNECT_SOURCE 'radius-host'"):
        Settings(radius_disconnect_source="radius-host")
    assert Settings(radius_disconnect_source=" ").radius_disconnect_source is None
    assert Settings(radius_disconnect_source="::1").radius_disconnect_source == "::1"

    secrets = tmp_path / "secrets.yaml"
    generate_missing(secrets, check_inventory(DEMO_INVENTORY)[0].secret_names())
    for source in ("127.0.0.9", None):
        ctx = Context.open(Settings(data_dir=tmp_path / "data", inventory_dir=DEMO_INVENTORY,
                                    secrets_file=secrets, radius_disconnect_source=source))
        try:
            adapter = GatewayPool(ctx).get(HOTSPOT)
            assert isinstance(adapter, RadiusGateway) and adapter._source == source
        finally:
            ctx.close()
