"""Config pushes started from the UI or API: run in the background, watched per device.

The work itself is controller.jobs (lock, backup, apply, verify, roll back, audit); this keeps
each push and its per-device progress in the store (`config_pushes`, `config_push_devices`),
so any admin process behind a load balancer shows any push, and a restart loses none. The
process running a push touches its heartbeat; a push whose heartbeat stopped before it finished
was interrupted: its devices still pending show as `interrupted`, to be pushed again (each
device's backup was taken before its change, and a push of an unchanged device changes
nothing).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update

from controller.context import Context
from controller.inventory import Device
from controller.jobs import ConfigJobs, DeviceResult
from controller.store.db import Store
from controller.store.models import ConfigPush, ConfigPushDevice

log = logging.getLogger("simpul.pushes")
PENDING = "pending"
INTERRUPTED = "interrupted"
KEEP_PUSHES = 1000  # older pushes are deleted (each device's result stays in the audit log)
STALE_AFTER_S = 60.0  # no heartbeat for this long and not finished: interrupted


@dataclass
class Push:
    id: int
    actor: str
    devices: list[str]
    started_at: datetime
    results: dict[str, DeviceResult] = field(default_factory=dict)
    finished_at: datetime | None = None
    interrupted: bool = False

    @property
    def done(self) -> bool:
        return self.finished_at is not None or self.interrupted

    def status_of(self, device: str) -> str:
        result = self.results.get(device)
        if result is not None:
            return result.status
        return INTERRUPTED if self.interrupted else PENDING

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for device in self.devices:
            status = self.status_of(device)
            counts[status] = counts.get(status, 0) + 1
        return counts

    def not_pushed(self) -> list[str]:
        return [d for d in self.devices if self.status_of(d) == INTERRUPTED]


def config_jobs(ctx: Context, actor: str) -> ConfigJobs:
    return ConfigJobs(ctx.inventory, ctx.secrets, ctx.settings.data_dir, store=ctx.store,
                      templates_dir=ctx.settings.templates_dir, actor=actor,
                      concurrency=ctx.settings.push_concurrency)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class Pushes:
    """The config pushes of the store; this process runs the ones it starts."""

    def __init__(self, store: Store, stale_after_s: float = STALE_AFTER_S):
        self.store = store
        self.stale_after_s = stale_after_s
        self._tasks: dict[int, asyncio.Task[None]] = {}  # running here (kept from the GC)

    def start(self, ctx: Context, devices: list[Device], actor: str) -> Push:
        now = datetime.now(UTC)
        with self.store.session() as session:
            row = ConfigPush(actor=actor, started_at=now, heartbeat_at=now)
            session.add(row)
            session.flush()
            push_id = row.id
            session.add_all(ConfigPushDevice(push_id=push_id, device=d.name, position=i,
                                             status=PENDING) for i, d in enumerate(devices))
            old = session.scalars(select(ConfigPush.id).order_by(ConfigPush.id.desc())
                                  .offset(KEEP_PUSHES)).all()
            if old:
                session.execute(delete(ConfigPushDevice).where(ConfigPushDevice.push_id.in_(old)))
                session.execute(delete(ConfigPush).where(ConfigPush.id.in_(old)))
        task = asyncio.get_running_loop().create_task(self._run(ctx, push_id, actor, devices))
        self._tasks[push_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(push_id, None))
        found = self.get(push_id)
        assert found is not None
        return found

    async def _run(self, ctx: Context, push_id: int, actor: str, devices: list[Device]) -> None:
        jobs = config_jobs(ctx, actor)
        saves: list[asyncio.Task[None]] = []
        beat = asyncio.get_running_loop().create_task(self._heartbeat(push_id))

        def on_result(result: DeviceResult) -> None:  # called on the event loop
            saves.append(asyncio.get_running_loop().create_task(
                asyncio.to_thread(self._save, push_id, result)))

        try:
            await jobs.run(jobs.push_one, devices, on_result=on_result)
        except Exception:  # noqa: BLE001 - a crash must still finish the push for its watchers
            log.exception("push %d failed", push_id)
            await asyncio.to_thread(self._fail_pending, push_id, "internal error")
        finally:
            beat.cancel()
            await asyncio.gather(*saves, return_exceptions=True)
            await asyncio.to_thread(self._finish, push_id)

    async def _heartbeat(self, push_id: int) -> None:
        while True:
            await asyncio.sleep(self.stale_after_s / 4)
            try:
                await asyncio.to_thread(self._touch, push_id)
            except Exception:  # noqa: BLE001 - a missed beat is retried on the next one
                log.warning("push %d: heartbeat not written", push_id, exc_info=True)

    def _touch(self, push_id: int) -> None:
        with self.store.session() as session:
            session.execute(update(ConfigPush).where(ConfigPush.id == push_id)
                            .values(heartbeat_at=datetime.now(UTC)))

    def _save(self, push_id: int, result: DeviceResult) -> None:
        with self.store.session() as session:
            session.execute(update(ConfigPushDevice).where(
                ConfigPushDevice.push_id == push_id, ConfigPushDevice.device == result.device)
                .values(status=result.status, diff=result.diff or None, error=result.error))
            session.execute(update(ConfigPush).where(ConfigPush.id == push_id)
                            .values(heartbeat_at=datetime.now(UTC)))

    def _fail_pending(self, push_id: int, error: str) -> None:
        with self.store.session() as session:
            session.execute(update(ConfigPushDevice).where(
                ConfigPushDevice.push_id == push_id, ConfigPushDevice.status == PENDING)
                .values(status="failed", error=error))

    def _finish(self, push_id: int) -> None:
        with self.store.session() as session:
            session.execute(update(ConfigPush).where(ConfigPush.id == push_id)
                            .values(finished_at=datetime.now(UTC)))

    def get(self, push_id: int) -> Push | None:
        with self.store.session() as session:
            row = session.get(ConfigPush, push_id)
            if row is None:
                return None
            items = session.scalars(select(ConfigPushDevice).where(
                ConfigPushDevice.push_id == push_id).order_by(ConfigPushDevice.position)).all()
            finished = _aware(row.finished_at) if row.finished_at else None
            stale = datetime.now(UTC) - _aware(row.heartbeat_at) > \
                timedelta(seconds=self.stale_after_s)
            return Push(
                id=row.id, actor=row.actor, devices=[i.device for i in items],
                started_at=_aware(row.started_at), finished_at=finished,
                interrupted=finished is None and stale and push_id not in self._tasks,
                results={i.device: DeviceResult(i.device, i.status, i.diff or "", i.error)
                         for i in items if i.status != PENDING})
