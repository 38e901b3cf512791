"""The command-centre wall and the public page in real Chromium against `simpul serve --only
admin` (no pollers: the demo lab's addresses stay untouched): a display token opens /wall,
which refreshes in place; /publik needs no login and shows no IP, MAC or phone. Screenshots
(1920x1080) go to the test's tmp dir."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, WallServer, add_sessions
from tests.unit.test_web_wall import IPV4, IPV6, MAC, PHONE

pytestmark = pytest.mark.browser


def test_the_wall_with_a_display_token_and_the_public_page(wall_server: WallServer,
                                                           tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, token = wall_server.base, wall_server.token
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        try:
            # Without a token or session: only a login.
            page.goto(base + "/wall")
            expect(page).to_have_url(re.compile(r"/login\?next=/wall$"))
            # The display token becomes a cookie; the address loses the token at once.
            page.goto(f"{base}/wall?token={token}")
            expect(page).to_have_url(base + "/wall")
            expect(page.locator("h1")).to_have_text("Pusat Komando Jaringan & WiFi Publik")
            expect(page.locator("#wall-map.ready")).to_be_visible()
            assert page.locator("#wall-map path.leaflet-interactive").count() > 47  # + links
            expect(page.locator("#wall-online b")).to_have_text("2")
            expect(page.locator("#wall-today b")).to_have_text("6")
            expect(page.locator("#wall-gb b")).to_have_text("1,5")  # 6 x 250 MB
            expect(page.locator("#wall-alerts")).to_contain_text("Peringatan aktif")
            page.screenshot(path=str(shots / "wall.png"))
            # It refreshes in place: a new citizen appears, the page itself is not reloaded.
            page.evaluate("document.getElementById('wall-map').dataset.kept = 'yes'")
            add_sessions(wall_server.url, "tepian-kahayan", 1, open_=True)
            expect(page.locator("#wall-online b")).to_have_text("3", timeout=30_000)
            assert page.evaluate("document.getElementById('wall-map').dataset.kept") == "yes"
            page.screenshot(path=str(shots / "wall-refreshed.png"))
            log = Path(wall_server.log).read_text()
            assert token not in log and token[len("simpul_"):] not in log
            # The public page: no login, hotspots on the map, aggregates only.
            public = browser.new_page(viewport={"width": 1920, "height": 1080})
            public.goto(base + "/publik")
            expect(public.locator("#publik-map.ready")).to_be_visible()
            assert public.locator("#publik-map path.leaflet-interactive").count() == 4
            expect(public.locator("#publik-reach")).to_contain_text("Warga terlayani")
            public.screenshot(path=str(shots / "publik.png"), full_page=True)
            html = public.content()
            for pattern in (IPV4, IPV6, MAC, PHONE):
                assert not pattern.search(html), (pattern.pattern, pattern.search(html))
        except Exception:
            page.screenshot(path=str(shots / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()
