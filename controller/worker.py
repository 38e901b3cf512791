"""Jobs in PostgreSQL through procrastinate: pushes, backups and the once-across-workers rounds.

On PostgreSQL, a push is one job per device, each with the device's procrastinate `lock`, so
two pushes to one device never overlap in any process, and a device's jobs run in the order
they were queued. Periodic rounds (drift, holiday pushes, the portal's reaper with its
retention purges, the gateway reconciler, the stalled-job sweep) are procrastinate periodic
tasks: each runs once across all workers. A worker that dies leaves its jobs `doing`; the sweep
finds them once the worker's heartbeat is older than SIMPUL_JOB_STALLED_AFTER_S and queues
them again, and a push job resumes its device or rolls it back (controller.jobs keeps the
device's config from before the push until the push is settled). On SQLite none of this runs:
the same round functions run in `serve`'s loops, and pushes in the process that was asked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import procrastinate
from sqlalchemy import update
from sqlalchemy.engine import make_url

from controller.bandwidth.holiday_push import run_pass
from controller.context import Context
from controller.drift import check_drift
from controller.inventory import Device
from controller.jobs import FAILED, DeviceResult
from controller.pushes import PENDING, RUNNING, Pushes, config_jobs
from controller.store.models import ConfigPushDevice

log = logging.getLogger("simpul.worker")

PUSH_DEVICE = "simpul.push_device"
BACKUP_DEVICE = "simpul.backup_device"
JOB_RETENTION_H = 72  # finished jobs (and their events) are kept this long, then purged


class QueueRefused(Exception):
    """Queueing asked of a store that has no job queue (SQLite); says what to do instead."""


def uses_job_queue(database_url: str) -> bool:
    """Jobs are queued in PostgreSQL only; on SQLite they run in the process that has them."""
    return make_url(database_url).get_backend_name() == "postgresql"


def device_lock(device: str) -> str:
    """The procrastinate lock of a device: its jobs never run at the same time."""
    return f"device:{device}"


def _conninfo(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(
        hide_password=False)


def job_app(database_url: str) -> procrastinate.App:
    """A procrastinate app on the store's PostgreSQL, with no tasks: enough to queue by name."""
    if not uses_job_queue(database_url):
        raise QueueRefused("queued jobs need PostgreSQL (SIMPUL_DATABASE_URL=postgresql+psycopg"
                           "://...); on SQLite run the push without --enqueue")
    return procrastinate.App(connector=procrastinate.PsycopgConnector(
        conninfo=_conninfo(database_url), min_size=1, max_size=4))


# ---------------------------------------------------------------------- queueing

async def enqueue_push(database_url: str, push_id: int, devices: list[str]) -> None:
    """Queue one job per device of the push, each under its device's lock."""
    app = job_app(database_url)
    async with app.open_async():
        for name in devices:
            await app.configure_task(PUSH_DEVICE, lock=device_lock(name)).defer_async(
                push_id=push_id, device=name)


# ---------------------------------------------------------------------- one device's push

def _claim(pushes: Pushes, push_id: int, device: str) -> bool:
    """pending -> running, or running already (a job the sweep queued again after its worker
    died); False if the device ended (a re-run of a finished job) or the push was aborted."""
    with pushes.store.session() as session:
        done = session.execute(update(ConfigPushDevice).where(
            ConfigPushDevice.push_id == push_id, ConfigPushDevice.device == device,
            ConfigPushDevice.status.in_((PENDING, RUNNING))).values(status=RUNNING))
        return bool(getattr(done, "rowcount", 0))


async def push_device(ctx: Context, pushes: Pushes, pool: ThreadPoolExecutor, push_id: int,
                      device: str) -> str:
    """Push one device of a push and record its result; the push is done with its last
    device. Idempotent: a device already settled is left alone, one pushed before reports
    unchanged, one cut off mid-apply is resumed or rolled back."""
    loop = asyncio.get_running_loop()
    if not await loop.run_in_executor(pool, _claim, pushes, push_id, device):
        # a re-run of a finished job: its push may still wait for its end (a worker of old
        # code died between the two); settling is idempotent
        await loop.run_in_executor(pool, pushes.save_and_settle, push_id, None)
        return "settled"
    push = await loop.run_in_executor(pool, pushes.get, push_id)
    actor = push.actor if push is not None else "system"
    found: Device | None = ctx.inventory.devices.get(device)
    beat = loop.create_task(pushes._heartbeat(push_id))
    try:
        if found is None:
            result = DeviceResult(device, FAILED, error="no longer in the inventory")
        else:
            result = await loop.run_in_executor(pool, config_jobs(ctx, actor).push_one, found)
        await loop.run_in_executor(pool, pushes.save_and_settle, push_id, result)
    finally:
        beat.cancel()
    return result.status


# ---------------------------------------------------------------------- periodic rounds

async def drift_round(ctx: Context) -> None:
    """Check every device against its intent once and store the result."""
    jobs = config_jobs(ctx, "system:drift")
    results = await check_drift(jobs, ctx.store, list(ctx.inventory.devices.values()))
    log.info("drift check: %d device(s), %d drifted", len(results),
             sum(r.status == "changed" for r in results))


async def holiday_round(ctx: Context) -> None:
    """Push the schedule transitions due now (a missed one is caught up)."""
    from datetime import UTC, datetime

    await run_pass(ctx.inventory, ctx.secrets, ctx.store, ctx.settings.data_dir,
                   templates_dir=ctx.settings.templates_dir, now=datetime.now(UTC),
                   concurrency=ctx.settings.push_concurrency)


