"""Accepting a recommendation: a reviewable one-line edit of the site's `allocation:` in the
inventory YAML (so `simpul config diff` shows the queue change), checked, and audited."""

from __future__ import annotations

import difflib
import fcntl
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from controller.allocation_history import record_changes
from controller.bandwidth.recommend import monthly_plan
from controller.inventory import Inventory, check_inventory
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


@contextmanager
def _inventory_edit_lock(inventory_dir: Path) -> Iterator[None]:
    """One inventory edit at a time, across threads and processes (a lock on the directory)."""
    fd = os.open(inventory_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _write_atomically(path: Path, text: str) -> None:
    """Readers (serve's inventory watch, an engineer's editor) never see a half-written file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def accept_allocation(inventory_dir: Path, site_code: str, new: Allocation, *, store: Store,
                      actor: str, secrets: SecretStore | None = None,
                      reason: str | None = None) -> Accepted:
    """Write the new allocation into the inventory, or change nothing and raise.

    The edit is tried on a copy of the inventory first; the real file changes only to a text
    that passes the whole check, in one atomic replace, one edit at a time.
    """
    inventory_dir = Path(inventory_dir)
    with _inventory_edit_lock(inventory_dir):
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
        with tempfile.TemporaryDirectory(prefix="simpul-accept-") as tmp:
            trial = Path(tmp) / "inventory"
            shutil.copytree(inventory_dir, trial)
            (trial / os.path.relpath(path, inventory_dir)).write_text(after_text,
                                                                       encoding="utf-8")
            changed, problems = check_inventory(trial, secrets)
            # Problems name the trial copy's files: say the real ones.
            found = [str(p).replace(str(trial), str(inventory_dir)) for p in problems]
        if found:
            with store.session() as session:
                audit.record(session, actor, "bandwidth.accept", target=f"site:{site_code}",
                             result="failed", detail={"from": str(site.allocation),
                                                      "to": str(new), "problems": found[:20]})
            raise AcceptError(f"the new allocation {new} for {site_code!r} was not written:\n"
                              + "\n".join(found))
        if changed.sites[site_code].allocation != new:
            raise AcceptError(f"{where}: the edit did not change site {site_code!r}'s "
                              "allocation (is it set by a group?)")
        with store.session() as session:
            # The allocation in force until now, if no load stored it yet: the months before
            # keep it.
            record_changes(session, [site], source="inventory", actor="inventory edit")
        _write_atomically(path, after_text)
    with store.session() as session:
        record_changes(session, [changed.sites[site_code]], source="accept", actor=actor)
        audit.record(session, actor, "bandwidth.accept", target=f"site:{site_code}",
                     detail={"from": str(site.allocation), "to": str(new),
                             "file": str(path), "reason": reason}, diff=diff)
    return Accepted(site_code, path, site.allocation, new, diff)


def recommended_change(inventory: Inventory, site_code: str, month: date, *,
                       store: Store) -> tuple[Allocation, str]:
    """The allocation the month's plan proposes for the site, and why; NothingToAccept if
    the plan keeps it (or it is in force already)."""
    with store.session() as session:
        _, proposals = monthly_plan(session, inventory, month)
    rec = next((r for r in proposals.recommendations if r.site == site_code), None)
    site = inventory.sites.get(site_code)
    if rec is None or rec.action == "keep" or (site is not None
                                                and site.allocation == rec.proposed):
        raise NothingToAccept(f"no change recommended for site {site_code!r} in {month:%Y-%m}")
    return rec.proposed, f"{month:%Y-%m}: {rec.reason}"


def accept_recommendation(inventory_dir: Path, inventory: Inventory, site_code: str,
                          month: date, *, store: Store, actor: str,
                          secrets: SecretStore | None = None) -> Accepted:
    """Write the allocation the month's plan proposes for the site; NothingToAccept if none."""
    new, reason = recommended_change(inventory, site_code, month, store=store)
    return accept_allocation(inventory_dir, site_code, new, store=store, actor=actor,
                             secrets=secrets, reason=reason)
