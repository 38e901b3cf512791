"""/users as an admin runs it: resetting another engineer's password (a new random one shown
once, sessions ended, tokens revoked, audited; operators refused) and wall screens' display
tokens made and revoked in the UI (never-expiring for display accounts only, shown once)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from controller.auth import create_api_token, token_expiry
from controller.context import Context
from controller.store.auth import ApiToken
from controller.store.models import AuditLog, User
from controller.web.app import create_admin_app
from tests.unit import test_web
from tests.unit.test_web import PASSWORD, log_in, post_login

ctx = test_web.ctx          # the demo, with admin, budi (operator) and siti (viewer)
client = test_web.client


def audit_rows(ctx: Context, action: str) -> list[tuple[str, str | None, str, object]]:
    with ctx.store.session() as session:
        return [(a.actor, a.target, a.result, a.detail) for a in session.scalars(
            select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id))]


def engineer_token(ctx: Context, username: str) -> str:
    with ctx.store.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        return create_api_token(session, user, "grafana", actor="test",
                                expires_at=token_expiry(30))


def test_an_admin_resets_a_password_shown_once_and_the_users_sessions_end(
        client: TestClient, ctx: Context) -> None:
    budi = TestClient(create_admin_app(ctx))
    log_in(budi, "budi")
    budi_token = engineer_token(ctx, "budi")
    assert budi.get("/devices").status_code == 200
    csrf = log_in(client, "admin")
    page = client.get("/users").text
    assert 'action="/users/budi/password"' in page and "Atur ulang kata sandi" in page

    # Without the CSRF token: refused, nothing changes.
    assert client.post("/users/budi/password").status_code == 403
    assert post_login(TestClient(create_admin_app(ctx)), "budi").status_code == 303

    done = client.post("/users/budi/password", data={"csrf_token": csrf})
    assert done.status_code == 200
    assert [r.status_code for r in done.history] == [303] and done.request.method == "GET"
    shown = re.search(r'<pre id="new-password">([^<]+)</pre>', done.text)
    assert shown and "budi" in done.text
    new = shown.group(1)
    assert len(new) == 20 and new != PASSWORD
    assert done.headers["cache-control"] == "no-store"
    # Once: a refresh shows the page without it.
    again = client.get("/users")
    assert 'id="new-password"' not in again.text and new not in again.text

    # budi's session ended, his token is revoked; the old password fails, the new one works.
    assert budi.get("/devices", follow_redirects=False).status_code == 303
    assert TestClient(create_admin_app(ctx)).get(
        "/api/v1/me", headers={"Authorization": f"Bearer {budi_token}"}).status_code == 401
    assert post_login(TestClient(create_admin_app(ctx)), "budi").status_code != 303
    assert post_login(TestClient(create_admin_app(ctx)), "budi", new).status_code == 303

    [reset] = audit_rows(ctx, "user.password_reset")
    assert reset == ("admin", "budi", "ok", {"sessions_ended": 2})  # his and the test login
    assert ("admin", "budi", "ok", {"tokens_revoked": 1}) in audit_rows(ctx, "user.password")
    with ctx.store.session() as session:
        details = [str(a.detail) for a in session.scalars(select(AuditLog))]
    assert not [d for d in details if new in d]


def test_password_reset_refusals(client: TestClient, ctx: Context) -> None:
    budi = TestClient(create_admin_app(ctx))
    budi_csrf = log_in(budi, "budi")
    # An operator cannot reset anyone's password, and sees no button.
    assert 'action="/users/siti/password"' not in budi.get("/users").text
    refused = budi.post("/users/siti/password", data={"csrf_token": budi_csrf})
    assert refused.status_code == 403
    assert post_login(TestClient(create_admin_app(ctx)), "siti").status_code == 303

    csrf = log_in(client, "admin")
    # Not one's own (the password page asks for the current one), not a display account,
    # not an unknown user.
    own = client.post("/users/admin/password", data={"csrf_token": csrf})
    assert own.status_code == 400 and "your own password" in own.text
    client.post("/tokens/display", data={"csrf_token": csrf, "screen": "tv-lobi",
                                         "name": "lobi", "expires_days": "never"})
    display = client.post("/users/tv-lobi/password", data={"csrf_token": csrf})
    assert display.status_code == 400 and "display account" in display.text
    assert client.post("/users/nobody/password", data={"csrf_token": csrf}).status_code == 404
    assert audit_rows(ctx, "user.password_reset") == []
    assert audit_rows(ctx, "user.password") == []
    assert post_login(TestClient(create_admin_app(ctx)), "admin").status_code == 303


def test_an_admin_makes_a_never_expiring_display_token_shown_once_and_revokes_it(
        client: TestClient, ctx: Context) -> None:
    csrf = log_in(client, "admin")
    assert 'action="/tokens/display"' in client.get("/users").text
    made = client.post("/tokens/display", data={"csrf_token": csrf, "screen": "tv-lobi",
                                                "name": "lobi", "expires_days": "never"})
    assert made.status_code == 200
    assert [r.status_code for r in made.history] == [303] and made.request.method == "GET"
    shown = re.search(r'<pre id="new-token">([^<]+)</pre>', made.text)
    assert shown
    token = shown.group(1)
    assert token not in client.get(str(made.url)).text          # once
    with ctx.store.session() as session:
        user = session.scalar(select(User).where(User.username == "tv-lobi"))
        assert user is not None and user.role == "display"
        row = session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
        assert row is not None and row.expires_at is None and row.name == "lobi"
        token_id = row.id
    assert ("admin", "tv-lobi", "ok", {"role": "display"}) in audit_rows(ctx, "user.add")
    assert ("admin", "tv-lobi", "ok", {"name": "lobi", "expires": "never"}) in audit_rows(
        ctx, "token.create")

    # The screen opens the wall with it.
    screen = TestClient(create_admin_app(ctx))
    assert screen.get(f"/wall?token={token}", follow_redirects=False).headers["location"] \
        == "/wall"
    assert screen.get("/wall/panel").status_code == 200

    # A second token for the same screen, with a lifetime: the account is reused.
    later = client.post("/tokens/display", data={"csrf_token": csrf, "screen": "tv-lobi",
                                                 "name": "lobi-2", "expires_days": "30"})
    assert later.status_code == 200 and 'id="new-token"' in later.text
    with ctx.store.session() as session:
        expires = session.scalar(select(ApiToken.expires_at).where(ApiToken.name == "lobi-2"))
    assert expires is not None
    assert timedelta(days=29) < expires.replace(tzinfo=UTC) - datetime.now(UTC) \
        <= timedelta(days=30)

    # Listed for the admin, revoked from the UI: the wall session ends.
    listed = client.get("/users").text
    assert "tv-lobi" in listed and f'action="/tokens/{token_id}/revoke"' in listed
    assert client.post(f"/tokens/{token_id}/revoke", data={"csrf_token": csrf},
                       follow_redirects=False).status_code == 303
    assert screen.get("/wall/panel").status_code == 401


def test_display_token_refusals(client: TestClient, ctx: Context) -> None:
    budi = TestClient(create_admin_app(ctx))
    budi_csrf = log_in(budi, "budi")
    # Operators make no display tokens and see no form.
    assert 'action="/tokens/display"' not in budi.get("/users").text
    assert budi.post("/tokens/display", data={"csrf_token": budi_csrf, "screen": "tv",
                                              "name": "x", "expires_days": "never"}
                     ).status_code == 403
    # An engineer's own token never goes without expiry.
    never = budi.post("/tokens", data={"csrf_token": budi_csrf, "name": "forever",
                                       "expires_days": "never"})
    assert never.status_code == 400 and 'id="new-token"' not in never.text

    csrf = log_in(client, "admin")
    assert client.post("/tokens/display", data={"screen": "tv", "name": "x",
                                                "expires_days": "never"}).status_code == 403
    # An engineer's account is not a screen: no never-expiring token for siti.
    siti = client.post("/tokens/display", data={"csrf_token": csrf, "screen": "siti",
                                                "name": "x", "expires_days": "never"})
    assert siti.status_code == 400 and "not a display account" in siti.text
    for bad in ({"screen": "tv lobi", "name": "x", "expires_days": "never"},
                {"screen": "tv-lobi", "name": "", "expires_days": "never"},
                {"screen": "tv-lobi", "name": "x", "expires_days": "0"},
                {"screen": "tv-lobi", "name": "x", "expires_days": "forever"}):
        response = client.post("/tokens/display", data={"csrf_token": csrf, **bad})
        assert response.status_code == 400, bad
        assert 'id="new-token"' not in response.text
    with ctx.store.session() as session:
        assert session.scalars(select(ApiToken)).all() == []
        # A refused token leaves no display account behind.
        assert session.scalar(select(User).where(User.username == "tv-lobi")) is None
    assert audit_rows(ctx, "token.create") == []
