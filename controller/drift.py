"""Config drift: each device's running config against its intent, checked periodically.

The loop runs inside `simpul serve` every drift_interval_s; results are stored (config_drift)
and exported as simpul_config_drift{device} (1 drifted, 0 in sync; no sample on error) by
exporters.collectors.config.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from controller.inventory import Device
from controller.jobs import CHANGED, FAILED, UNCHANGED, ConfigJobs, DeviceResult
from controller.store.db import Store
from controller.store.drift import save_drift

if TYPE_CHECKING:
    from controller.context import Context

log = logging.getLogger("simpul.drift")
STATUS = {UNCHANGED: "in_sync", CHANGED: "drifted", FAILED: "error"}


def store_results(store: Store, results: Iterable[DeviceResult]) -> None:
    now = datetime.now(UTC)
    with store.session() as session:
        for result in results:
            save_drift(session, result.device, STATUS.get(result.status, "error"),
                       result.diff, result.error, now)


async def check_drift(jobs: ConfigJobs, store: Store | None,
                      devices: list[Device]) -> list[DeviceResult]:
    results = await jobs.run(jobs.diff_one, devices)
    if store is not None:
        store_results(store, results)
    return results


async def drift_loop(ctx: Context) -> None:
    """Background task of `simpul serve`: check every device each drift_interval_s."""
    interval = ctx.settings.drift_interval_s
    if interval <= 0:
        log.info("drift check disabled (SIMPUL_DRIFT_INTERVAL_S=0)")
        return
    await asyncio.sleep(min(interval, 60.0))  # let the listeners and the lab come up first
    while True:
        try:
            # Each round renders from the inventory and secrets in force (they may be reloaded).
            jobs = ConfigJobs(ctx.inventory, ctx.secrets, ctx.settings.data_dir, store=ctx.store,
                              templates_dir=ctx.settings.templates_dir, actor="system:drift",
                              concurrency=ctx.settings.push_concurrency)
            devices = [d for d in ctx.inventory.devices.values() if ctx.shard.owns(d.site)]
            results = await check_drift(jobs, ctx.store, devices)
            drifted = sum(r.status == CHANGED for r in results)
            errors = sum(r.status == FAILED for r in results)
            log.info("drift check: %d device(s), %d drifted, %d unreachable or failed",
                     len(results), drifted, errors)
        except Exception:  # noqa: BLE001 - keep the loop alive; the next round retries
            log.exception("drift check failed")
        await asyncio.sleep(interval)

