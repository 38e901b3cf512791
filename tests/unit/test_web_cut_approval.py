"""Four eyes for cuts (#18): accepting a lower allocation for a protected site (the demo's
bpbd and rsud) waits for a second operator, through the pages and the API; the requester's own
approval is refused, a rejection changes nothing, a raise needs nobody, every step is audited.

The alert channel is tested with a real Alertmanager in
tests/integration/test_cut_approval_alert.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from controller.context import Context
from controller.store.models import AuditLog
from tests.unit import test_web_bandwidth
from tests.unit.test_web import log_in
from tests.unit.test_web_bandwidth import (
    OCTOBER,
    M,
    cells,
    month_context,
    month_rows,
    row_of,
)

client = test_web_bandwidth.client  # the bandwidth pages' client fixture, on this module's ctx


@pytest.fixture
def ctx(tmp_path: Path, demo_inventory: Path, demo_secrets: Path) -> Iterator[Context]:
    """The demo inventory (a private copy) and October 2026 with bpbd (protected, 20M/10M)
    idling at 1M/0.4M all month, so the plan proposes cutting it; operators budi and ani,
    viewer siti."""
    context = month_context(tmp_path, demo_inventory, demo_secrets,
                            {"budi": "operator", "ani": "operator", "siti": "viewer"},
                            month_rows("bpbd", (1 * M, 0.4 * M), (1 * M, 0.4 * M)))
    yield context
    context.close()


def allocation_of(ctx: Context, site: str) -> str:
    """The site's `allocation:` line as the inventory file says it."""
    text = (ctx.settings.inventory_dir / "sites.yaml").read_text()
    item = text[text.index(f"- code: {site}\n"):]
    found = re.search(r"^  allocation: (\S+)", item, re.M)
    assert found
    return found.group(1)


def audit_of(ctx: Context, site: str) -> list[tuple[str, str, str]]:
    with ctx.store.session() as session:
        rows = session.scalars(select(AuditLog).where(
            AuditLog.target == f"site:{site}", AuditLog.action.like("bandwidth.accept%"))
            .order_by(AuditLog.id)).all()
        return [(r.actor, r.action, r.result) for r in rows]


