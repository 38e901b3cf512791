"""The engineers' UI in real Chromium (Debian's, driven by Playwright) against `simpul serve`
and the lab: log in, dashboard, config push from preview to result, vouchers, disconnect,
language. Screenshots go to the test's tmp dir."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.browser.conftest import (
    ADMIN_PASSWORD,
    CHROMIUM,
    CHROMIUM_ARGS,
    Serve,
    cli,
    need_browser,
)
from tests.integration.config_lab import Lab, config_commands, start_lab

pytestmark = pytest.mark.browser

PASSWORD = ADMIN_PASSWORD


@pytest.fixture
def server(tmp_path: Path, demo_secrets: Path, serve: Serve) -> Iterator[tuple[str, Lab]]:
    need_browser()
    lab = start_lab(tmp_path, demo_secrets)
    try:
        env = {**lab.env, "SIMPUL_DRIFT_INTERVAL_S": "0"}
        cli(env, "users", "add", "admin", "--role", "admin", "--password-stdin",
            stdin=PASSWORD + "\n")
        yield serve(env), lab
    finally:
        serve.stop()   # the server before the lab it polls
        lab.stop()


def open_session_in_store(lab: Lab) -> int:
    """A citizen's open session at the MikroTik hotspot, as the portal would have stored it."""
    from controller.store.db import Store
    from controller.store.portal import PortalSession

    store = Store(f"sqlite:///{lab.root / 'data' / 'simpul.db'}")
    now = datetime.now(UTC)
    with store.session() as session:
        row = PortalSession(hotspot="alun-alun", method="click_through",
                            client_ip="10.200.4.20", client_mac="da:00:00:00:00:20",
                            client_hash="0" * 64, started_at=now,
                            expires_at=now + timedelta(hours=2), last_activity_at=now)
        session.add(row)
        session.flush()
        session_id = row.id
    store.dispose()
    return session_id


def test_engineer_tasks_in_the_browser(server: tuple[str, Lab], tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, lab = server
    shots = tmp_path / "screenshots"
    shots.mkdir()
    session_id = open_session_in_store(lab)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        try:
            # Log in; the dashboard shows the demo regency on the map.
            page.goto(base + "/")
            expect(page).to_have_url(re.compile(r"/login\?next=/$"))
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit].primary")
            expect(page.locator("h2", has_text="Peta lokasi")).to_be_visible()
            expect(page.locator("#count-sites")).to_have_text("47")
            expect(page.locator("#map.ready")).to_be_visible()
            # dense markers are clustered: single markers plus the clusters' counts
            clustered = page.locator("#map .marker-cluster span").all_inner_texts()
            assert (page.locator("#map .leaflet-marker-icon.site-dot").count()
                    + sum(int(n) for n in clustered)) == 47
            page.screenshot(path=str(shots / "1-dashboard.png"), full_page=True)

            # Config push: choose a lab device, preview the diff, confirm, watch the result.
            page.goto(base + "/config")
            page.check("#t-dinkes-r1")
            page.click("#preview")
            expect(page.locator("#preview-results")).to_contain_text("dinkes-r1")
            expect(page.locator("#preview-results .st.changed")).to_be_visible()
            expect(page.locator("#preview-results pre.diff")).to_contain_text("queue")
            page.screenshot(path=str(shots / "2-preview.png"), full_page=True)
            page.click("#confirm")
            row = page.locator("tr[data-device=dinkes-r1]")
            expect(row).to_have_attribute("data-status", "changed", timeout=90_000)
            expect(page.locator("#push-state")).to_have_attribute("data-done", "yes")
            page.screenshot(path=str(shots / "3-push-result.png"), full_page=True)
            assert config_commands(lab, "dinkes-r1"), "the device received no config commands"
            page.goto(base + "/audit?action=config.push")
            expect(page.locator("#audit")).to_contain_text("dinkes-r1")

            # Vouchers: create a batch and print its sheet.
            page.goto(base + "/hotspots")
            page.select_option("#voucher-form select[name=hotspot]", "alun-alun")
            page.fill("#voucher-form input[name=count]", "6")
            page.click("#voucher-form button[type=submit]")
            expect(page).to_have_url(re.compile(r"/hotspots/vouchers/"))
            codes = re.findall(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}\b", page.content())
            assert len(set(codes)) == 6
            page.screenshot(path=str(shots / "4-vouchers.png"), full_page=True)
            page.pdf(path=str(shots / "vouchers.pdf"))
            assert (shots / "vouchers.pdf").stat().st_size > 1000

            # Disconnect the citizen's session.
            page.goto(base + "/hotspots")
            form = page.locator(f"form[action='/hotspots/sessions/{session_id}/disconnect']")
            expect(form).to_be_visible()
            asked: list[str] = []  # simpul.js asks first (#18); the test says yes
            page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
            form.locator("button").click()
            expect(page.locator(
                f"form[action='/hotspots/sessions/{session_id}/disconnect']")).to_have_count(0)
            assert asked == ["Putuskan sesi ini?"]
            page.screenshot(path=str(shots / "5-disconnected.png"), full_page=True)

            # Switch language.
            page.goto(base + "/")
            page.click("#lang-en")
            expect(page.locator("h2", has_text="Map of sites")).to_be_visible()
            expect(page.locator("nav")).to_contain_text("Dashboard")
            page.screenshot(path=str(shots / "6-english.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(shots / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    assert len(list(shots.glob("*.png"))) >= 6
