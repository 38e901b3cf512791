"""Citizens' personal data (UU PDP 27/2022): MAC hashes live as long as their period, the SMS
outbox forgets, and in production the salt is only in the secret store."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from captive_portal.clock import utcnow
from captive_portal.privacy import period_key, pseudonym
from captive_portal.service import Portal
from captive_portal.sms import OutboxSender
from controller.secrets import SecretsError
from controller.store.portal import MonthlyDevices, PortalSession
from controller.store.reach import HotspotReach
from tests.conftest import ROOT
from tests.unit.portal_helpers import open_portal

WIB = timedelta(hours=7)  # the demo's hotspots are in Asia/Jakarta
MACS = {"10.200.0.41": "02:00:00:00:00:41", "10.200.0.42": "02:00:00:00:00:42"}


@pytest.fixture
def portal(tmp_path: Path, demo_inventory: Path, demo_secrets: Path) -> Portal:
    portal, gateways = open_portal(tmp_path, demo_inventory)
    gateways["taman-kota"].macs.update(MACS)
    return portal


def rows(portal: Portal) -> list[PortalSession]:
    with portal.store.session() as s:
        return list(s.scalars(select(PortalSession).order_by(PortalSession.id)))


def test_a_mac_is_hashed_under_its_day_and_its_month_key(portal: Portal) -> None:
    """The old hash (salt, MAC) linked a device's sessions for the whole 90 days kept."""
    ip, mac = next(iter(MACS.items()))
    portal.login.log_in(ip, "click_through", accepted_terms=True)
    [row] = rows(portal)
    local = datetime.now(UTC) + WIB
    day_key = period_key(portal.login.salt, f"day:{local:%Y-%m-%d}")
    month_key = period_key(portal.login.salt, f"month:{local:%Y-%m}")
    assert row.client_hash == pseudonym(day_key, "mac", mac)
    assert row.month_hash == pseudonym(month_key, "mac", mac)
    assert pseudonym(portal.login.salt, "mac", mac) not in (row.client_hash, row.month_hash)
    hotspot = portal.ctx.inventory.hotspots["taman-kota"]
    today = portal.login.device_hashes(hotspot, mac, utcnow())
    tomorrow = portal.login.device_hashes(hotspot, mac, utcnow() + timedelta(days=1))
    assert today[0] != tomorrow[0]  # unlinkable from one day to the next


def test_day_hashes_go_when_the_day_closes_and_month_hashes_once_the_month_is_counted(
        portal: Portal) -> None:
    for ip in MACS:
        view = portal.login.log_in(ip, "click_through", accepted_terms=True)
        portal.accounting.disconnect(view.id, "test")
    first_ip = next(iter(MACS))
    portal.login.log_in(first_ip, "click_through", accepted_terms=True)  # the same device again
    month = f"{datetime.now(UTC) + WIB:%Y-%m}"
    assert portal.stats.distinct_devices(month) == {"taman-kota": 2}

    assert portal.accounting.forget_closed_periods() == 0  # today's hashes are in use
    assert all(r.client_hash and r.month_hash for r in rows(portal))

    tomorrow = utcnow() + timedelta(days=1)
    assert portal.accounting.forget_closed_periods(tomorrow) == 3
    assert [r.client_hash for r in rows(portal)] == [None, None, None]
    assert all(r.month_hash for r in rows(portal))  # the month is still open

    local = datetime.now(UTC) + WIB
    next_month = (local.replace(day=28) + timedelta(days=5)).replace(day=2) - WIB
    assert portal.accounting.forget_closed_periods(next_month) == 3
    assert [r.month_hash for r in rows(portal)] == [None, None, None]
    with portal.store.session() as s:
        [counted] = s.scalars(select(MonthlyDevices))
        assert (counted.month, counted.hotspot, counted.devices) == (month, "taman-kota", 2)
    assert portal.stats.distinct_devices(month) == {"taman-kota": 2}
    # Reach was stored before the hashes went: 2 devices on the day and in the month.
    with portal.store.session() as s:
        stored = {r.period: (r.sessions, r.devices) for r in s.scalars(select(HotspotReach))}
    assert stored == {f"{local:%Y-%m-%d}": (3, 2), month: (3, 2)}


def test_the_reaper_forgets_closed_days_on_its_own(portal: Portal) -> None:
    ip = next(iter(MACS))
    view = portal.login.log_in(ip, "click_through", accepted_terms=True)
    portal.accounting.disconnect(view.id, "test")
    with portal.store.session() as s:
        s.execute(update(PortalSession).values(started_at=utcnow() - timedelta(days=2)))
    portal.accounting.account_and_reap()
    [row] = rows(portal)
    assert row.client_hash is None


def test_the_outbox_masks_expired_codes_and_drops_old_lines(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    outbox = OutboxSender(path, keep_days=7, mask_after_s=300)
    outbox.send("+6281234567890", "Kode WiFi Taman: 123456. Your WiFi code: 123456.")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    now = datetime.now(UTC)
    outbox.prune(now + timedelta(minutes=1))
    assert "123456" in path.read_text()  # still valid: the demo reads it here
    outbox.prune(now + timedelta(minutes=6))
    [line] = [json.loads(text) for text in path.read_text().splitlines()]
    assert "123456" not in line["text"] and "******" in line["text"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    outbox.prune(now + timedelta(days=7, minutes=1))
    assert path.read_text() == ""


def test_the_portals_retention_purge_prunes_its_outbox(portal: Portal, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    old = (datetime.now(UTC) - timedelta(days=8)).isoformat()
    outbox.write_text(json.dumps({"at": old, "to": "+6281200000000", "text": "Kode 654321"})
                      + "\n")
    portal.accounting.purge_old_records()
    assert outbox.read_text() == ""


def test_in_production_the_salt_comes_only_from_the_secret_store(
        tmp_path: Path, demo_inventory: Path, demo_secrets: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    with pytest.raises(SecretsError, match="portal_salt is not set"):
        open_portal(tmp_path, demo_inventory, portal_salt_file_allowed=False)
    assert not (data / "portal-salt").exists()
    # The demo creates the file; production then says where the value must go.
    open_portal(tmp_path, demo_inventory)
    assert (data / "portal-salt").exists()
    with pytest.raises(SecretsError, match="move the value in .*portal-salt there"):
        open_portal(tmp_path, demo_inventory, portal_salt_file_allowed=False)
    monkeypatch.setenv("SIMPUL_SECRET_PORTAL_SALT", "z" * 64)
    portal, _ = open_portal(tmp_path, demo_inventory, portal_salt_file_allowed=False)
    assert portal.login.salt == b"z" * 64


def test_serve_refuses_to_start_without_the_salt_in_production(
        tmp_path: Path, demo_inventory: Path, demo_secrets: Path) -> None:
    env = {**os.environ, "SIMPUL_DATA_DIR": str(tmp_path / "data"),
           "SIMPUL_INVENTORY_DIR": str(demo_inventory), "SIMPUL_SECRETS_FILE": str(demo_secrets),
           "SIMPUL_PORTAL_SALT_FILE_ALLOWED": "false", "SIMPUL_ADMIN_LISTEN": "127.0.0.1:1",
           "SIMPUL_PORTAL_LISTEN": "127.0.0.1:1"}
    env.pop("SIMPUL_SECRET_PORTAL_SALT", None)
    done = subprocess.run([sys.executable, "-m", "controller.cli", "serve"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "portal_salt is not set" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "data" / "portal-salt").exists()
