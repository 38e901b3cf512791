"""The citizens' portal on a cheap Android phone's screen (360x640) in real Chromium, against
`simpul serve --only portal` (memory gateway, the demo hotspot for loopback clients): login,
OTP, success and error pages show the hotspot's limits, scroll only vertically, and axe-core
(WCAG 2 A/AA) finds no serious or critical violation on them. Screenshots go to the test's
tmp dir (screenshots/)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import stop_serving, wait_until_serving
from tests.browser.axe_portal import AXE, blocking_violations
from tests.conftest import DEMO_INVENTORY, ROOT, free_port

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PHONE_SCREEN = {"width": 360, "height": 640}
PUBLIC_URL = "https://data.kahayanhulu.example/publik"
LIMITS_ID = "Gratis 2 jam per sesi, 4 jam dan 2 GB per hari"  # the demo's defaults.yaml


Start = Callable[..., str]


@pytest.fixture
def start_portal(tmp_path: Path, demo_secrets: Path) -> Iterator[Start]:
    """Start `simpul serve --only portal` with extra settings; returns its base URL."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (./test installs it as root)")
    if not AXE.exists():
        pytest.skip("axe-core not vendored (./test runs controller/web/vendor/vendor.sh)")
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, **settings: str) -> str:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "SIMPUL_DATA_DIR": str(tmp_path / name),
               "SIMPUL_INVENTORY_DIR": str(DEMO_INVENTORY),
               "SIMPUL_SECRETS_FILE": str(demo_secrets),
               "SIMPUL_ADMIN_LISTEN": f"127.0.0.1:{free_port()}",
               "SIMPUL_PORTAL_LISTEN": f"127.0.0.1:{port}", "SIMPUL_PORTAL_URL": base,
               "SIMPUL_PORTAL_GATEWAY": "memory", **settings}
        for args in (("db", "upgrade"),):
            done = subprocess.run([sys.executable, "-m", "controller.cli", *args], cwd=ROOT,
                                  env=env, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
        log = tmp_path / f"{name}.log"
        proc = subprocess.Popen([sys.executable, "-m", "controller.cli", "serve", "--only",
                                 "portal"], cwd=ROOT, env=env, stdout=log.open("wb"),
                                stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(proc)
        wait_until_serving(proc, base, log)
        return base

    yield start
    for proc in procs:
        stop_serving(proc)


def check_page(page: Any, shots: Path, name: str) -> None:
    """A phone-sized page: no sideways scrolling, no serious/critical axe violation; kept as a
    screenshot."""
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name}: scrolls sideways by {overflow}px"
    assert blocking_violations(page) == [], name


def test_the_portal_on_a_phone_screen(start_portal: Start, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    outbox = tmp_path / "outbox.jsonl"
    base = start_portal("spot", SIMPUL_PORTAL_DEMO_HOTSPOT="pasar-besar",
                        SIMPUL_PORTAL_SMS_OUTBOX=str(outbox), SIMPUL_PUBLIC_URL=PUBLIC_URL,
                        SIMPUL_PORTAL_OTP_RESEND_AFTER_S="2")
    elsewhere = start_portal("elsewhere")  # no demo hotspot: loopback is on no hotspot
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport=PHONE_SCREEN, is_mobile=True, has_touch=True,
                                device_scale_factor=2)
        try:
            page.goto(base + "/login")
            expect(page.locator("#limits")).to_have_text(LIMITS_ID)
            expect(page.locator("#limits")).to_be_in_viewport()  # up front, before scrolling
            assert page.locator("input[type=checkbox]").count() == 1
            check_page(page, shots, "1-login")

            # Enter in the phone field without the tick: the browser keeps the citizen here.
            page.fill("#p", "0813 5555 0101")
            page.press("#p", "Enter")
            expect(page.locator("#limits")).to_be_visible()
            assert not outbox.exists()
            # With the tick, Enter asks for a code (the form's default button, POST /login).
            page.check("input[name=accept]")
            page.press("#p", "Enter")
            expect(page.locator("[role=status]")).to_contain_text("0813****0101")
            expect(page.locator("#resend button")).to_be_hidden()
            expect(page.locator("#resend button")).to_be_visible(timeout=15_000)
            check_page(page, shots, "2-otp")

            page.fill("#c", "000000" if "000000" not in outbox.read_text() else "999999")
            page.click("button:has-text('Masuk')")
            expect(page.locator("[role=alert]")).to_contain_text("Kode salah")
            check_page(page, shots, "3-otp-wrong-code")

            code = re.search(r"\b(\d{6})\b", json.loads(
                outbox.read_text().splitlines()[-1])["text"]).group(1)  # type: ignore[union-attr]
            page.fill("#c", code)
            page.click("button:has-text('Masuk')")
            expect(page.locator("#time-left")).to_contain_text("jam")
            expect(page.locator("#time-left")).to_contain_text("WIB")
            expect(page.locator("#data-left")).to_have_text("2 GB")
            expect(page.locator(f"a[href='{PUBLIC_URL}']")).to_be_visible()
            check_page(page, shots, "4-success")
            page.goto(base + "/success?lang=en")
            expect(page.locator("#data-left")).to_have_text("2 GB")
            check_page(page, shots, "5-success-en")

            page.goto(elsewhere + "/login?lang=id")  # cookies are per host, not per port
            expect(page.locator("[role=alert]")).to_contain_text("tidak terhubung")
            check_page(page, shots, "6-error")
            page.goto(elsewhere + "/login?lang=en")
            expect(page.locator("[role=alert]")).to_contain_text("not connected")
            check_page(page, shots, "7-error-en")
        except Exception:
            page.screenshot(path=str(shots / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    assert len(list(shots.glob("*.png"))) >= 7


def test_the_login_pages_in_english_and_with_an_error(start_portal: Start,
                                                      tmp_path: Path) -> None:
    """The login page in English, and with a refusal on it (a voucher it does not know)."""
    from playwright.sync_api import expect, sync_playwright

    base = start_portal("voucher", SIMPUL_PORTAL_DEMO_HOTSPOT="alun-alun")
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport=PHONE_SCREEN, is_mobile=True, has_touch=True)
        try:
            page.goto(base + "/login?lang=en")
            expect(page.locator("#limits")).to_have_text(
                "Free 2 hours a session, 4 hours and 2 GB a day")
            check_page(page, shots, "1-login-en")
            page.goto(base + "/login?lang=id")
            page.check("input[name=accept]")
            page.fill("#v", "ABCD-EFGH")
            page.press("#v", "Enter")  # the voucher's way, though click-through comes first
            expect(page.locator("[role=alert]")).to_contain_text("Kode voucher tidak dikenal")
            assert "voucher_unknown" not in page.content()
            check_page(page, shots, "2-login-error")
        finally:
            browser.close()


def test_the_voucher_sheet_prints_and_leads_back(tmp_path: Path, demo_secrets: Path) -> None:
    """The UI's voucher sheet: its print button runs from a static script (the admin CSP
    refuses inline ones), the way back leads to /hotspots, and print hides both."""
    from playwright.sync_api import expect, sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (./test installs it as root)")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "SIMPUL_DATA_DIR": str(tmp_path / "data"),
           "SIMPUL_INVENTORY_DIR": str(DEMO_INVENTORY), "SIMPUL_SECRETS_FILE": str(demo_secrets),
           "SIMPUL_ADMIN_LISTEN": f"127.0.0.1:{port}"}

    def cli(*args: str, stdin: str | None = None) -> str:
        done = subprocess.run([sys.executable, "-m", "controller.cli", *args], cwd=ROOT,
                              env=env, input=stdin, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    cli("db", "upgrade")
    cli("users", "add", "budi", "--role", "operator", "--password-stdin",
        stdin="kata-sandi-ujicoba-1\n")
    cli("hotspot", "vouchers", "create", "--count", "3", "--hotspot", "alun-alun",
        "--batch", "lomba-17an")
    log = tmp_path / "serve.log"
    proc = subprocess.Popen([sys.executable, "-m", "controller.cli", "serve", "--only", "admin"],
                            cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    try:
        wait_until_serving(proc, base, log)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1024, "height": 900})
            blocked: list[str] = []
            page.on("console", lambda m: blocked.append(m.text)
                    if "Content Security Policy" in m.text else None)
            try:
                page.goto(base + "/login?next=/hotspots/vouchers/lomba-17an")
                page.fill("input[name=username]", "budi")
                page.fill("input[name=password]", "kata-sandi-ujicoba-1")
                page.click("button[type=submit].primary")
                page.goto(base + "/hotspots/vouchers/lomba-17an")
                expect(page.locator(".v")).to_have_count(3)
                expect(page.locator(".v").first).to_contain_text("WiFi-Publik-Alun-Alun")
                page.evaluate("() => { window.print = () => {"
                              " document.body.dataset.printed = 'yes'; }; }")
                expect(page.locator("#print-sheet")).to_be_visible()
                page.screenshot(path=str(shots / "voucher-sheet.png"), full_page=True)
                page.click("#print-sheet")
                expect(page.locator("body")).to_have_attribute("data-printed", "yes")
                page.emulate_media(media="print")
                expect(page.locator("#print-sheet")).to_be_hidden()
                page.emulate_media(media="screen")
                page.click("text=Kembali / Back")
                expect(page).to_have_url(base + "/hotspots")
                assert blocked == []
            finally:
                browser.close()
    finally:
        stop_serving(proc)
