"""The engineers' app through HTTP: login, lockout, roles, CSRF, API tokens, language."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from controller.context import Context
from controller.settings import Settings
from controller.store.auth import ApiToken
from controller.store.models import AuditLog, User
from controller.store.users import add_user
from controller.web.app import create_admin_app
from controller.web.i18n import ID
from tests.conftest import DEMO_INVENTORY

PASSWORD = "kata-sandi-rahasia-1"


@pytest.fixture
def ctx(tmp_path: Path, demo_secrets: Path) -> Iterator[Context]:
    settings = Settings(data_dir=tmp_path / "data", inventory_dir=DEMO_INVENTORY,
                        secrets_file=demo_secrets, allowed_hosts="testserver")
    context = Context.open(settings)
    with context.store.session() as session:
        for name, role in (("admin", "admin"), ("budi", "operator"), ("siti", "viewer")):
            add_user(session, name, PASSWORD, role, actor="test")
    yield context
    context.close()


@pytest.fixture
def client(ctx: Context) -> TestClient:
    return TestClient(create_admin_app(ctx))


def post_login(client: TestClient, username: str, password: str = PASSWORD,
               **fields: str) -> httpx.Response:
    """Submit the login form as a browser does: fetch the page for its login-CSRF token."""
    page = client.get("/login")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": match.group(1), **fields},
                       follow_redirects=False)


def log_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    response = post_login(client, username, password)
    assert response.status_code == 303, response.text
    return csrf_of(client)


def csrf_of(client: TestClient) -> str:
    page = client.get("/password")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def test_pages_need_login_and_the_session_cookie_is_strict(client: TestClient) -> None:
    response = client.get("/devices", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/devices"
    response = post_login(client, "admin", next="/devices")
    cookie = response.headers["set-cookie"]
    assert "simpul_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert response.headers["location"] == "/devices"
    page = client.get("/devices")
    assert page.status_code == 200 and "dinkes-r1" in page.text
    # An open redirect is refused.
    client.cookies.clear()
    response = post_login(client, "admin", next="//evil.example/x")
    assert response.headers["location"] == "/"


def test_wrong_password_then_lockout_is_audited(client: TestClient, ctx: Context) -> None:
    for _ in range(5):
        response = post_login(client, "budi", "salah-salah")
        assert response.status_code == 401 and "kata sandi salah" in response.text
    response = post_login(client, "budi", PASSWORD)
    assert response.status_code == 401  # locked now: even the right password is refused
    with ctx.store.session() as session:
        results = session.scalars(select(AuditLog.result).where(
            AuditLog.action == "user.login", AuditLog.actor == "budi")).all()
        assert results.count("failed") == 5 and results[-1] == "locked"
        assert "ok" not in results
        budi = session.scalar(select(User).where(User.username == "budi"))
        assert budi is not None and budi.failed_logins == 5 and budi.locked_until is not None


def test_refused_logins_look_alike_and_cost_one_verify_each(
    client: TestClient, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unknown, locked, disabled and wrong-password logins: one message, one status, one argon2
    verify and no hashing (an unknown user used to cost a hash plus a verify)."""
    from controller.store import users

    with ctx.store.session() as session:
        add_user(session, "mati", PASSWORD, "viewer", actor="test").disabled = True
    for _ in range(5):
        post_login(client, "siti", "salah-salah")
    calls: list[str] = []
    real = users._hasher

    class Counting:
        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        def verify(self, *args: str) -> bool:
            calls.append("verify")
            return real.verify(*args)

        def hash(self, *args: str) -> str:
            calls.append("hash")
            return real.hash(*args)

    monkeypatch.setattr(users, "_hasher", Counting())
    answers = {}
    for name, password in (("budi", "salah-salah"), ("tidak-ada", "salah-salah"),
                           ("siti", PASSWORD), ("mati", PASSWORD)):
        calls.clear()
        response = post_login(client, name, password)
        page = re.sub(r'name="csrf_token" value="[^"]+"', "", response.text)
        answers[name] = (response.status_code, page)
        assert calls == ["verify"], (name, calls)
    assert len(set(answers.values())) == 1, {k: v[0] for k, v in answers.items()}
    assert "kata sandi salah" in answers["budi"][1]


