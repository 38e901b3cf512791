"""The monthly report's HTML escapes inventory text: a site name with markup stays text."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from controller.bandwidth.reports import build_monthly_report, render_html
from controller.inventory import load_inventory
from controller.store.db import Store, migrate
from tests.unit.bandwidth_helpers import write_mini

MARKUP = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_site_name_with_markup_is_escaped_in_the_html_report(tmp_path: Path) -> None:
    directory = write_mini(tmp_path / "inventory")
    path = directory / "inventory.yaml"
    path.write_text(path.read_text().replace("name: Kantor Uji", f"name: '{MARKUP}'"))
    inventory = load_inventory(directory)
    url = f"sqlite:///{tmp_path / 'simpul.db'}"
    migrate(url)
    store = Store(url)
    with store.session() as session:
        report = build_monthly_report(session, inventory, date(2026, 10, 1),
                                      now=datetime(2026, 11, 1, tzinfo=UTC), only="kantor")
    store.dispose()
    html = render_html(report)
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "<svg" in html or "Tidak ada data" in html  # charts and markup still rendered