def test_a_cut_of_a_protected_site_waits_for_a_second_operator(client: TestClient,
                                                               ctx: Context) -> None:
    sites = ctx.settings.inventory_dir / "sites.yaml"
    before = sites.read_text()
    csrf = log_in(client, "budi")
    page = client.get(f"/bandwidth?month={OCTOBER}").text
    rec = cells(row_of(page, "rec-bpbd"))
    assert rec[1:3] == ["Kurangi", "20M/10M"]
    proposed = rec[3]
    asked = client.post("/bandwidth/accept/bpbd", data={"csrf_token": csrf, "month": OCTOBER,
                                                        "confirmed": "yes"},
                        follow_redirects=False)
    # Post/Redirect/Get to the waiting list; nothing is written yet.
    assert asked.status_code == 303 and asked.headers["location"].startswith(
        "/bandwidth/approvals#cut-")
    cut = int(asked.headers["location"].rsplit("-", 1)[1])
    assert sites.read_text() == before
    listed = client.get("/bandwidth/approvals").text
    row = row_of(listed, f"cut-{cut}")
    assert f"20M/10M &rarr; {proposed}" in row and "budi" in row
    assert f'id="cut-own-{cut}"' in row and f'id="cut-approve-{cut}"' not in row
    assert 'data-confirm="Tolak pemotongan ini?"' in row
    # The header tells every operator, on every page.
    badge = re.search(r'id="cuts-waiting">(\d+) pemotongan menunggu', client.get("/").text)
    assert badge and badge.group(1) == "1"

    # The requester cannot approve their own cut: not by the form, not by the API.
    own = client.post(f"/bandwidth/approvals/{cut}/approve",
                      data={"csrf_token": csrf, "confirmed": "yes"})
    assert own.status_code == 403 and 'id="cut-error"' in own.text
    assert "a second operator must" in own.text
    api_own = client.post(f"/api/v1/bandwidth/approvals/{cut}/approve",
                          headers={"X-CSRF-Token": csrf})
    assert api_own.status_code == 403
    assert sites.read_text() == before

    # A viewer sees the wait but may not decide.
    client.cookies.clear()
    siti = log_in(client, "siti")
    assert 'id="cuts-waiting"' not in client.get("/").text  # operators only, as for pushes
    assert f'id="cut-{cut}"' in client.get("/bandwidth/approvals").text
    assert client.post(f"/bandwidth/approvals/{cut}/approve",
                       data={"csrf_token": siti, "confirmed": "yes"}).status_code == 403

    # A second operator: asked first (no JavaScript), then the cut is written.
    client.cookies.clear()
    ani = log_in(client, "ani")
    assert f'id="cut-approve-{cut}"' in client.get("/bandwidth/approvals").text
    confirm = client.post(f"/bandwidth/approvals/{cut}/approve", data={"csrf_token": ani})
    assert confirm.status_code == 200 and "Setujui pemotongan ini?" in confirm.text
    assert sites.read_text() == before
    done = client.post(f"/bandwidth/approvals/{cut}/approve",
                       data={"csrf_token": ani, "confirmed": "yes"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/bandwidth?accepted=bpbd"
    assert allocation_of(ctx, "bpbd") == proposed
    shown = client.get(done.headers["location"]).text
    assert f"+  allocation: {proposed}" in shown  # the diff, after the redirect
    assert 'id="cuts-waiting"' not in shown
    decided = row_of(client.get("/bandwidth/approvals").text, f"cut-{cut}")
    assert "Disetujui" in decided and "ani" in decided
    again = client.post(f"/api/v1/bandwidth/approvals/{cut}/approve",
                        headers={"X-CSRF-Token": ani})
    assert again.status_code == 409
    assert audit_of(ctx, "bpbd") == [("budi", "bandwidth.accept.request", "awaiting_approval"),
                                     ("budi", "bandwidth.accept.approve", "refused"),
                                     ("budi", "bandwidth.accept.approve", "refused"),
                                     ("ani", "bandwidth.accept.approve", "ok"),
                                     ("ani", "bandwidth.accept", "ok")]


def test_a_rejected_cut_leaves_the_allocation_alone(client: TestClient, ctx: Context) -> None:
    sites = ctx.settings.inventory_dir / "sites.yaml"
    before = sites.read_text()
    csrf = log_in(client, "budi")
    asked = client.post("/api/v1/bandwidth/accept/rsud",
                        json={"month": OCTOBER, "allocation": "30M/30M"},
                        headers={"X-CSRF-Token": csrf})
    assert asked.status_code == 202, asked.text
    body = asked.json()
    assert body["state"] == "awaiting_approval" and body["before"] == "60M/30M"
    assert body["after"] == "30M/30M" and body["path"] == ""
    cut = body["approval"]
    # One waiting cut per site at a time.
    twice = client.post("/api/v1/bandwidth/accept/rsud",
                        json={"month": OCTOBER, "allocation": "40M/30M"},
                        headers={"X-CSRF-Token": csrf})
    assert twice.status_code == 409 and f"cut #{cut}" in twice.json()["detail"]
    waiting = client.get("/api/v1/bandwidth/approvals",
                         params={"state": "awaiting_approval"}).json()
    assert [(w["id"], w["site"], w["requested_by"]) for w in waiting] == [(cut, "rsud",
                                                                            "budi")]
    client.cookies.clear()
    ani = log_in(client, "ani")
    rejected = client.post(f"/bandwidth/approvals/{cut}/reject",
                           data={"csrf_token": ani, "confirmed": "yes"}, follow_redirects=False)
    assert rejected.status_code == 303
    assert sites.read_text() == before and allocation_of(ctx, "rsud") == "60M/30M"
    late = client.post(f"/api/v1/bandwidth/approvals/{cut}/approve",
                       headers={"X-CSRF-Token": ani})
    assert late.status_code == 409 and "rejected" in late.json()["detail"]
    assert sites.read_text() == before
    one = client.get("/api/v1/bandwidth/approvals").json()[0]
    assert (one["state"], one["decided_by"]) == ("rejected", "ani")
    assert client.post("/api/v1/bandwidth/approvals/999/approve",
                       headers={"X-CSRF-Token": ani}).status_code == 404
    assert audit_of(ctx, "rsud") == [("budi", "bandwidth.accept.request", "awaiting_approval"),
                                     ("ani", "bandwidth.accept.reject", "ok")]


def test_a_raise_or_an_unprotected_cut_needs_no_second_operator(client: TestClient,
                                                                ctx: Context) -> None:
    csrf = log_in(client, "budi")
    raised = client.post("/api/v1/bandwidth/accept/bpbd",
                         json={"month": OCTOBER, "allocation": "25M/10M"},
                         headers={"X-CSRF-Token": csrf})
    assert raised.status_code == 200 and raised.json()["state"] == "accepted"
    assert allocation_of(ctx, "bpbd") == "25M/10M"
    cut = client.post("/api/v1/bandwidth/accept/setwan",
                      json={"month": OCTOBER, "allocation": "20M/10M"},
                      headers={"X-CSRF-Token": csrf})
    assert cut.status_code == 200 and allocation_of(ctx, "setwan") == "20M/10M"
    assert client.get("/api/v1/bandwidth/approvals").json() == []
