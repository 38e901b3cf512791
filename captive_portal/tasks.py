"""Background loops of `simpul serve`: the session reaper and the gateway reconciler."""

from __future__ import annotations

import asyncio
import logging

from captive_portal.service import portal_for
from controller.context import Context

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
        except Exception:  # a loop must survive one bad round
            log.exception("reaper: round failed")


async def gateway_reconciler(ctx: Context) -> None:
    """On start and every portal_reconcile_interval_s: gateways' allowed sets = open sessions."""
    portal = portal_for(ctx)
    while True:
        try:
            report = await asyncio.to_thread(portal.reconciler.reconcile)
            if report.added or report.removed:
                log.info("reconciler: +%d -%d", report.added, report.removed)
        except Exception:
            log.exception("reconciler: round failed")
        await asyncio.sleep(ctx.settings.portal_reconcile_interval_s)
