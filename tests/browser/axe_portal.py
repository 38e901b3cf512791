"""axe-core (WCAG 2 A/AA) on a page open in Chromium: the portal's browser tests' runner.

axe-core is vendored from npm by controller/web/vendor/vendor.sh (pinned in package.json); it
is evaluated through the DevTools protocol, which the page's CSP (no script at all on the
portal) does not govern, so the page is tested exactly as citizens get it.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import ROOT

AXE = ROOT / "controller/web/static/vendor/axe/axe.min.js"
WCAG_A_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")


def axe_results(page: Any) -> dict[str, Any]:
    """Run axe-core on the page's document, WCAG 2.0/2.1 A and AA rules only."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    results: dict[str, Any] = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']})", WCAG_A_AA)
    return results


def blocking_violations(page: Any) -> list[str]:
    """The serious and critical violations on the page, one readable line each (empty: none)."""
    return [f"{v['impact']} {v['id']}: {v['help']} ({len(v['nodes'])} nodes, e.g. "
            f"{v['nodes'][0]['target']})"
            for v in axe_results(page)["violations"] if v["impact"] in BLOCKING]
