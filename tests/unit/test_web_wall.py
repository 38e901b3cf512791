"""/wall (display tokens swapped for a session tied to the token) and /publik (no login,
aggregates only, cached) through HTTP."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from controller.auth import create_api_token, login, revoke_api_token
from controller.context import Context
from controller.settings import Settings
from controller.store.models import AuditLog, User
from controller.store.portal import PortalSession
from controller.store.users import UserError, add_user
from controller.web.app import create_admin_app
from tests.conftest import DEMO_INVENTORY

PASSWORD = "kata-sandi-rahasia-1"
# What must never appear on /publik: IPv4, IPv6, MAC, Indonesian phone numbers.
IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
IPV6 = re.compile(r"\b[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{0,4}){2,7}\b")
MAC = re.compile(r"\b[0-9a-fA-F]{2}(?:[:-][0-9a-fA-F]{2}){5}\b")
PHONE = re.compile(r"(?:\+62|\b62|\b0)8\d{7,11}\b")


@pytest.fixture
def ctx(tmp_path: Path, demo_secrets: Path) -> Iterator[Context]:
    settings = Settings(data_dir=tmp_path / "data", inventory_dir=DEMO_INVENTORY,
                        secrets_file=demo_secrets, allowed_hosts="testserver",
                        public_min_count=3)
    context = Context.open(settings)
    with context.store.session() as session:
        add_user(session, "siti", PASSWORD, "viewer", actor="test")
        add_user(session, "tv-lobi", "", "display", actor="test")
    yield context
    context.close()


@pytest.fixture
def client(ctx: Context) -> TestClient:
    return TestClient(create_admin_app(ctx))


def display_token(ctx: Context, *, expires: datetime | None = None) -> str:
    with ctx.store.session() as session:
        user = session.scalar(select(User).where(User.username == "tv-lobi"))
        assert user is not None
        return create_api_token(session, user, "lobi", actor="test", expires_at=expires)


def test_without_a_token_or_session_the_wall_is_only_a_login(client: TestClient) -> None:
    for path in ("/wall", "/wall?token=simpul_wrong"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/wall"  # no token in it
    assert client.get("/wall/panel").status_code == 401
    assert client.get("/wall/panel").headers["hx-redirect"] == "/login?next=/wall"
    assert client.get("/wall/map.json").status_code == 401


def test_a_display_token_becomes_a_cookie_and_leaves_no_trace(
        client: TestClient, ctx: Context, caplog: pytest.LogCaptureFixture) -> None:
    token = display_token(ctx)  # never expires: display accounts only
    caplog.set_level(logging.DEBUG)
    response = client.get(f"/wall?token={token}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/wall"
    assert "simpul_session=" in response.headers["set-cookie"]
    page = client.get("/wall")
    assert page.status_code == 200
    assert "Pusat Komando" in page.text and 'hx-get="/wall/panel"' in page.text
    assert "lokasi aktif" in page.text and "warga daring sekarang" in page.text
    assert client.get("/wall/panel").status_code == 200
    markers = client.get("/wall/map.json").json()
    assert {"markers", "links"} <= markers.keys() and markers["links"]
    # The token is in no server log line (the test client's own httpx log aside; the real
    # server's log is checked in tests/browser/test_wall.py), no audit row, no page.
    server_lines = [r.getMessage() for r in caplog.records if r.name != "httpx"]
    assert server_lines is not None and not [line for line in server_lines if token[8:] in line]
    with ctx.store.session() as session:
        audit = [(a.action, a.result, str(a.detail)) for a in session.scalars(select(AuditLog))]
    assert ("display.login", "ok") in [(a, r) for a, r, _ in audit]
    assert all(token not in detail for _, _, detail in audit)
    assert token not in page.text
    # A display session sees the wall only.
    assert client.get("/devices", follow_redirects=False).status_code == 403
    assert client.get("/api/v1/sites").status_code == 403


def test_revoking_the_token_ends_the_wall_session(client: TestClient, ctx: Context) -> None:
    token = display_token(ctx)
    client.get(f"/wall?token={token}")
    assert client.get("/wall/panel").status_code == 200
    with ctx.store.session() as session:
        [row] = [t for t in __import__("controller.auth", fromlist=["x"]).list_api_tokens(
            session, username="tv-lobi")]
        revoke_api_token(session, row.id, actor="test")
    assert client.get("/wall/panel").status_code == 401
    assert client.get("/wall", follow_redirects=False).headers["location"] == \
        "/login?next=/wall"


def test_display_accounts_have_no_password_and_others_no_token_swap(
        client: TestClient, ctx: Context) -> None:
    with ctx.store.session() as session, pytest.raises(UserError, match="no password"):
        add_user(session, "tv-2", PASSWORD, "display", actor="test")
    with ctx.store.session() as session, pytest.raises(Exception, match="bad_credentials"):
        login(session, "tv-lobi", "", source="test")
    with ctx.store.session() as session:
        viewer = session.scalar(select(User).where(User.username == "siti"))
        assert viewer is not None
        with pytest.raises(UserError, match="never expire"):
            create_api_token(session, viewer, "x", actor="test", expires_at=None)
        engineer = create_api_token(session, viewer, "x", actor="test",
                                    expires_at=datetime.now(UTC) + timedelta(days=1))
    # An engineer's token in a URL opens nothing.
    response = client.get(f"/wall?token={engineer}", follow_redirects=False)
    assert response.headers["location"] == "/login?next=/wall"
    assert "simpul_session" not in response.headers.get("set-cookie", "")


def test_engineers_see_the_wall_with_their_login(client: TestClient) -> None:
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    client.post("/login", data={"username": "siti", "password": PASSWORD, "csrf_token": csrf})
    assert client.get("/wall").status_code == 200


def add_sessions(ctx: Context, hotspot: str, count: int, start: datetime) -> None:
    """Closed sessions with demo-like personal data still on them (as if not yet erased)."""
    with ctx.store.session() as session:
        for i in range(count):
            session.add(PortalSession(
                hotspot=hotspot, method="phone_otp", client_ip=f"10.200.0.{10 + i}",
                client_mac=f"02:00:00:00:00:{i:02x}", client_hash=f"d{i}", month_hash=f"m{i}",
                phone_hash="p" * 64, started_at=start + timedelta(minutes=i),
                last_activity_at=start, expires_at=start + timedelta(hours=1),
                ended_at=start + timedelta(minutes=30 + i), bytes_up=1_000_000,
                bytes_down=4_000_000))


def test_publik_shows_aggregates_only_and_hides_small_counts(client: TestClient,
                                                              ctx: Context) -> None:
    now = datetime.now(UTC)
    add_sessions(ctx, "taman-kota", 2, now - timedelta(hours=2))  # threshold is 3: hidden
    page = client.get("/publik")
    assert page.status_code == 200 and "no-store" not in page.headers.get("cache-control", "")
    assert "public, max-age=60" == page.headers["cache-control"]
    assert "&lt; 3" in page.text and "Taman Kota Kuala Kahayan" in page.text
    for pattern in (IPV4, IPV6, MAC, PHONE):
        assert not pattern.search(page.text), pattern.pattern
    assert "set-cookie" not in page.headers


def test_publik_is_cached_and_counts_above_the_threshold_show(ctx: Context,
                                                             tmp_path: Path) -> None:
    client = TestClient(create_admin_app(ctx))
    first = client.get("/publik").text
    add_sessions(ctx, "alun-alun", 4, datetime.now(UTC) - timedelta(hours=3))
    assert client.get("/publik").text == first  # cached: the store is not read again
    fresh = TestClient(create_admin_app(ctx)).get("/publik").text
    # 4 sessions, 4 devices, 4 x 5 MB = 0.02 GB -> '0,0'
    row = re.search(r"<td>(\d{4}-\d{2}) \(berjalan / so far\)</td>\s*<td class=\"n\">([^<]+)"
                    r"</td>\s*<td class=\"n\">([^<]+)</td>", fresh)
    assert row is not None and (row.group(2), row.group(3)) == ("4", "4"), fresh


def test_the_wall_says_when_alertmanager_does_not_answer(tmp_path: Path,
                                                        demo_secrets: Path) -> None:
    from tests.conftest import free_port

    settings = Settings(data_dir=tmp_path / "data", inventory_dir=DEMO_INVENTORY,
                        secrets_file=demo_secrets, allowed_hosts="testserver",
                        alertmanager_url=f"http://127.0.0.1:{free_port()}")  # nothing listens
    ctx = Context.open(settings)
    try:
        with ctx.store.session() as session:
            add_user(session, "siti", PASSWORD, "viewer", actor="test")
        client = TestClient(create_admin_app(ctx))
        page = client.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"username": "siti", "password": PASSWORD,
                                    "csrf_token": csrf})
        panel = client.get("/wall/panel").text
        assert "Alertmanager tidak menjawab (ConnectError)" in panel
        assert "Peringatan aktif (0)" in panel and "lokasi belum terpantau" in panel
    finally:
        ctx.close()


def test_the_public_cache_makes_one_value_at_a_time_and_serves_the_old_one_meanwhile() -> None:
    import threading

    from controller.web.pages.wall import TtlCache

    cache = TtlCache(ttl_s=0)  # every value is already old: only the making lock spares it
    made: list[int] = []
    release = threading.Event()

    def make() -> int:
        made.append(1)
        if len(made) == 2:
            release.wait(10)
        return len(made)

    assert cache.get("k", make) == 1
    slow = threading.Thread(target=cache.get, args=("k", make))
    slow.start()
    while len(made) < 2:
        pass
    assert cache.get("k", make) == 1  # the old value, at once; no third computation
    release.set()
    slow.join()
    assert len(made) == 2 and cache.get("k", lambda: 99) == 99


def test_publik_and_the_wall_show_what_the_regency_pays(client: TestClient) -> None:
    # inventory/contracts.yaml: Telkom Rp 85.000.000 + Lintasarta Rp 47.500.000 a month.
    page = client.get("/publik").text
    assert 'id="publik-money"' in page and "Rp 132.500.000" in page
    wall = client.get(f"/wall?token={display_token(client.app.state.ctx)}")  # type: ignore[attr-defined]
    assert 'id="wall-money"' in wall.text and "Rp 132.500.000" in wall.text


def test_publik_and_the_wall_show_this_months_availability(client: TestClient) -> None:
    from controller.store.accountability import AvailabilityRun

    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    now = int(datetime.now(UTC).timestamp())
    with ctx.store.session() as session:  # the last two minutes: one up, one down -> 50 %
        session.add_all([
            AvailabilityRun(kind="link", subject="isp-telkom", state="up", start_ts=now - 120,
                            end_ts=now - 60),
            AvailabilityRun(kind="link", subject="isp-telkom", state="down", start_ts=now - 60,
                            end_ts=now),
            AvailabilityRun(kind="site", subject="setda", state="up", start_ts=now - 120,
                            end_ts=now)])
    page = client.get("/publik").text
    section = page[page.index('id="publik-availability"'):]
    assert "(berjalan / so far)</td>" in section and "50,00%" in section  # Telkom only
    assert "tidak ada data / no data" in section and "(WIB)" in section    # earlier months
    wall = client.get(f"/wall?token={display_token(ctx)}").text
    card = wall[wall.index('id="wall-sla-isp-telkom"'):]
    assert "50,00%" in card[:200] and "tidak terpenuhi" in card[:300]
    assert "100,00%</b><span>lokasi aktif bulan ini" in wall   # setda, the only site with data
