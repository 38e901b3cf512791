"""A running `simpul serve` follows the inventory: edits (a merged review, `git pull`, an
accepted recommendation) and secrets file changes take effect without a restart.

Every `inventory_watch_interval_s` (and at once on SIGHUP) the watcher compares the inventory
directory's YAML files and the secrets file (names, sizes, modification times) with what it
last loaded. On a change it reloads: a valid inventory replaces the one in force, and the
loops and pages pick it up on their next use; an invalid one is refused with every problem
logged as `path:line: message`, the last good inventory stays in force, and
`simpul_inventory_problems` says how many problems wait to be fixed. Each reload is audited.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from controller.store import audit

if TYPE_CHECKING:  # context imports the inventory: no circle at run time
    from controller.context import Context

log = logging.getLogger("simpul.inventory")

Fingerprint = tuple[tuple[str, int, int], ...]


def fingerprint(inventory_dir: Path, secrets_file: Path | None) -> Fingerprint:
    """(path, size, mtime_ns) of every inventory YAML file and the secrets file."""
    paths = sorted(p for p in inventory_dir.rglob("*") if p.suffix in (".yaml", ".yml"))
    if secrets_file is not None:
        paths.append(secrets_file)
    marks = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            continue  # removed between listing and stat: the next look sees it gone
        marks.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(marks)


def reload_and_audit(ctx: Context, reason: str) -> list[str]:
    before = ctx.inventory
    problems = ctx.reload_inventory()
    if problems:
        log.error("inventory not reloaded (%s): %d problem(s); the last good inventory stays "
                  "in force:\n  %s", reason, len(problems), "\n  ".join(problems[:50]))
    else:
        inv = ctx.inventory
        log.info("inventory reloaded (%s): %d sites, %d devices, %d links, %d hotspots",
                 reason, len(inv.sites), len(inv.devices), len(inv.links), len(inv.hotspots))
    try:
        with ctx.store.session() as session:
            audit.record(session, "system", "inventory.reload",
                         target=str(ctx.settings.inventory_dir),
                         result="failed" if problems else "ok",
                         detail={"reason": reason, "problems": problems[:20],
                                 "changed": ctx.inventory is not before})
    except Exception:  # noqa: BLE001 - the store being down must not stop the reload
        log.exception("could not audit the inventory reload")
    return problems


# Other watchers woken by the same SIGHUP (asyncio allows one handler per signal), e.g. the
# portal's certificate reload.
HUP_LISTENERS: list[Callable[[], None]] = []


def _hup(wake: asyncio.Event) -> None:
    wake.set()
    for listener in list(HUP_LISTENERS):
        listener()


async def inventory_watch(ctx: Context) -> None:
    """Background task of every `simpul serve` process (admin, portal, poller)."""
    interval = ctx.settings.inventory_watch_interval_s
    wake = asyncio.Event()
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGHUP, _hup, wake)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
        log.debug("no SIGHUP handler in this loop")

    def current() -> Fingerprint:
        return fingerprint(ctx.settings.inventory_dir, ctx.settings.resolved_secrets_file())

    seen = await asyncio.to_thread(current)
    try:
        while True:
            try:
                await asyncio.wait_for(wake.wait(), timeout=interval if interval > 0 else None)
            except TimeoutError:
                pass
            hup = wake.is_set()
            wake.clear()
            try:
                now = await asyncio.to_thread(current)
                if hup or now != seen:
                    seen = now
                    await asyncio.to_thread(reload_and_audit, ctx,
                                            "SIGHUP" if hup else "files changed")
            except Exception:  # noqa: BLE001 - keep watching; the next change retries
                log.exception("inventory watch round failed")
    finally:
        try:
            loop.remove_signal_handler(signal.SIGHUP)
        except (NotImplementedError, RuntimeError, ValueError):
            pass

