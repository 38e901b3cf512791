"""Background loops of `simpul serve`: the session reaper and the gateway reconciler."""

from __future__ import annotations

import asyncio
import logging

from captive_portal.service import portal_for
from controller.context import Context
from controller.store.db import store_unavailable

log = logging.getLogger("simpul.portal.tasks")


async def session_reaper(ctx: Context) -> None:
    """Every portal_reap_interval_s: accounting from gateway counters, ends sessions, retention."""
    portal = portal_for(ctx)
    while True:
        await asyncio.sleep(ctx.settings.portal_reap_interval_s)
        try:
            report = await asyncio.to_thread(portal.accounting.account_and_reap)
            if report.ended:
                log.info("reaper: ended %s", dict(report.ended))
        except Exception as exc:  # a loop must survive one bad round
            _round_failed("reaper", exc)


async def gateway_reconciler(ctx: Context) -> None:
    """On start and every portal_reconcile_interval_s: gateways' allowed sets = open sessions."""
    portal = portal_for(ctx)
    while True:
        try:
            report = await asyncio.to_thread(portal.reconciler.reconcile)
            if report.added or report.removed or report.ended:
                log.info("reconciler: +%d -%d, %d silent RADIUS session(s) ended",
                         report.added, report.removed, report.ended)
        except Exception as exc:
            _round_failed("reconciler", exc)
        await asyncio.sleep(ctx.settings.portal_reconcile_interval_s)


def _round_failed(loop: str, exc: Exception) -> None:
    """A database that is restarting is one line (the next round retries); anything else is a
    bug worth its trace."""
    if store_unavailable(exc):
        log.warning("%s: database unavailable (%s), next round retries", loop,
                    type(exc).__name__)
    else:
        log.error("%s: round failed", loop, exc_info=exc)