def test_typed_unknown_usernames_are_not_stored_as_audit_actors(
    client: TestClient, ctx: Context
) -> None:
    post_login(client, "kata-sandi-rahasia-1", "x")  # a password typed into the wrong field
    post_login(client, "budi", "salah-salah")
    with ctx.store.session() as session:
        rows = session.scalars(select(AuditLog).where(AuditLog.action == "user.login")).all()
        assert [row.actor for row in rows] == ["unknown-user", "budi"]
        assert all("kata-sandi-rahasia-1" not in str(row.detail) for row in rows)


def test_login_needs_the_login_forms_csrf_token(client: TestClient, ctx: Context) -> None:
    """Login CSRF: another site's form cannot log a browser in to an account it chose."""
    form = {"username": "admin", "password": PASSWORD}
    for extra in ({}, {"csrf_token": "forged"}):
        response = client.post("/login", data={**form, **extra}, follow_redirects=False)
        assert response.status_code == 403 and "Formulir kedaluwarsa" in response.text
        assert "simpul_session" not in client.cookies
    page = client.get("/login")
    cookie = page.headers["set-cookie"]
    assert "simpul_login_csrf=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    other = TestClient(create_admin_app(ctx))  # the attacker's token, not this browser's cookie
    refused = other.post("/login", data={**form, "csrf_token": token}, follow_redirects=False)
    assert refused.status_code == 403
    ok = client.post("/login", data={**form, "csrf_token": token}, follow_redirects=False)
    assert ok.status_code == 303 and "simpul_session" in client.cookies


