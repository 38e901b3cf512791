"""Accepting a recommendation: a reviewable one-line edit of the site's `allocation:` in the
inventory YAML (so `simpul config diff` shows the queue change), checked, and audited."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from controller.bandwidth.recommend import monthly_plan
from controller.inventory import Inventory, InventoryError, check_inventory
from controller.secrets import SecretStore
from controller.store import audit
from controller.store.db import Store
from controller.units import Allocation

_ITEM_RE = re.compile(r"^(\s*)-\s")
_ALLOC_RE = re.compile(r"^(\s*)allocation:(\s*)([^#\s]+)(.*)$")


class AcceptError(Exception):
    pass


class NothingToAccept(AcceptError):
    """The month's plan proposes no change for the site."""


@dataclass(frozen=True)
class Accepted:
    site: str
    path: Path
    before: Allocation
    after: Allocation
    diff: str


def edit_allocation_text(text: str, item_line: int, new: Allocation) -> str:
    """Replace (or add) `allocation:` in the YAML list item starting at `item_line` (1-based)."""
    lines = text.splitlines(keepends=True)
    start = item_line - 1
    match = _ITEM_RE.match(lines[start]) if 0 <= start < len(lines) else None
    if match is None:
        raise AcceptError(f"line {item_line} does not start a list item")
    item_indent = len(match.group(1))
    key_indent = len(lines[start]) - len(lines[start][item_indent + 1:].lstrip())
    end = len(lines)
    for i in range(start + 1, len(lines)):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(lines[i]) - len(lines[i].lstrip())
        if indent <= item_indent:
            end = i
            break
    for i in range(start, end):
        body = lines[i] if i != start else " " * key_indent + lines[i][key_indent:]
        found = _ALLOC_RE.match(body)
        if found and len(found.group(1)) == key_indent:
            newline = "\n" if lines[i].endswith("\n") else ""
            head = lines[i][: lines[i].index("allocation:")]
            lines[i] = f"{head}allocation:{found.group(2)}{new}{found.group(4).rstrip()}{newline}"
            return "".join(lines)
    lines.insert(start + 1, " " * key_indent + f"allocation: {new}\n")
    return "".join(lines)


def accept_allocation(inventory_dir: Path, site_code: str, new: Allocation, *, store: Store,
                      actor: str, secrets: SecretStore | None = None,
                      reason: str | None = None) -> Accepted:
    """Write the new allocation into the inventory, or change nothing and raise."""
    inventory, problems = check_inventory(inventory_dir, secrets)
    if problems:
        raise AcceptError("the inventory has problems already; fix them first:\n" +
                          "\n".join(str(p) for p in problems))
    site = inventory.sites.get(site_code)
    if site is None:
        raise AcceptError(f"unknown site {site_code!r}")
    where = inventory.locations[("sites", site_code)]
    path = Path(where.path)
    before_text = path.read_text(encoding="utf-8")
    after_text = edit_allocation_text(before_text, where.line, new)
    diff = "".join(difflib.unified_diff(
        before_text.splitlines(keepends=True), after_text.splitlines(keepends=True),
        fromfile=f"a/{path}", tofile=f"b/{path}"))
    path.write_text(after_text, encoding="utf-8")
    try:
        changed, problems = check_inventory(inventory_dir, secrets)
        if problems:
            raise InventoryError(problems)
        if changed.sites[site_code].allocation != new:
            raise AcceptError(f"{where}: the edit did not change site {site_code!r}'s "
                              "allocation (is it set by a group?)")
    except InventoryError as exc:
        path.write_text(before_text, encoding="utf-8")
        with store.session() as session:
            audit.record(session, actor, "bandwidth.accept", target=f"site:{site_code}",
                         result="failed", detail={"from": str(site.allocation),
                                                  "to": str(new), "problems": str(exc)})
        raise AcceptError(f"the new allocation {new} for {site_code!r} was not written:\n"
                          f"{exc}") from None
    except BaseException:
        path.write_text(before_text, encoding="utf-8")
        raise
    with store.session() as session:
        audit.record(session, actor, "bandwidth.accept", target=f"site:{site_code}",
                     detail={"from": str(site.allocation), "to": str(new),
                             "file": str(path), "reason": reason}, diff=diff)
    return Accepted(site_code, path, site.allocation, new, diff)


def accept_recommendation(inventory_dir: Path, inventory: Inventory, site_code: str,
                          month: date, *, store: Store, actor: str,
                          secrets: SecretStore | None = None) -> Accepted:
    """Write the allocation the month's plan proposes for the site; NothingToAccept if none."""
    with store.session() as session:
        _, proposals = monthly_plan(session, inventory, month)
    rec = next((r for r in proposals.recommendations if r.site == site_code), None)
    if rec is None or rec.action == "keep":
        raise NothingToAccept(f"no change recommended for site {site_code!r} in {month:%Y-%m}")
    return accept_allocation(inventory_dir, site_code, rec.proposed, store=store, actor=actor,
                             secrets=secrets, reason=f"{month:%Y-%m}: {rec.reason}")
