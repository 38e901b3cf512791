"""Graphs and the map in real Chromium against `simpul serve --only admin` (no pollers: the demo
lab's addresses stay untouched), with rollups written into its store:
- the site page's chart (vendored uPlot, charts.js) has axes in bit/s and in 24-hour time in the
  site's zone, and shows a value on hover for each range: the 5-minute rows for 1 h and 24 h,
  the hourly ones for 7 d and 30 d;
- an ISP link's graph (against its contract) and a device interface's (against its speed) draw
  the same way, reached from the NOC's links and the device page, with a no-JS table;
- the dashboard map draws backbone links, clusters dense markers, has a legend in the
  viewer's language, and redraws a link's colour when its use changes, without a reload.
Screenshots go to the test's tmp dir (screenshots/)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import wait_until_serving
from tests.conftest import DEMO_INVENTORY, ROOT, free_port

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PASSWORD = "kata-sandi-ujicoba-1"
# A time tick: 24-hour HH:mm (with the day DD/MM below where it changes), or DD/MM alone.
TIME_TICK = re.compile(r"([01]\d|2[0-3]):[0-5]\d(\n\d\d/\d\d)?|\d\d/\d\d")
SITE = "setda"  # fed by noc-dist Gi1/0/1 -- setda-r1 ether1, a 1G link (inventory/links.yaml)


def seed(url: str) -> None:
    """setda: 12 Mbit/s in, 3 Mbit/s out in every 5-minute bucket of the last 25 hours, and
    10 Mbit/s in, 2 Mbit/s out in every hourly row of the last 31 days."""
    from controller.store.bandwidth import Bandwidth1h, Bandwidth5m
    from controller.store.db import Store

    store = Store(url)
    now = int(time.time())
    with store.session() as session:
        last = now // 300 * 300
        session.add_all(Bandwidth5m(site=SITE, ts=ts, in_bytes=12_000_000 * 300 // 8,
                                    out_bytes=3_000_000 * 300 // 8, covered_s=300.0)
                        for ts in range(last - 25 * 3600, last - 300, 300))
        hour = now // 3600 * 3600
        session.add_all(Bandwidth1h(site=SITE, ts=ts, in_bytes=10_000_000 * 3600 // 8,
                                    out_bytes=2_000_000 * 3600 // 8, covered_s=3600.0)
                        for ts in range(hour - 31 * 86400, hour, 3600))
    store.dispose()


def busy_now(url: str) -> None:
    """setda's current 5-minute bucket at 900 Mbit/s in: 90% of its 1G link."""
    from controller.store.bandwidth import Bandwidth5m
    from controller.store.db import Store

    store = Store(url)
    with store.session() as session:
        session.merge(Bandwidth5m(site=SITE, ts=int(time.time()) // 300 * 300,
                                  in_bytes=900_000_000 * 300 // 8, out_bytes=0,
                                  covered_s=300.0))
    store.dispose()


def site_links() -> int:
    """Links of the demo inventory between devices of two different sites (read by hand)."""
    import yaml

    sites = {d["name"]: d["site"] for d in
             yaml.safe_load((DEMO_INVENTORY / "devices.yaml").read_text())["devices"]}
    links = yaml.safe_load((DEMO_INVENTORY / "links.yaml").read_text())["links"]
    ends = [(link["a"].get("device"), link["b"].get("device")) for link in links]
    return sum(1 for a, b in ends if a in sites and b in sites and sites[a] != sites[b])


