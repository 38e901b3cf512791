"""The stalled-job sweep on a real PostgreSQL with procrastinate's schema: a job whose worker
stopped sending heartbeats is queued again, except when the worker running the sweep is that
worker (a starved host can delay its own heartbeat; its jobs are still running)."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from controller.store.db import make_engine, migrate
from controller.worker import job_app, sweep_stalled


def _fresh(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    migrate(url)  # our tables and the job library's


def _status(url: str, job_id: int) -> tuple[str, int | None]:
    """The job's status and the worker that last took it."""
    engine = make_engine(url)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT status, worker_id FROM procrastinate_jobs "
                                "WHERE id = :id"), {"id": job_id}).one()
    engine.dispose()
    return str(row.status), row.worker_id


async def _stalled_job(url: str) -> tuple[int, int]:
    """A job taken by a worker whose last heartbeat is ten minutes old: (job id, worker id)."""
    app = job_app(url)
    async with app.open_async():
        worker = await app.job_manager.register_worker()
        job_id = await app.configure_task("simpul.push_device", lock="device:x").defer_async(
            push_id=1, device="x")
        job = await app.job_manager.fetch_job(queues=None, worker_id=worker)
        assert job is not None and job.id == job_id
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE procrastinate_workers SET last_heartbeat = "
                          "now() - interval '10 minutes' WHERE id = :id"), {"id": worker})
    engine.dispose()
    return job_id, worker


async def _sweep(url: str, own: int | None) -> int:
    app = job_app(url)
    async with app.open_async():
        return await sweep_stalled(app, 60.0, own)


def test_a_dead_workers_job_is_queued_again(postgres_url: str) -> None:
    _fresh(postgres_url)
    job_id, worker = asyncio.run(_stalled_job(postgres_url))
    assert _status(postgres_url, job_id) == ("doing", worker)
    assert asyncio.run(_sweep(postgres_url, own=worker + 1000)) == 1
    assert _status(postgres_url, job_id)[0] == "todo"  # for any worker to take again


def test_the_sweeping_workers_own_job_stays_running(postgres_url: str) -> None:
    _fresh(postgres_url)
    job_id, worker = asyncio.run(_stalled_job(postgres_url))
    assert asyncio.run(_sweep(postgres_url, own=worker)) == 0
    assert _status(postgres_url, job_id) == ("doing", worker)
