"""Every engineers' page as a browser receives it: nothing the Content-Security-Policy
(script-src 'self') silently blocks, unique element ids, and no form left on a POST URL."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from controller.context import Context
from controller.web.app import PAGE_ROUTERS
from tests.unit.test_web import client, ctx, log_in  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS = [ROOT / "controller/web/templates", ROOT / "captive_portal/templates"]
# An inline handler (onclick=, onchange=, ...) or a javascript: URL: both need 'unsafe-inline'.
INLINE = re.compile(r"""<[^>]*\son[a-z]+\s*=|(?:href|src|action)\s*=\s*["']?\s*javascript:""",
                    re.IGNORECASE)
SKIP = ("/api/", "/static", "/metrics", "/healthz", "/lang/", "/logout", "/favicon.ico")


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "id" and value:
                self.ids.append(value)
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.inline.append(f"<{tag} {name}={value!r}>")


def test_no_template_has_an_inline_handler_or_javascript_url() -> None:
    found = [f"{path.relative_to(ROOT)}:{text[:m.start()].count(chr(10)) + 1}: {m.group(0)!r}"
             for folder in TEMPLATE_DIRS if folder.exists()
             for path in sorted(folder.rglob("*.html"))
             for text in [path.read_text(encoding="utf-8")]
             for m in INLINE.finditer(text)]
    assert found == []


def _pages() -> list[str]:
    paths = {route.path for router in PAGE_ROUTERS for route in router.routes
             if isinstance(route, APIRoute) and "GET" in route.methods
             and "{" not in route.path and not route.path.startswith(SKIP)}
    return sorted(paths | {"/devices/setda-r1", "/sites/setwan", "/config/preview?device=x"})


def test_every_page_has_unique_ids_and_no_inline_script(client: TestClient,  # noqa: F811
                                                        ctx: Context) -> None:  # noqa: F811
    log_in(client, "admin")
    pages = _pages()
    assert {"/", "/sites", "/users", "/bandwidth", "/audit", "/hotspots"} <= set(pages)
    problems = []
    for path in pages:
        response = client.get(path)
        parser = _Ids()
        parser.feed(response.text)
        duplicated = sorted({i for i in parser.ids if parser.ids.count(i) > 1})
        if duplicated:
            problems.append(f"{path}: ids used twice: {duplicated[:5]}")
        if parser.inline:
            problems.append(f"{path}: inline script: {parser.inline[:3]}")
    assert problems == []


def test_favicon_is_served(client: TestClient) -> None:  # noqa: F811
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg")


def test_the_sites_filter_works_without_inline_script(client: TestClient) -> None:  # noqa: F811
    log_in(client, "admin")
    page = client.get("/sites").text
    assert re.search(r'<select name="kind" data-autosubmit>', page)
    assert '<script src="/static/simpul.js">' in page
    assert "requestSubmit" in client.get("/static/simpul.js").text


def test_audit_times_are_shown_in_the_regencys_zone_and_named(client: TestClient,  # noqa: F811
                                                              ctx: Context) -> None:  # noqa: F811
    from datetime import UTC, datetime

    from controller.store.audit import record
    from controller.store.models import AuditLog

    with ctx.store.session() as session:
        record(session, "cli:ana", "config.push", target="setda-r1", result="changed")
    with ctx.store.session() as session:
        row = session.query(AuditLog).filter_by(target="setda-r1").one()
        row.at = datetime(2026, 11, 27, 12, 0, 5, tzinfo=UTC)
    log_in(client, "admin")
    page = client.get("/audit?target=setda-r1").text
    # The demo regency (Kotawaringin Timur) is in WIB, UTC+7: 12:00:05 UTC is 19:00:05 WIB.
    assert "2026-11-27 19:00:05 WIB" in page and "12:00:05" not in page
