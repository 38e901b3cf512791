"""Every admin page (logged in as an admin), the wall and /publik pass axe-core's WCAG 2 A/AA
rules in Chromium with no serious or critical violation. The pages are the app's own GET
routes, walked, so a new page is checked without editing this test; path parameters take the
demo inventory's IDs. Screenshots of failing pages go to the test's tmp dir."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ADMIN_PASSWORD, CHROMIUM, CHROMIUM_ARGS, WallServer
from tests.conftest import ROOT

pytestmark = pytest.mark.browser

AXE = ROOT / "controller/web/static/vendor/axe/axe.min.js"
AXE_URL = "/static/vendor/axe/axe.min.js"      # same origin: the pages' CSP lets it run
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FAILING_IMPACTS = ("serious", "critical")
# Values for path parameters, from the demo inventory (push and batch are made by the test).
DEMO_IDS = {"code": "setda", "name": "setda-r1", "site": "setwan", "username": "admin"}
# Not pages: the language switch redirects, /logout is a POST, /wall/panel and the push rows
# are htmx fragments (also checked inside their pages), JSON and metrics are data; a cut
# approval's step GET only redirects to /bandwidth/approvals (checked as its own page).
NOT_PAGES = {"/lang/{code}", "/healthz", "/metrics", "/favicon.ico", "/wall/map.json",
             "/wall/panel", "/config/pushes/{push_id}/rows", "/api/docs",
             "/bandwidth/approvals/{approval_id}/{step}"}


def admin_get_routes() -> list[str]:
    """Every GET route of the admin app outside the JSON API."""
    from fastapi.routing import APIRoute

    from controller.web.app import PAGE_ROUTERS

    paths = []
    for router in PAGE_ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute) and "GET" in (route.methods or ()):
                paths.append(route.path)
    return sorted(set(paths))


def fill(path: str, ids: dict[str, str]) -> str:
    names = re.findall(r"{(\w+)(?::\w+)?}", path)
    missing = [n for n in names if n not in ids]
    assert not missing, (f"route {path}: no demo ID for path parameter(s) {missing}; add one "
                         "to DEMO_IDS in tests/browser/test_axe_admin.py")
    return re.sub(r"{(\w+)(?::\w+)?}", lambda m: ids[m.group(1)], path)


def seed_push(url: str) -> str:
    """A finished config push of setda-r1 with a diff, as the UI stores one."""
    from controller.store.db import Store
    from controller.store.models import ConfigPush, ConfigPushDevice

    store = Store(url)
    with store.session() as session:
        push = ConfigPush(actor="admin")
        session.add(push)
        session.flush()
        session.add(ConfigPushDevice(push_id=push.id, device="setda-r1", position=0,
                                     status="changed", diff="-a\n+b\n"))
        session.flush()
        push_id = str(push.id)
    store.dispose()
    return push_id


def describe(page: str, violations: list[dict[str, Any]]) -> list[str]:
    """One line per failing node: page, rule, impact, selector, and axe's summary."""
    lines = []
    for v in violations:
        if v.get("impact") not in FAILING_IMPACTS:
            continue
        for node in v["nodes"]:
            target = " ".join(str(t) for t in node["target"])
            lines.append(f"{page}: {v['id']} ({v['impact']}) at {target}: {v['help']}")
    return lines


def test_admin_pages_wall_and_publik_pass_axe(wall_server: WallServer, tmp_path: Path) -> None:
    if not AXE.exists():
        pytest.skip("axe-core not vendored (controller/web/vendor/vendor.sh)")
    from playwright.sync_api import sync_playwright

    base = wall_server.base
    shots = tmp_path / "screenshots"
    shots.mkdir()
    ids = {**DEMO_IDS, "push_id": seed_push(wall_server.url)}
    failures: list[str] = []
    checked: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        try:
            page.goto(base + "/login")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", ADMIN_PASSWORD)
            page.click("button[type=submit].primary")
            page.wait_for_url(base + "/")
            # A voucher batch, for its sheet's page.
            page.goto(base + "/hotspots")
            page.fill("#voucher-form input[name=count]", "2")
            page.click("#voucher-form button[type=submit]")
            page.wait_for_url(re.compile(r"/hotspots/vouchers/[^/]+$"))
            ids["batch"] = page.url.rsplit("/", 1)[1]

            paths = [fill(path, ids) for path in admin_get_routes() if path not in NOT_PAGES]
            assert {"/devices", "/users", "/wall", "/publik"} <= set(paths), paths
            for path in paths:
                response = page.goto(base + path)
                assert response is not None, path
                if "text/html" not in response.headers.get("content-type", ""):
                    continue
                page.wait_for_load_state("load")
                page.add_script_tag(url=base + AXE_URL)
                result = page.evaluate(
                    "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS)
                checked.append(f"{path} -> {page.url.removeprefix(base)} "
                               f"({response.status})")
                found = describe(path, result["violations"])
                if found:
                    failures.extend(found)
                    name = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "root"
                    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        finally:
            browser.close()
    (tmp_path / "axe-checked.txt").write_text("\n".join(checked) + "\n")
    assert len(checked) >= 15, checked
    assert not failures, (f"{len(failures)} serious/critical axe-core violations "
                          f"(screenshots in {shots}):\n" + "\n".join(failures))