@pytest.fixture
def server(tmp_path: Path, demo_secrets: Path) -> Iterator[tuple[str, str]]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (./test installs it as root)")
    if not (ROOT / "controller/web/static/vendor/uplot/uPlot.iife.min.js").exists():
        pytest.skip("front-end libraries not vendored (./test runs vendor.sh)")
    port = free_port()
    data = tmp_path / "data"
    env = {**os.environ, "SIMPUL_DATA_DIR": str(data), "SIMPUL_INVENTORY_DIR": str(DEMO_INVENTORY),
           "SIMPUL_SECRETS_FILE": str(demo_secrets), "SIMPUL_ADMIN_LISTEN": f"127.0.0.1:{port}",
           "SIMPUL_MAP_REFRESH_S": "2"}
    for args in (["db", "upgrade"], ["users", "add", "admin", "--role", "viewer",
                                     "--password-stdin"]):
        done = subprocess.run([sys.executable, "-m", "controller.cli", *args], cwd=ROOT,
                              env=env, input=PASSWORD + "\n", capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
    url = f"sqlite:///{data / 'simpul.db'}"
    seed(url)
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "controller.cli", "serve", "--only", "admin"],
                            cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(proc, base, tmp_path / "serve.log")
        yield base, url
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_graphs_and_the_network_map(server: tuple[str, str], tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, url = server
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        try:
            page.goto(base + "/login")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit].primary")
            expect(page.locator("#map.ready")).to_be_visible()

            # -- the map: links, clusters, legend, translated tooltips
            links = page.locator("#map path.link")
            expect(links).to_have_count(site_links())
            # setda's link carries the seeded 12 Mbit/s (1% of 1G); no other site has a reading
            assert page.locator("#map path.link-low").count() == 1
            assert page.locator("#map path.link-none").count() == site_links() - 1
            clusters = page.locator("#map .marker-cluster")
            expect(clusters.first).to_be_visible()
            counts = [int(t) for t in page.locator("#map .marker-cluster span").all_inner_texts()]
            assert page.locator("#map .leaflet-marker-icon.site-dot").count() + sum(counts) == 47
            legend = page.locator(".map-legend")
            expect(legend).to_contain_text("Keterangan")
            expect(legend).to_contain_text("Pemakaian tautan 80% atau lebih")
            page.screenshot(path=str(shots / "1-map.png"), full_page=True)
            # A cluster opens on a click (the map zooms in): more markers of their own show.
            singles = page.locator("#map .leaflet-marker-icon.site-dot").count()
            big = max(range(len(counts)), key=lambda i: counts[i])
            page.locator("#map .marker-cluster").nth(big).click()
            expect(page.locator("#map .leaflet-marker-icon.site-dot")).not_to_have_count(
                singles)
            assert page.locator("#map .leaflet-marker-icon.site-dot").count() > singles
            # Tooltips in the viewer's language (no poller ran: every status is unknown).
            page.locator("#map .leaflet-marker-icon.site-dot").first.dispatch_event("mouseover")
            expect(page.locator(".leaflet-tooltip")).to_contain_text("Tidak diketahui")
            page.locator("#map .leaflet-marker-icon.site-dot").first.dispatch_event("mouseout")

            # -- it refreshes itself: setda's link turns "full" with no reload
            page.evaluate("document.getElementById('map').dataset.kept = 'yes'")
            busy_now(url)
            expect(page.locator("#map path.link-full")).to_have_count(1, timeout=20_000)
            assert page.evaluate("document.getElementById('map').dataset.kept") == "yes"
            page.locator("#map path.link-full").dispatch_event("mouseover")
            expect(page.locator(".leaflet-tooltip", has_text="90% dari kapasitas")).to_be_visible()
            page.screenshot(path=str(shots / "2-map-refreshed.png"), full_page=True)

            # -- the site page's graph, each range
            page.goto(f"{base}/sites/{SITE}")
            box = page.locator(".chart-box")
            for range_name, download in (("1h", "12 Mbit/s"), ("24h", "12 Mbit/s"),
                                         ("7d", "10 Mbit/s"), ("30d", "10 Mbit/s")):
                page.click(f".ranges a[data-range='{range_name}']")
                expect(page.locator(f".chart-box.ready[data-drawn='{range_name}']")
                       ).to_be_visible()
                y_ticks = page.evaluate(
                    "document.querySelector('.chart-box')._plot.axes[1]._values")
                x_ticks = page.evaluate(
                    "document.querySelector('.chart-box')._plot.axes[0]._values")
                assert y_ticks and all(re.fullmatch(r"[\d.]+ [kMG]?bit/s", t) for t in y_ticks), \
                    y_ticks
                assert len(x_ticks) >= 2 and all(TIME_TICK.fullmatch(t) for t in x_ticks), \
                    x_ticks
                over = box.locator(".u-over")
                size = over.bounding_box()
                assert size is not None
                over.hover(position={"x": size["width"] * 0.6, "y": size["height"] / 2})
                values = box.locator(".u-legend .u-series .u-value")
                expect(values.nth(1)).to_have_text(download)  # Unduh
                expect(values.nth(0)).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d$"))
                expect(values.nth(3)).to_have_text(re.compile(r"Mbit/s$"))  # the allocation
                page.screenshot(path=str(shots / f"3-site-{range_name}.png"), full_page=True)
            assert page.locator(".ranges a[aria-current=true]").get_attribute(
                "data-range") == "30d"
            assert not [e for e in errors if "Content Security Policy" in e], errors

            # -- without JavaScript: the numbers as a table, ranges as links
            rows = week_without_js(browser, page, f"{base}/sites/{SITE}?range=7d",
                                   shots / "4-site-no-js.png")
            expect(rows.nth(2)).to_contain_text("10 Mbit/s")
        except Exception:
            page.screenshot(path=str(shots / "failure.png"), full_page=True)
            print("browser errors:", errors)
            raise
        finally:
            browser.close()


