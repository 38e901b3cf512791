"""Safe pushes in the web app (#18): the list (page and API), diffs in colour per device, the
four-eyes rule's refusals and its header badge, abort, and confirmations without JavaScript.

Nothing here reaches a device: pushes are recorded in the store and never approved or
continued (the lab's integration tests, test_config_push_safe.py, run them).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from controller.context import Context
from controller.pushes import Pushes
from controller.store.models import AuditLog, ConfigPush, ConfigPushDevice, User
from tests.unit import test_web
from tests.unit.test_web import log_in

ctx, client = test_web.ctx, test_web.client  # the web tests' fixtures: the demo, three users

DIFF = "@@ queue @@\n-add name=simpul-allocation max-limit=30M/15M\n" \
       "+add name=simpul-allocation max-limit=2M/1M\n unchanged line"


def _recorded(ctx: Context, actor: str, devices: list[str], state: str = "done",
              statuses: list[str] | None = None, minutes_ago: int = 0) -> int:
    """A push as the store keeps it, without running anything."""
    at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    with ctx.store.session() as session:
        row = ConfigPush(actor=actor, started_at=at, heartbeat_at=at, state=state,
                         finished_at=at if state in ("done", "aborted") else None)
        session.add(row)
        session.flush()
        for i, name in enumerate(devices):
            status = (statuses or ["changed"] * len(devices))[i]
            session.add(ConfigPushDevice(push_id=row.id, device=name, position=i,
                                         status=status, diff=DIFF if status == "changed" else None))
        return row.id


def _ask(ctx: Context, actor: str, devices: list[str], stage: int | None = None) -> int:
    """A push recorded through Pushes.create (the four-eyes rule applies), not run."""
    pushes = Pushes(ctx.store)
    return pushes.create(ctx, [ctx.inventory.devices[d] for d in devices], actor, stage).id


def test_the_demo_protects_the_hospital_and_the_disaster_agency(ctx: Context) -> None:
    protected = sorted(code for code, site in ctx.inventory.sites.items() if site.protected)
    assert protected == ["bpbd", "rsud"]


def test_the_api_lists_pushes_newest_first_a_page_at_a_time(client: TestClient,
                                                            ctx: Context) -> None:
    ids = [_recorded(ctx, "budi", ["dinkes-r1", "disdik-r1"], minutes_ago=10 - i)
           for i in range(5)]
    waiting = _ask(ctx, "budi", ["rsud-r1"])
    log_in(client, "siti")  # a viewer may read them
    first = client.get("/api/v1/config/pushes", params={"limit": 2})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["total"] == 6 and body["offset"] == 0 and body["limit"] == 2
    assert [p["id"] for p in body["items"]] == [waiting, ids[4]]
    assert body["items"][0]["state"] == "awaiting_approval"
    assert body["items"][0]["protected_sites"] == ["rsud"]
    assert body["items"][0]["counts"] == {"awaiting_approval": 1}
    assert body["items"][1]["counts"] == {"changed": 2} and "results" not in body["items"][1]
    rest = client.get("/api/v1/config/pushes", params={"offset": 2, "limit": 10}).json()
    assert [p["id"] for p in rest["items"]] == [ids[3], ids[2], ids[1], ids[0]]
    only = client.get("/api/v1/config/pushes", params={"state": "awaiting_approval"}).json()
    assert [p["id"] for p in only["items"]] == [waiting] and only["total"] == 1
    bad = client.get("/api/v1/config/pushes", params={"state": "perhaps"})
    assert bad.status_code == 422
    schema = client.get("/api/openapi.json").json()
    listed = schema["paths"]["/api/v1/config/pushes"]["get"]["responses"]["200"]
    assert listed["content"]["application/json"]["schema"]["$ref"].endswith("/PushPage")


def test_the_pages_list_pushes_and_show_each_diff_in_colour(client: TestClient,
                                                           ctx: Context) -> None:
    push_id = _recorded(ctx, "budi", ["dinkes-r1", "disdik-r1"], statuses=["changed",
                                                                           "unchanged"])
    log_in(client, "siti")
    assert 'href="/config/pushes"' in client.get("/config").text  # linked from the config area
    listed = client.get("/config/pushes").text
    assert f'<a href="/config/pushes/{push_id}">#{push_id}</a>' in listed
    assert 'data-state="done"' in listed
    page = client.get(f"/config/pushes/{push_id}").text
    details = re.search(r'<details class="device-diff" data-device="dinkes-r1">.*?</details>',
                        page, re.S)
    assert details, page
    assert '<span class="d-add">+add name=simpul-allocation max-limit=2M/1M</span>' in \
        details.group(0)
    assert '<span class="d-del">-add name=simpul-allocation max-limit=30M/15M</span>' in \
        details.group(0)
    assert '<span class="d-ctx"> unchanged line</span>' in details.group(0)
    assert 'data-device="disdik-r1" data-status="unchanged"' in page
    assert "style=" not in details.group(0)  # the CSP allows no inline style
    assert client.get("/config/pushes?state=nope").status_code == 400


def test_four_eyes_the_requester_cannot_approve_and_everyone_sees_the_wait(
        client: TestClient, ctx: Context) -> None:
    push_id = _ask(ctx, "budi", ["rsud-r1", "dinkes-r1"])
    csrf = log_in(client, "budi")
    page = client.get("/").text  # any page: the header says a push waits
    badge = re.search(r'<a href="/config/pushes\?state=awaiting_approval" class="approvals" '
                      r'id="approvals-waiting">(\d+) ', page)
    assert badge and badge.group(1) == "1"
    mine = client.get(f"/config/pushes/{push_id}").text
    assert 'id="push-awaiting"' in mine and 'id="push-approve"' not in mine
    own = client.post(f"/api/v1/config/pushes/{push_id}/approve",
                      headers={"X-CSRF-Token": csrf})
    assert own.status_code == 403 and "a second operator must" in own.json()["detail"]
    form = client.post(f"/config/pushes/{push_id}/approve", data={"csrf_token": csrf})
    assert form.status_code == 403 and 'id="push-error"' in form.text
    with ctx.store.session() as session:
        row = session.get(ConfigPush, push_id)
        assert row is not None and row.state == "awaiting_approval" and row.approved_by is None
        steps = session.execute(select(AuditLog.actor, AuditLog.action, AuditLog.result).where(
            AuditLog.target == f"push:{push_id}").order_by(AuditLog.id)).all()
    assert [tuple(s) for s in steps] == [
        ("budi", "config.push.request", "awaiting_approval"),
        ("budi", "config.push.approve", "refused"), ("budi", "config.push.approve", "refused")]
    # A viewer sees no badge and cannot approve.
    client.cookies.clear()
    viewer_csrf = log_in(client, "siti")
    assert 'id="approvals-waiting"' not in client.get("/").text
    assert client.post(f"/api/v1/config/pushes/{push_id}/approve",
                       headers={"X-CSRF-Token": viewer_csrf}).status_code == 403
    # Another operator sees the button; an abort (not an approval: nothing may run here)
    # ends the wait, the badge goes, and the devices end `aborted`.
    client.cookies.clear()
    admin_csrf = log_in(client, "admin")
    assert 'id="push-approve"' in client.get(f"/config/pushes/{push_id}").text
    stopped = client.post(f"/config/pushes/{push_id}/abort", data={"csrf_token": admin_csrf},
                          follow_redirects=False)
    assert stopped.status_code == 303 and stopped.headers["location"] == \
        f"/config/pushes/{push_id}"
    after = client.get(f"/api/v1/config/pushes/{push_id}").json()
    assert after["state"] == "aborted" and after["aborted_by"] == "admin" and after["done"]
    assert [r["status"] for r in after["results"]] == ["aborted", "aborted"]
    assert 'id="approvals-waiting"' not in client.get("/").text
    again = client.post(f"/api/v1/config/pushes/{push_id}/approve",
                        headers={"X-CSRF-Token": admin_csrf})
    assert again.status_code == 409 and "aborted" in again.json()["detail"]


def test_a_push_without_protected_sites_needs_no_approval(ctx: Context) -> None:
    pushes = Pushes(ctx.store)
    push = pushes.create(ctx, [ctx.inventory.devices["dinkes-r1"]], "budi", stage=1)
    assert push.state == "running" and push.protected_sites == []
    assert push.stage is None  # a stage as big as the push is no stage
    assert pushes.awaiting_approval() == 0


def test_deactivating_a_user_asks_first_without_javascript(client: TestClient,
                                                           ctx: Context) -> None:
    csrf = log_in(client, "admin")
    users = client.get("/users").text
    assert 'data-confirm="Nonaktifkan pengguna ini?"' in users
    asked = client.post("/users/siti", data={"csrf_token": csrf, "disabled": "1"},
                        follow_redirects=False)
    assert asked.status_code == 200 and 'id="confirm-question"' in asked.text
    assert '<input type="hidden" name="disabled" value="1">' in asked.text
    assert '<input type="hidden" name="confirmed" value="yes">' in asked.text
    with ctx.store.session() as session:
        siti = session.scalars(select(User).where(User.username == "siti")).one()
        assert not siti.disabled
    done = client.post("/users/siti", data={"csrf_token": csrf, "disabled": "1",
                                            "confirmed": "yes"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/users"
    with ctx.store.session() as session:
        siti = session.scalars(select(User).where(User.username == "siti")).one()
        assert siti.disabled
    # Enabling again is not destructive: no question.
    enabled = client.post("/users/siti", data={"csrf_token": csrf, "disabled": "0"},
                          follow_redirects=False)
    assert enabled.status_code == 303


def test_an_abort_wins_over_a_device_not_yet_claimed(ctx: Context) -> None:
    """A running batch claims each device (pending -> running) just before pushing it; once
    an abort marked the device `aborted`, the claim fails and the device is never touched."""
    pushes = Pushes(ctx.store)
    push = pushes.create(ctx, [ctx.inventory.devices[d] for d in ("dinkes-r1", "disdik-r1")],
                         "budi")
    assert pushes._claim(push.id, "dinkes-r1")  # in flight
    stopped = pushes.abort(ctx, push.id, "ani")
    assert not pushes._claim(push.id, "disdik-r1")
    assert stopped.status_of("dinkes-r1") == "running"
    assert stopped.status_of("disdik-r1") == "aborted"
    assert stopped.finished_at is None  # the device in flight still finishes the push