def test_form_without_csrf_token_is_rejected_and_changes_nothing(
    client: TestClient, ctx: Context
) -> None:
    token = log_in(client, "admin")
    form = {"username": "andi", "password": PASSWORD, "role": "viewer"}
    response = client.post("/users", data=form)
    assert response.status_code == 403 and "Formulir kedaluwarsa" in response.text
    response = client.post("/users", data={**form, "csrf_token": "wrong"})
    assert response.status_code == 403
    with ctx.store.session() as session:
        assert session.scalar(select(User).where(User.username == "andi")) is None
    response = client.post("/users", data={**form, "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    with ctx.store.session() as session:
        assert session.scalar(select(User).where(User.username == "andi")) is not None


def test_roles_viewer_cannot_add_users(client: TestClient) -> None:
    token = log_in(client, "siti")
    response = client.post("/users", data={"username": "x1", "password": PASSWORD,
                                           "role": "admin", "csrf_token": token})
    assert response.status_code == 403 and "tidak berwenang" in response.text
    api = client.post("/api/v1/users", json={"username": "x1", "password": PASSWORD,
                                             "role": "admin"}, headers={"X-CSRF-Token": token})
    assert api.status_code == 403 and api.json()["detail"] == "your role does not allow this"


def test_api_needs_auth_and_accepts_hashed_bearer_tokens(client: TestClient, ctx: Context) -> None:
    response = client.get("/api/v1/devices")
    assert response.status_code == 401 and "authentication required" in response.json()["detail"]
    csrf = log_in(client, "budi")
    # A cookie-authenticated change needs the CSRF header.
    assert client.post("/api/v1/tokens", json={"name": "grafana"}).status_code == 403
    created = client.post("/api/v1/tokens", json={"name": "grafana"},
                          headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201
    token = created.json()["token"]
    client.cookies.clear()
    headers = {"Authorization": f"Bearer {token}"}
    devices = client.get("/api/v1/devices", headers=headers).json()
    assert {d["name"] for d in devices} >= {"noc-core", "dinkes-r1"}
    assert client.get("/api/v1/me", headers=headers).json()["username"] == "budi"
    bad = client.get("/api/v1/me", headers={"Authorization": "Bearer simpul_nope"})
    assert bad.status_code == 401
    with ctx.store.session() as session:
        stored = session.scalars(select(ApiToken.token_hash)).all()
    assert stored and token not in stored and all(len(h) == 64 for h in stored)


def test_api_tokens_expire_list_revoke_and_end_with_a_password_change(
        client: TestClient, ctx: Context) -> None:
    """Tokens used to live forever, unlisted and unrevocable, past a password change."""
    csrf = log_in(client, "budi")
    made = {}
    for name, days in (("grafana", None), ("backup", 1), ("ci", 30)):
        body = {"name": name} if days is None else {"name": name, "expires_days": days}
        response = client.post("/api/v1/tokens", json=body, headers={"X-CSRF-Token": csrf})
        assert response.status_code == 201, response.text
        made[name] = response.json()
    expires = {n: datetime.fromisoformat(m["expires_at"]) for n, m in made.items()}
    now = datetime.now(UTC)
    assert timedelta(days=89) < expires["grafana"] - now <= timedelta(days=90)  # the default
    assert timedelta(hours=23) < expires["backup"] - now <= timedelta(days=1)
    # Never-expiring tokens are for display accounts only: a role limit, so 403 (a 422 would
    # claim the schema refuses it; the API schema test found that).
    never = client.post("/api/v1/tokens", json={"name": "wall", "expires_days": "never"},
                        headers={"X-CSRF-Token": csrf})
    assert never.status_code == 403 and "never expire" in never.json()["detail"]

    bearer = {n: {"Authorization": f"Bearer {m['token']}"} for n, m in made.items()}
    assert client.get("/api/v1/me", headers=bearer["ci"]).status_code == 200
    listed = client.get("/api/v1/tokens").json()
    assert [t["name"] for t in listed] == ["ci", "backup", "grafana"]
    assert {t["status"] for t in listed} == {"active"}
    assert all(m["token"] not in str(listed) for m in made.values())
    [ci] = [t for t in listed if t["name"] == "ci"]
    assert ci["last_used_at"] is not None and ci["username"] == "budi"

    # An expired token is refused and listed as expired.
    with ctx.store.session() as session:
        session.execute(update(ApiToken).where(ApiToken.name == "backup")
                        .values(expires_at=now - timedelta(seconds=1)))
    assert client.get("/api/v1/me", headers=bearer["backup"]).status_code == 401
    assert {t["name"]: t["status"] for t in client.get("/api/v1/tokens").json()}["backup"] \
        == "expired"

    # Revoked by its owner through the API: refused from then on. Others' tokens are not theirs.
    siti = TestClient(create_admin_app(ctx))
    siti_csrf = log_in(siti, "siti")
    assert siti.get("/api/v1/tokens").json() == []
    assert siti.delete(f"/api/v1/tokens/{ci['id']}",
                       headers={"X-CSRF-Token": siti_csrf}).status_code == 404
    assert client.delete(f"/api/v1/tokens/{ci['id']}").status_code == 403  # CSRF
    assert client.delete(f"/api/v1/tokens/{ci['id']}",
                         headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/api/v1/me", headers=bearer["ci"]).status_code == 401
    assert client.get("/api/v1/me", headers=bearer["grafana"]).status_code == 200

    # The UI lists them and revokes; an admin sees and may revoke everyone's.
    page = client.get("/users")
    assert 'id="token-list"' in page.text and "grafana" in page.text and "Dicabut" in page.text
    admin = TestClient(create_admin_app(ctx))
    admin_csrf = log_in(admin, "admin")
    assert {t["username"] for t in admin.get("/api/v1/tokens").json()} == {"budi"}
    ui = admin.post("/tokens", data={"csrf_token": admin_csrf, "name": "admin-ui",
                                     "expires_days": "30"})
    assert ui.status_code == 200 and 'id="new-token"' in ui.text
    # Post/Redirect/Get: shown once on the GET that follows; a refresh neither shows it
    # again nor makes another token.
    assert [r.status_code for r in ui.history] == [303] and ui.request.method == "GET"
    shown = re.search(r'<pre id="new-token">([^<]+)</pre>', ui.text)
    assert shown and TestClient(create_admin_app(ctx)).get("/api/v1/me", headers={
        "Authorization": f"Bearer {shown.group(1)}"}).json()["username"] == "admin"
    assert 'id="new-token"' not in admin.get(str(ui.url)).text
    [admin_ui] = [t for t in admin.get("/api/v1/tokens").json() if t["name"] == "admin-ui"]
    assert admin.post(f"/tokens/{admin_ui['id']}/revoke", data={"csrf_token": admin_csrf},
                      follow_redirects=False).status_code == 303

    # A password change revokes every token of that user.
    assert client.post("/password", data={"current": PASSWORD, "new": "baru-dan-panjang-2",
                                          "csrf_token": csrf}).status_code == 200
    assert client.get("/api/v1/me", headers=bearer["grafana"]).status_code == 401
    with ctx.store.session() as session:
        actions = session.execute(select(AuditLog.action, AuditLog.actor, AuditLog.detail)
                                  .where(AuditLog.action.startswith("token.")
                                         | (AuditLog.action == "user.password"))).all()
    assert [a for a, _, _ in actions].count("token.create") == 4
    assert ("token.revoke", "budi", {"id": ci["id"], "name": "ci"}) in actions
    assert ("token.revoke", "admin", {"id": admin_ui["id"], "name": "admin-ui"}) in actions
    assert ("user.password", "budi", {"tokens_revoked": 2}) in actions  # grafana and backup


def test_a_tokens_last_use_is_written_at_most_once_a_minute(client: TestClient,
                                                             ctx: Context) -> None:
    csrf = log_in(client, "budi")
    token = client.post("/api/v1/tokens", json={"name": "poller"},
                        headers={"X-CSRF-Token": csrf}).json()["token"]
    client.cookies.clear()
    headers = {"Authorization": f"Bearer {token}"}
    client.get("/api/v1/me", headers=headers)
    with ctx.store.session() as session:
        first = session.scalar(select(ApiToken.last_used_at))
    client.get("/api/v1/me", headers=headers)
    with ctx.store.session() as session:
        assert session.scalar(select(ApiToken.last_used_at)) == first
        session.execute(update(ApiToken).values(last_used_at=datetime.now(UTC)
                                                - timedelta(minutes=2)))
    client.get("/api/v1/me", headers=headers)
    with ctx.store.session() as session:
        later = session.scalar(select(ApiToken.last_used_at))
    assert later is not None and first is not None and later > first


def test_api_errors_are_clear_json(client: TestClient) -> None:
    csrf = log_in(client, "admin")
    response = client.post("/api/v1/users", json={"username": "a b", "password": "short",
                                                  "role": "god"}, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "body.username" in detail and "body.password" in detail and "body.role" in detail
    missing = client.get("/api/v1/sites/atlantis")
    assert missing.status_code == 404 and missing.json()["detail"] == "unknown site 'atlantis'"


def test_password_change_requires_the_current_one(client: TestClient) -> None:
    csrf = log_in(client, "siti")
    wrong = client.post("/password", data={"current": "nope", "new": "baru-dan-panjang-2",
                                           "csrf_token": csrf})
    assert wrong.status_code == 400 and "current password is wrong" in wrong.text
    ok = client.post("/password", data={"current": PASSWORD, "new": "baru-dan-panjang-2",
                                        "csrf_token": csrf})
    assert ok.status_code == 200 and "Kata sandi diganti" in ok.text
    assert [r.status_code for r in ok.history] == [303] and ok.request.method == "GET"
    client.cookies.clear()
    log_in(client, "siti", "baru-dan-panjang-2")


def test_language_toggle_switches_every_page(client: TestClient) -> None:
    log_in(client, "admin")
    assert "Dasbor" in client.get("/").text
    client.get("/lang/en?next=/")
    page = client.get("/").text
    assert "Dashboard" in page and "Dasbor" not in page
    assert "Devices up" in page
    client.get("/lang/id?next=/")
    assert "Perangkat aktif" in client.get("/").text


def test_language_switch_keeps_the_page_and_its_query_and_stays_on_site(
        client: TestClient) -> None:
    import html as html_lib

    log_in(client, "admin")
    page = client.get("/audit?action=user.add").text
    link = html_lib.unescape(re.search(r'href="(/lang/en\?next=[^"]+)"', page).group(1))
    answer = client.get(link, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/audit?action=user.add"
    for evil in ("//evil.example/", "/\\evil.example/", "https://evil.example/"):
        answer = client.get("/lang/en", params={"next": evil}, follow_redirects=False)
        assert answer.headers["location"] == "/", evil


def test_every_template_string_has_a_translation() -> None:
    templates = Path(__file__).parents[2] / "controller" / "web" / "templates"
    missing = set()
    for path in templates.rglob("*.html"):
        for text in re.findall(r'_\("([^"]+)"\)', path.read_text()):
            if text not in ID:
                missing.add(f"{path.name}: {text}")
    assert not missing, sorted(missing)


def test_request_bodies_past_the_limit_get_413_before_anything_parses_them(
    client: TestClient, ctx: Context
) -> None:
    """1 MiB by default: declared (Content-Length) or streamed (chunked, no length) alike, and
    before authentication, so nobody can make the server parse a 120 MiB JSON body."""
    big = b'{"username": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    declared = client.post("/api/v1/users", content=big,
                           headers={"content-type": "application/json"})
    assert declared.status_code == 413

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 64 * 1024):
            yield big[start:start + 64 * 1024]

    streamed = client.post("/api/v1/users", content=chunks(),
                           headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    assert "content-length" not in {k.lower() for k in streamed.request.headers}
    log_in(client, "admin")
    form = client.post("/password", content=chunks(),
                       headers={"content-type": "application/x-www-form-urlencoded"})
    assert form.status_code == 413
    small = client.get("/api/v1/users")  # ordinary requests are unaffected
    assert small.status_code == 200


def test_login_attempts_are_rate_limited_per_address(client: TestClient) -> None:
    codes = [post_login(client, f"u{i}", "x").status_code for i in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429


def test_hotspot_vouchers_print_and_disconnect(client: TestClient, ctx: Context) -> None:
    from captive_portal.gateways.memory import MemoryGateway
    from captive_portal.service import Portal, install_portal

    gateways: dict[str, MemoryGateway] = {}
    portal = Portal(ctx, gateway_factory=lambda h: gateways.setdefault(h.name, MemoryGateway()))
    install_portal(portal)
    gateway = portal.gateways.get("taman-kota")
    gateway.macs["10.200.0.50"] = "da:11:22:33:44:55"  # a randomised (local) MAC
    opened = portal.login.log_in("10.200.0.50", "click_through", accepted_terms=True)

    viewer_csrf = log_in(client, "siti")
    page = client.get("/hotspots").text
    assert f"/hotspots/sessions/{opened.id}/disconnect" not in page  # viewers see no button
    assert client.post(f"/hotspots/sessions/{opened.id}/disconnect",
                       data={"csrf_token": viewer_csrf}).status_code == 403
    client.cookies.clear()

    csrf = log_in(client, "budi")
    page = client.get("/hotspots").text
    assert f"/hotspots/sessions/{opened.id}/disconnect" in page
    assert "da:11:22:33:44:55" not in page  # no citizen MAC in the UI
    created = client.post("/hotspots/vouchers", data={
        "csrf_token": csrf, "hotspot": "alun-alun", "count": "6", "duration_min": "60",
        "uses": "1", "valid_days": "7"}, follow_redirects=False)
    assert created.status_code == 303
    sheet = client.get(created.headers["location"])
    assert sheet.status_code == 200
    assert len(re.findall(r"[A-Z2-9]{4}-[A-Z2-9]{4}", sheet.text)) >= 6
    # The UI's sheet: a way back, a print button run by a static script (no inline handler).
    assert 'href="/hotspots"' in sheet.text and 'id="print-sheet"' in sheet.text
    assert '<script src="/static/voucher-sheet.js"' in sheet.text
    assert not re.search(r"\son[a-z]+=|<script>", sheet.text)
    bad = client.post("/hotspots/vouchers", data={"csrf_token": csrf, "count": "0",
                                                   "duration_min": "60"})
    assert bad.status_code == 400 and "count" in bad.text
    # A disconnect asks first (#18): a page without JavaScript, and the session stays open.
    assert 'data-confirm="Putuskan sesi ini?"' in page
    asked = client.post(f"/hotspots/sessions/{opened.id}/disconnect",
                        data={"csrf_token": csrf}, follow_redirects=False)
    assert asked.status_code == 200 and 'id="confirm-yes"' in asked.text
    assert f'action="/hotspots/sessions/{opened.id}/disconnect"' in asked.text
    assert [s.id for s in portal.stats.list_active_sessions("taman-kota")] == [opened.id]
    response = client.post(f"/hotspots/sessions/{opened.id}/disconnect",
                           data={"csrf_token": csrf, "confirmed": "yes"},
                           follow_redirects=False)
    assert response.status_code == 303
    assert portal.stats.list_active_sessions("taman-kota") == []
    assert gateway.calls >= 2  # allowed at login, revoked at disconnect
    with ctx.store.session() as session:
        actions = session.scalars(select(AuditLog.action).where(AuditLog.actor == "budi")).all()
    assert "hotspot.disconnect" in actions and "hotspot.vouchers.create" in actions


def test_viewer_gets_403_on_push_and_preview(client: TestClient) -> None:
    csrf = log_in(client, "siti")
    assert client.get("/config/preview?device=dinkes-r1").status_code == 403
    response = client.post("/config/push", data={"csrf_token": csrf, "device": "dinkes-r1"})
    assert response.status_code == 403
    api = client.post("/api/v1/config/pushes", json={"devices": ["dinkes-r1"]},
                      headers={"X-CSRF-Token": csrf})
    assert api.status_code == 403
    assert "Dorong konfigurasi" in client.get("/config").text  # the page itself is visible


def test_push_target_errors_are_clear(client: TestClient) -> None:
    csrf = log_in(client, "budi")
    page = client.get("/config/preview")
    assert page.status_code == 400 and "name devices" in page.text
    api = client.post("/api/v1/config/diff", json={"devices": ["atlantis-r1"]},
                      headers={"X-CSRF-Token": csrf})
    assert api.status_code == 404 and api.json()["detail"] == "unknown device(s): atlantis-r1"
    empty = client.post("/api/v1/config/diff", json={}, headers={"X-CSRF-Token": csrf})
    assert empty.status_code == 422 and "name devices" in empty.json()["detail"]


def test_a_refused_inventory_reload_is_shown_to_engineers_on_every_page(
        tmp_path: Path, demo_inventory: Path, demo_secrets: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data2", inventory_dir=demo_inventory,
                        secrets_file=demo_secrets, allowed_hosts="testserver")
    context = Context.open(settings)
    with context.store.session() as session:
        add_user(session, "siti", PASSWORD, "viewer", actor="test")
    client = TestClient(create_admin_app(context))
    sites = demo_inventory / "sites.yaml"
    good = sites.read_text()
    broken = good.replace("  allocation: 50M/25M", "  allocation: banyak", 1)
    line = broken.splitlines().index("  allocation: banyak") + 1
    sites.write_text(broken)
    assert context.reload_inventory()  # what serve's inventory watch does on a change
    assert context.inventory.sites["dinkes"].allocation.down_bps == 50_000_000  # still in force

    assert "inventory-problems" not in client.get("/login").text  # not to the world
    log_in(client, "siti")
    for path in ("/", "/sites"):
        page = client.get(path).text
        assert 'id="inventory-problems"' in page and f"sites.yaml:{line}:" in page, path
        assert "inventaris terakhir yang valid tetap berlaku" in page

    sites.write_text(good)
    assert context.reload_inventory() == []
    assert 'id="inventory-problems"' not in client.get("/").text
    context.close()


def test_site_kinds_read_as_words_in_both_languages(client: TestClient) -> None:
    from typing import get_args

    from controller.inventory import SiteKind
    from controller.web.i18n import KIND_LABELS

    assert set(KIND_LABELS) == set(get_args(SiteKind))  # every kind has a label...
    assert all(label in ID for label in KIND_LABELS.values())  # ...and its Indonesian
    log_in(client, "siti")
    assert "Perangkat daerah (SOPD)" in client.get("/sites?kind=sopd").text
    client.get("/lang/en?next=/")
    page = client.get("/sites/dinkes").text
    assert "Government office (SOPD)" in page


def test_an_interrupted_push_names_its_devices_and_offers_them_again(
        client: TestClient, ctx: Context) -> None:
    from datetime import UTC, datetime, timedelta

    from controller.store.models import ConfigPush, ConfigPushDevice

    long_ago = datetime.now(UTC) - timedelta(hours=1)
    with ctx.store.session() as session:
        push = ConfigPush(actor="budi", started_at=long_ago, heartbeat_at=long_ago)
        session.add(push)
        session.flush()
        session.add_all([
            ConfigPushDevice(push_id=push.id, device="dinkes-r1", position=0, status="changed",
                             diff="+ /queue simple ..."),
            ConfigPushDevice(push_id=push.id, device="disdik-r1", position=1, status="pending")])
        push_id = push.id
    log_in(client, "budi")
    page = client.get(f"/config/pushes/{push_id}").text
    assert 'id="push-interrupted"' in page and "Perangkat yang belum didorong: disdik-r1" in page
    assert 'data-device="dinkes-r1" data-status="changed"' in page
    assert 'data-device="disdik-r1" data-status="interrupted"' in page
    again = re.search(r'href="(/config\?[^"]+)" id="push-again"', page)
    assert again and again.group(1) == "/config?device=disdik-r1"
    choose = client.get(again.group(1)).text
    assert re.search(r'value="disdik-r1" id="t-disdik-r1" checked', choose)
    assert not re.search(r'value="dinkes-r1" id="t-dinkes-r1" checked', choose)
    rows = client.get(f"/config/pushes/{push_id}/rows")
    assert rows.status_code == 286  # done: htmx stops polling


def test_api_schema_and_docs_need_a_login(client: TestClient) -> None:
    schema = client.get("/api/openapi.json")
    assert schema.status_code == 401 and "paths" not in schema.text
    docs = client.get("/api/docs", follow_redirects=False)
    assert docs.status_code == 303 and docs.headers["location"] == "/login?next=/api/docs"
    log_in(client, "siti")  # a viewer may read them
    assert "/api/v1/tokens" in client.get("/api/openapi.json").json()["paths"]
    assert "swagger-ui" in client.get("/api/docs").text


def test_metrics_need_the_bearer_token_once_one_is_set(
        tmp_path: Path, demo_secrets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prometheus_client import Gauge

    from controller.web.metrics_app import create_metrics_app

    settings = Settings(data_dir=tmp_path / "data", inventory_dir=DEMO_INVENTORY,
                        secrets_file=demo_secrets, allowed_hosts="testserver")
    monkeypatch.setenv("SIMPUL_SECRET_METRICS_TOKEN", "rahasia-prometheus-123")
    context = Context.open(settings)
    Gauge("simpul_test_reading", "A reading", registry=context.registry).set(1)
    try:
        for app in (create_admin_app(context), create_metrics_app(context)):
            client = TestClient(app)
            for headers in ({}, {"Authorization": "Bearer salah"},
                            {"Authorization": "Basic rahasia-prometheus-123"},
                            {"Authorization": "Bearer rahasia-prometheus-1234"}):
                refused = client.get("/metrics", headers=headers)
                assert refused.status_code == 401 and "simpul_" not in refused.text
                assert refused.headers["www-authenticate"].startswith("Bearer")
            ok = client.get("/metrics", headers={"Authorization": "Bearer rahasia-prometheus-123"})
            assert ok.status_code == 200 and "simpul_test_reading 1.0" in ok.text
            assert client.get("/healthz").status_code == 200
    finally:
        context.close()


def test_the_admin_side_answers_only_the_hosts_it_is_known_by(
        tmp_path: Path, demo_secrets: Path) -> None:
    """DNS rebinding: a page under an attacker's name that resolves to 127.0.0.1 must not reach
    the engineers' UI or API with their cookies."""
    settings = Settings(data_dir=tmp_path / "data", inventory_dir=DEMO_INVENTORY,
                        secrets_file=demo_secrets, admin_listen="10.10.0.11:8000",
                        allowed_hosts="simpul.kalteng.example, *.noc.example")
    context = Context.open(settings)
    try:
        app = create_admin_app(context)
        for host in ("localhost:8000", "127.0.0.1", "[::1]:8000", "10.10.0.11:8000",
                     "SIMPUL.kalteng.example", "wall.noc.example:443"):
            response = TestClient(app, base_url=f"http://{host}").get("/login")
            assert response.status_code == 200, host
        for host in ("rebind.attacker.example", "attacker.example:8000", "noc.example",
                     "simpul.kalteng.example.attacker.example", "testserver", ""):
            response = TestClient(app, base_url="http://x").get(
                "/api/v1/me", headers={"Host": host})
            assert response.status_code == 400 and "SIMPUL_ALLOWED_HOSTS" in response.text, host
        # Load balancers check /healthz by address.
        assert TestClient(app, base_url="http://10.9.9.9").get("/healthz").status_code == 200
    finally:
        context.close()
