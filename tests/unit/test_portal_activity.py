"""What the portal's background rounds do to a citizen: traffic keeps a session alive past the
idle timeout, and a session whose time ran out is never let through again by the reconciler."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from captive_portal.clock import utcnow
from captive_portal.gateways.base import Client, Grant
from captive_portal.gateways.memory import MemoryGateway
from captive_portal.service import Portal
from controller.store.portal import PortalSession
from tests.unit.portal_helpers import open_portal

HOTSPOT, IP, MAC = "taman-kota", "10.200.0.41", "02:11:22:33:44:66"  # demo idle_timeout 15m
CITIZEN = Client(IP, MAC)


def portal_does(portal: Portal, action: str) -> Any:
    """The one place these tests call the portal: a login, a round of the session reaper or
    of the gateway reconciler (what `serve` runs in the background), or the open sessions."""
    if action == "login":
        return portal.login.log_in(IP, "click_through", accepted_terms=True)
    if action == "reap":
        return portal.accounting.account_and_reap()
    if action == "reconcile":
        return portal.reconciler.reconcile()
    if action == "open sessions":
        return portal.stats.list_active_sessions(HOTSPOT)
    raise ValueError(action)


@pytest.fixture
def setup(tmp_path: Path, demo_inventory: Path, demo_secrets: Path
          ) -> tuple[Portal, MemoryGateway]:
    portal, gateways = open_portal(tmp_path, demo_inventory)
    gateway = gateways[HOTSPOT]
    gateway.macs[IP] = MAC
    return portal, gateway


def _shift_session(portal: Portal, **ago: timedelta) -> None:
    """Move the citizen's session back in time: what the store would hold that long later."""
    now = utcnow()
    with portal.store.session() as s:
        s.execute(update(PortalSession).values({k: now - v for k, v in ago.items()}))


def _end_reasons(portal: Portal) -> list[str | None]:
    with portal.store.session() as s:
        return list(s.scalars(select(PortalSession.end_reason)))


def test_a_citizen_who_keeps_browsing_stays_online_past_the_idle_timeout(setup) -> None:  # type: ignore[no-untyped-def]
    portal, gateway = setup
    portal_does(portal, "login")
    # Sixteen minutes later (idle timeout 15 minutes) the citizen is still moving data.
    _shift_session(portal, started_at=timedelta(minutes=16),
                   last_activity_at=timedelta(minutes=16))
    gateway.bytes[CITIZEN] = (12_000, 480_000)
    report = portal_does(portal, "reap")
    assert dict(report.ended) == {}
    assert [s.bytes_down for s in portal_does(portal, "open sessions")] == [480_000]
    assert [a.client for a in gateway.allowed()] == [CITIZEN]
    # The traffic counted as activity: the next quarter of an hour starts from now.
    _shift_session(portal, last_activity_at=timedelta(minutes=14))
    gateway.bytes[CITIZEN] = (12_000, 480_000)  # nothing more since
    assert dict(portal_does(portal, "reap").ended) == {}
    _shift_session(portal, last_activity_at=timedelta(minutes=15, seconds=1))
    assert dict(portal_does(portal, "reap").ended) == {"idle": 1}
    assert gateway.allowed() == [] and _end_reasons(portal) == ["idle"]


def test_the_reconciler_does_not_let_an_expired_session_back_in(setup) -> None:  # type: ignore[no-untyped-def]
    portal, gateway = setup
    portal_does(portal, "login")
    granted: list[Grant] = []
    allow = gateway.allow
    gateway.allow = lambda grants: (granted.extend(grants), allow(grants))[1]  # type: ignore[method-assign]
    # The session's time ran out a second ago; the gateway dropped the client on its own
    # timer; the reaper has not run yet, so the session is still open in the store.
    _shift_session(portal, expires_at=timedelta(seconds=1))
    gateway.flush()
    report = portal_does(portal, "reconcile")
    assert (report.added, report.removed) == (0, 0)
    assert granted == [] and gateway.allowed() == []
    # The reaper then ends it for its timeout; nothing is re-granted after that either.
    assert dict(portal_does(portal, "reap").ended) == {"timeout": 1}
    assert portal_does(portal, "reconcile").added == 0 and granted == []
    assert _end_reasons(portal) == ["timeout"]