def week_without_js(browser: Any, page: Any, url: str, shot: Path) -> Any:
    """A 7-day graph page with JavaScript off, as the logged-in `page`: its table's rows
    (a header and one row per day), after a screenshot."""
    from playwright.sync_api import expect

    plain = browser.new_context(java_script_enabled=False,
                                viewport={"width": 1366, "height": 900})
    plain.add_cookies(page.context.cookies())
    nojs = plain.new_page()
    nojs.goto(url)
    rows = nojs.locator(".series-table tr")
    expect(rows).to_have_count(8)  # header + 7 days
    nojs.screenshot(path=str(shot), full_page=True)
    return rows


def seed_interfaces(url: str) -> None:
    """noc-border ether1 (the isp-telkom link, contract telkom-astinet: 1G/1G committed) at
    40 Mbit/s in, 8 Mbit/s out, and setda-r1 ether1 (a 1 Gbit/s port) at 12 Mbit/s in, 3 out,
    in every 5-minute bucket of the last 25 hours and every hour of the last 31 days."""
    from controller.store.bandwidth import Interface1h, Interface5m
    from controller.store.db import Store

    store = Store(url)
    now = int(time.time())
    last, hour = now // 300 * 300, now // 3600 * 3600
    with store.session() as session:
        for device, down, up in (("noc-border", 40_000_000, 8_000_000),
                                 ("setda-r1", 12_000_000, 3_000_000)):
            session.add_all(Interface5m(device=device, interface="ether1", ts=ts,
                                        in_bytes=down * 300 // 8, out_bytes=up * 300 // 8,
                                        covered_s=300.0, speed_bps=10**9)
                            for ts in range(last - 25 * 3600, last - 300, 300))
            session.add_all(Interface1h(device=device, interface="ether1", ts=ts,
                                        in_bytes=down * 3600 // 8, out_bytes=up * 3600 // 8,
                                        covered_s=3600.0, speed_bps=10**9)
                            for ts in range(hour - 31 * 86400, hour, 3600))
    store.dispose()



def test_isp_link_and_interface_graphs(server: tuple[str, str], tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, url = server
    seed_interfaces(url)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

        def check_graph(name: str, download: str, limit: str) -> None:
            box = page.locator(".chart-box")
            for range_name in ("1h", "24h", "7d", "30d"):
                page.click(f".ranges a[data-range='{range_name}']")
                expect(page.locator(f".chart-box.ready[data-drawn='{range_name}']")
                       ).to_be_visible()
                axes = "document.querySelector('.chart-box')._plot.axes"
                y_ticks = page.evaluate(axes + "[1]._values")
                x_ticks = page.evaluate(axes + "[0]._values")
                assert y_ticks and all(re.fullmatch(r"[\d.]+ [kMG]?bit/s", t) for t in y_ticks), \
                    y_ticks
                assert len(x_ticks) >= 2 and all(TIME_TICK.fullmatch(t) for t in x_ticks), \
                    x_ticks
                assert page.evaluate(axes + "[0].label") == "Waktu (WIB)"
                over = box.locator(".u-over")
                size = over.bounding_box()
                assert size is not None
                over.hover(position={"x": size["width"] * 0.6, "y": size["height"] / 2})
                values = box.locator(".u-legend .u-series .u-value")
                expect(values.nth(0)).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d$"))
                expect(values.nth(1)).to_have_text(download)
                expect(values.nth(3)).to_have_text(limit)
                page.screenshot(path=str(shots / f"{name}-{range_name}.png"), full_page=True)

        try:
            page.goto(base + "/login")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit].primary")
            page.wait_for_url(base + "/")

            # -- the ISP link, from the NOC's links table, against its contract (1G/1G)
            page.goto(base + "/sites/noc")
            page.click("a[href='/graph?kind=isp_link&link=isp-telkom']")
            expect(page.locator("h1")).to_contain_text("isp-telkom")
            expect(page.locator(".u-legend")).to_contain_text("Komitmen (kontrak) (Unduh)")
            check_graph("5-isp-link", "40 Mbit/s", "1 Gbit/s")

            # -- an interface, from the device page, against its speed
            page.goto(base + "/devices/setda-r1")
            page.click("#interface-graphs a:text-is('ether1')")
            expect(page.locator(".u-legend")).to_contain_text("Kecepatan (Masuk)")
            check_graph("6-interface", "12 Mbit/s", "1 Gbit/s")
            assert not errors, errors

            # -- without JavaScript: the numbers as a table
            rows = week_without_js(
                browser, page,
                f"{base}/graph?kind=interface&device=setda-r1&interface=ether1&range=7d",
                shots / "7-interface-no-js.png")
            expect(rows.nth(2)).to_contain_text("12 Mbit/s")
            expect(rows.nth(2)).to_contain_text("1 Gbit/s / 1 Gbit/s")
        except Exception:
            page.screenshot(path=str(shots / "failure-links.png"), full_page=True)
            print("browser errors:", errors)
            raise
        finally:
            browser.close()