async def reaper_round(ctx: Context) -> None:
    """Accounting from the gateways' counters, session ends and retention purges."""
    from captive_portal.service import portal_for

    report = await asyncio.to_thread(portal_for(ctx).accounting.account_and_reap)
    if report.ended:
        log.info("reaper: ended %s", dict(report.ended))


async def reconciler_round(ctx: Context) -> None:
    """Make each gateway's allowed set equal to the open sessions."""
    from captive_portal.service import portal_for

    report = await asyncio.to_thread(portal_for(ctx).reconciler.reconcile)
    if report.added or report.removed:
        log.info("reconciler: +%d -%d", report.added, report.removed)


async def sweep_stalled(app: procrastinate.App, stalled_after_s: float,
                        own_worker_id: int | None = None) -> int:
    """Queue again every job whose worker's heartbeat is older than `stalled_after_s`, except
    those of `own_worker_id`: the worker running the sweep is alive, even if a starved host
    delayed its own heartbeat (its jobs are still running here)."""
    stalled = [job for job in await app.job_manager.get_stalled_jobs(
        seconds_since_heartbeat=stalled_after_s)
        if own_worker_id is None or job.worker_id != own_worker_id]
    for job in stalled:
        log.warning("job %s (%s %s) stalled: its worker stopped; queued again", job.id,
                    job.task_name, job.task_kwargs)
        await app.job_manager.retry_job(job)
    return len(stalled)


def cron_every(seconds: float) -> str:
    """A procrastinate cron (6 fields: seconds last) firing about every `seconds`."""
    step = max(1, int(seconds))
    if step < 60:
        return f"* * * * * */{step}"
    minutes = step // 60
    if minutes < 60:
        return f"*/{minutes} * * * *"
    return "0 * * * *"


def _periodic(ctx: Context) -> list[tuple[str, float, Callable[[Context], Awaitable[None]]]]:
    """(name, interval, round) of every once-across-workers round these settings switch on."""
    settings = ctx.settings
    rounds: list[tuple[str, float, Callable[[Context], Awaitable[None]]]] = [
        ("simpul.reaper", settings.portal_reap_interval_s, reaper_round),
        ("simpul.reconciler", settings.portal_reconcile_interval_s, reconciler_round)]
    if settings.drift_interval_s > 0:
        rounds.append(("simpul.drift", settings.drift_interval_s, drift_round))
    if settings.schedule_push:
        rounds.append(("simpul.holiday_push", 60.0, holiday_round))
    return rounds


def worker_app(ctx: Context, pool: ThreadPoolExecutor) -> procrastinate.App:
    """The app a worker runs: push and backup tasks on this context, and the periodic rounds."""
    app = job_app(ctx.settings.resolved_database_url())
    pushes = Pushes(ctx.store, ctx.settings.push_stale_after_s)
    stalled_after_s = ctx.settings.job_stalled_after_s

    @app.task(name=PUSH_DEVICE)
    async def push_device_task(push_id: int, device: str) -> str:
        return await push_device(ctx, pushes, pool, push_id, device)

    @app.task(name=BACKUP_DEVICE)
    async def backup_device_task(device: str) -> str:
        found = ctx.inventory.devices.get(device)
        if found is None:
            return "failed"
        jobs = config_jobs(ctx, "system:backup")
        result = await asyncio.get_running_loop().run_in_executor(pool, jobs.backup_one, found)
        return result.status

    def add_round(name: str, interval_s: float,
                  run: Callable[[Context], Awaitable[None]]) -> None:
        async def one_round(timestamp: int) -> None:
            await run(ctx)

        app.periodic(cron=cron_every(interval_s), periodic_id=name)(
            app.task(name=name, queueing_lock=name)(one_round))

    for name, interval_s, run in _periodic(ctx):
        add_round(name, interval_s, run)

    @app.periodic(cron="17 * * * *", periodic_id="purge_jobs")
    @app.task(name="simpul.purge_jobs", queueing_lock="simpul.purge_jobs")
    async def purge_jobs(timestamp: int) -> None:
        await app.job_manager.delete_old_jobs(nb_hours=JOB_RETENTION_H, include_failed=True,
                                              include_cancelled=True, include_aborted=True)

    @app.periodic(cron=cron_every(max(1.0, stalled_after_s / 2)), periodic_id="sweep")
    @app.task(name="simpul.sweep_stalled", queueing_lock="simpul.sweep_stalled",
              pass_context=True)
    async def sweep_task(context: procrastinate.JobContext, timestamp: int) -> int:
        return await sweep_stalled(app, stalled_after_s, context.job.worker_id)

    return app


async def run_worker(ctx: Context) -> None:
    """Run a procrastinate worker in this process until cancelled; started again after a
    failure (PostgreSQL restarting, say): its jobs wait in the queue meanwhile."""
    while True:
        try:
            await _run_worker_once(ctx)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the worker must outlive a lost connection
            log.exception("worker stopped; starting again in 5 s")
        await asyncio.sleep(5.0)


async def _run_worker_once(ctx: Context) -> None:
    settings = ctx.settings
    stalled_after_s = settings.job_stalled_after_s
    pool = ThreadPoolExecutor(max_workers=settings.push_concurrency,
                              thread_name_prefix="simpul-worker")
    app = worker_app(ctx, pool)
    options: dict[str, Any] = {
        "concurrency": settings.push_concurrency + len(_periodic(ctx)) + 1,
        "install_signal_handlers": False,
        "update_heartbeat_interval": min(10.0, stalled_after_s / 4),
        "stalled_worker_timeout": stalled_after_s}
    try:
        async with app.open_async():
            log.info("worker: running jobs (stalled after %.0f s)", stalled_after_s)
            await app.run_worker_async(**options)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
