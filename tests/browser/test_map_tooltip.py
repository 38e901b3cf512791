"""The dashboard map shows a site's name as text: markup in a name never runs (real Chromium,
the vendored Leaflet and controller/web/static/map.js, no server needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
STATIC = ROOT / "controller/web/static"
NAME = '<img src=x onerror="window.pwned=1"><b>Dinas</b>'


def test_site_name_in_the_map_tooltip_is_plain_text(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (./test installs it as root)")
    if not (STATIC / "vendor/leaflet/leaflet.js").exists():
        pytest.skip("front-end libraries not vendored (./test runs vendor.sh)")
    from playwright.sync_api import expect, sync_playwright

    # The tooltip is the server's text (the name inside it, translated words around it).
    markers = [{"code": "x", "name": NAME, "kind": "noc", "status": "up",
                "lat": -1.9, "lon": 113.7, "tooltip": NAME + " · NOC · Aktif"},
               {"code": "y", "name": "Desa", "kind": "desa", "status": "down",
                "lat": -1.5, "lon": 114.2, "tooltip": "Desa · Desa · Mati"}]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 800, "height": 600})
            page.set_content('<div id="map" style="width:600px;height:400px"></div>')
            page.evaluate("m => { document.getElementById('map').dataset.map = m; }",
                          json.dumps({"markers": markers, "links": []}))
            page.add_style_tag(path=str(STATIC / "vendor/leaflet/leaflet.css"))
            page.add_script_tag(path=str(STATIC / "vendor/leaflet/leaflet.js"))
            page.add_script_tag(path=str(STATIC / "map.js"))
            expect(page.locator("#map.ready")).to_be_visible()
            page.locator("#map .site-dot.up").hover()
            tooltip = page.locator(".leaflet-tooltip")
            expect(tooltip).to_have_text(NAME + " · NOC · Aktif")
            assert tooltip.locator("img, b").count() == 0
            page.wait_for_timeout(200)
            assert page.evaluate("window.pwned") is None
        finally:
            browser.close()
