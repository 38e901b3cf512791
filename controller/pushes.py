"""Config pushes kept in the store: started from the UI, the API or the CLI, watched per device.

The work itself is controller.jobs (lock, backup, apply, verify, roll back, audit); this keeps
each push and its per-device progress in the store (`config_pushes`, `config_push_devices`),
so any admin process behind a load balancer shows any push, and a restart loses none. The
process running a push touches its heartbeat; a push whose heartbeat stopped before it finished
was interrupted: its devices still pending show as `interrupted`, to be pushed again (each
device's backup was taken before its change, and a push of an unchanged device changes
nothing).

Safe pushes (issue #18): a push may be staged (the first N devices, then `paused` until an
operator continues it), aborted (devices not yet started end `aborted`; those in flight finish
or roll back), and a push touching a `protected` site waits in `awaiting_approval` until a
second operator, not the requester, approves it. Every step is audited; the state is in the
store, so a paused or waiting push survives a restart and any process may continue it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from controller.context import Context
from controller.inventory import Device
from controller.jobs import ConfigJobs, DeviceResult
from controller.store.audit import record
from controller.store.db import Store
from controller.store.models import ConfigPush, ConfigPushDevice

log = logging.getLogger("simpul.pushes")
QueuePush = Callable[[int, list[str]], Awaitable[None]]  # (push id, device names) to workers
# Device status words besides those of `config push --json` (the words of issue #17).
PENDING, RUNNING, ABORTED, INTERRUPTED = "pending", "running", "aborted", "interrupted"
AWAITING_APPROVAL = "awaiting_approval"
# Push states.
PAUSED, DONE = "paused", "done"
PUSH_STATES = (AWAITING_APPROVAL, RUNNING, PAUSED, DONE, ABORTED)
KEEP_PUSHES = 1000  # older pushes are deleted (each device's result stays in the audit log)
STALE_AFTER_S = 60.0  # no heartbeat for this long and not finished: interrupted
APPROVAL_ALERT = "SimpulPushAwaitingApproval"
ALERT_TIMEOUT_S = 3.0


class PushRefused(Exception):
    """An approval, continuation or abort that does not apply to the push now; says why."""


class OwnApproval(PushRefused):
    """The requester tried to approve their own push: four eyes means two operators."""


@dataclass
class Push:
    id: int
    actor: str
    devices: list[str]
    started_at: datetime
    results: dict[str, DeviceResult] = field(default_factory=dict)
    finished_at: datetime | None = None
    interrupted: bool = False
    state: str = RUNNING
    stage: int | None = None
    protected_sites: list[str] = field(default_factory=list)
    approved_by: str | None = None
    continued_by: str | None = None
    aborted_by: str | None = None
    in_flight: set[str] = field(default_factory=set)

    @property
    def done(self) -> bool:
        return self.finished_at is not None or self.interrupted

    @property
    def settled(self) -> bool:
        """Nothing runs now: finished, interrupted, paused or waiting for an approval."""
        return self.done or self.state in (PAUSED, AWAITING_APPROVAL)

    @property
    def state_word(self) -> str:
        return INTERRUPTED if self.interrupted else self.state

    def status_of(self, device: str) -> str:
        result = self.results.get(device)
        if result is not None:
            return result.status
        if self.interrupted:
            return INTERRUPTED
        if device in self.in_flight:
            return RUNNING
        return AWAITING_APPROVAL if self.state == AWAITING_APPROVAL else PENDING

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


def protected_sites(ctx: Context, devices: list[Device]) -> list[str]:
    """The protected sites (inventory `protected: true`) among the devices' sites."""
    return sorted({d.site for d in devices
                   if (site := ctx.inventory.sites.get(d.site)) is not None and site.protected})


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def post_alert(url: str, labels: dict[str, str], summary: str, started_at: datetime,
               firing: bool, what: str) -> None:
    """Tell the alert channel (Alertmanager's API v2, which routes every alert to the webhook
    and Telegram) that something waits for a second operator, or (not firing) that it was
    decided. A channel that does not answer is logged (`what` names the waiting thing): the
    work itself goes on."""
    if not url:
        return
    now = datetime.now(UTC)
    alert = {
        "labels": {"severity": "warning", **labels},
        "annotations": {"summary": summary},
        "startsAt": started_at.isoformat(),
        # Firing until decided (a week at most); resolved at once when decided.
        "endsAt": (now + timedelta(days=7) if firing else now).isoformat(),
    }
    try:
        httpx.post(url.rstrip("/") + "/api/v2/alerts", json=[alert],
                   timeout=ALERT_TIMEOUT_S).raise_for_status()
    except httpx.HTTPError as exc:
        log.warning("%s: alert not sent to %s: %s", what, url, exc)


def post_approval_alert(ctx: Context, push: Push, firing: bool) -> None:
    """The alert of a push waiting for a second operator; resolved once approved or aborted."""
    sites = ", ".join(push.protected_sites)
    post_alert(ctx.settings.alertmanager_url,
               {"alertname": APPROVAL_ALERT, "push": str(push.id), "site": sites},
               f"Push #{push.id} ({push.actor}) ke situs terlindungi {sites} menunggu "
               f"persetujuan operator kedua / waits for a second operator's approval",
               push.started_at, firing, f"push {push.id}")


class Pushes:
    """The config pushes of the store; this process runs the batches it starts."""

    def __init__(self, store: Store, stale_after_s: float = STALE_AFTER_S,
                 queue: QueuePush | None = None):
        self.store = store
        self.stale_after_s = stale_after_s
        # On PostgreSQL (controller.worker.enqueue_push): batches go to the workers' queue.
        self.queue = queue
        self._tasks: dict[int, asyncio.Task[Any]] = {}  # running (or being queued) here

    # ------------------------------------------------------------------ steps

    def create(self, ctx: Context, devices: list[Device], actor: str,
               stage: int | None = None) -> Push:
        """Record a push; it runs once `execute` is called, unless it needs an approval."""
        now = datetime.now(UTC)
        protected = protected_sites(ctx, devices)
        state = AWAITING_APPROVAL if protected else RUNNING
        staged = stage if stage is not None and 0 < stage < len(devices) else None
        with self.store.session() as session:
            row = ConfigPush(actor=actor, started_at=now, heartbeat_at=now, state=state,
                             stage=staged, protected_sites=",".join(protected) or None)
            session.add(row)
            session.flush()
            push_id = row.id
            session.add_all(ConfigPushDevice(push_id=push_id, device=d.name, position=i,
                                             status=PENDING) for i, d in enumerate(devices))
            record(session, actor, "config.push.request", target=f"push:{push_id}",
                   result=state, detail={"devices": [d.name for d in devices],
                                         "stage": staged, "protected_sites": protected})
            old = session.scalars(select(ConfigPush.id).order_by(ConfigPush.id.desc())
                                  .offset(KEEP_PUSHES)).all()
            if old:
                session.execute(delete(ConfigPushDevice).where(ConfigPushDevice.push_id.in_(old)))
                session.execute(delete(ConfigPush).where(ConfigPush.id.in_(old)))
        push = self._found(push_id)
        if protected:
            post_approval_alert(ctx, push, firing=True)
        return push

    def approve(self, ctx: Context, push_id: int, approver: str) -> Push:
        """A second operator's approval; the requester's own is refused (and audited)."""
        with self.store.session() as session:
            row = self._row(session, push_id)
            if row.state != AWAITING_APPROVAL:
                raise PushRefused(f"push {push_id} is {row.state}: it awaits no approval")
            if approver == row.actor:
                record(session, approver, "config.push.approve", target=f"push:{push_id}",
                       result="refused", detail={"reason": "requester"})
                session.commit()
                raise OwnApproval(f"push {push_id}: the operator who asked for it ({approver}) "
                                  "cannot approve it; a second operator must")
            row.state, row.approved_by = RUNNING, approver
            row.heartbeat_at = datetime.now(UTC)
            record(session, approver, "config.push.approve", target=f"push:{push_id}",
                   detail={"requester": row.actor,
                           "protected_sites": (row.protected_sites or "").split(",")})
        push = self._found(push_id)
        post_approval_alert(ctx, push, firing=False)
        return push

    def continue_push(self, push_id: int, actor: str) -> Push:
        """An operator's confirmation, after a staged push paused, to push the rest."""
        with self.store.session() as session:
            row = self._row(session, push_id)
            if row.state != PAUSED:
                raise PushRefused(f"push {push_id} is {row.state}, not paused")
            row.state, row.continued_by = RUNNING, actor
            row.heartbeat_at = datetime.now(UTC)
            record(session, actor, "config.push.continue", target=f"push:{push_id}")
        return self._found(push_id)

    def abort(self, ctx: Context, push_id: int, actor: str) -> Push:
        """Stop the devices not yet started (they end `aborted`); those in flight finish or
        roll back as any push does."""
        before = self._found(push_id)
        with self.store.session() as session:
            row = self._row(session, push_id)
            if row.state in (DONE, ABORTED):
                raise PushRefused(f"push {push_id} is {row.state} already")
            session.execute(update(ConfigPushDevice).where(
                ConfigPushDevice.push_id == push_id, ConfigPushDevice.status == PENDING)
                .values(status=ABORTED))
            in_flight = session.scalar(select(func.count()).where(
                ConfigPushDevice.push_id == push_id, ConfigPushDevice.status == RUNNING)) or 0
            if before.interrupted:  # nobody will finish these: say so for good
                session.execute(update(ConfigPushDevice).where(
                    ConfigPushDevice.push_id == push_id, ConfigPushDevice.status == RUNNING)
                    .values(status=INTERRUPTED))
            waited = row.state == AWAITING_APPROVAL
            row.state, row.aborted_by = ABORTED, actor
            if not in_flight or before.interrupted:
                row.finished_at = datetime.now(UTC)
            record(session, actor, "config.push.abort", target=f"push:{push_id}",
                   detail={"in_flight": in_flight})
        push = self._found(push_id)
        if waited:
            post_approval_alert(ctx, push, firing=False)
        return push

    # ------------------------------------------------------------------ running

    def start(self, ctx: Context, devices: list[Device], actor: str,
              stage: int | None = None) -> Push:
        """Record a push and run it in the background here (unless it awaits an approval)."""
        push = self.create(ctx, devices, actor, stage)
        if push.state == RUNNING:
            self.spawn(ctx, push.id)
        return push

    def spawn(self, ctx: Context, push_id: int) -> None:
        """Run the push's next batch in the background of this process, or queue it for the
        workers when this process has a queue."""
        work = self.execute(ctx, push_id) if self.queue is None else self._queue(ctx, push_id)
        task: asyncio.Task[Any] = asyncio.get_running_loop().create_task(work)
        self._tasks[push_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(push_id, None))

    async def _queue(self, ctx: Context, push_id: int) -> None:
        assert self.queue is not None
        _, batch = await asyncio.to_thread(self._next_batch, ctx, push_id)
        try:
            await self.queue(push_id, [d.name for d in batch])
        except Exception:  # noqa: BLE001 - the push must not wait for jobs never queued
            log.exception("push %d: not queued", push_id)
            await asyncio.to_thread(self._fail_batch, push_id, [d.name for d in batch],
                                    "not queued: the job queue did not answer")
            await asyncio.to_thread(self._after_batch, push_id)

    async def execute(self, ctx: Context, push_id: int,
                      on_result: Callable[[DeviceResult], None] | None = None
                      ) -> list[DeviceResult]:
        """Run the push's next batch (its first stage, or every device still pending) and
        leave it paused or done; the CLI awaits this, the web app spawns it."""
        actor, batch = await asyncio.to_thread(self._next_batch, ctx, push_id)
        if not batch:
            await asyncio.to_thread(self._after_batch, push_id)
            return []
        jobs = config_jobs(ctx, actor)
        saves: list[asyncio.Task[None]] = []
        beat = asyncio.get_running_loop().create_task(self._heartbeat(push_id))

        def one(device: Device) -> DeviceResult:  # in a worker thread
            if not self._claim(push_id, device.name):
                return DeviceResult(device.name, ABORTED)
            return jobs.push_one(device)

        def saved(result: DeviceResult) -> None:  # called on the event loop
            saves.append(asyncio.get_running_loop().create_task(
                asyncio.to_thread(self._save, push_id, result)))
            if on_result is not None:
                on_result(result)

        results: list[DeviceResult] = []
        try:
            results = await jobs.run(one, batch, on_result=saved)
        except Exception:  # noqa: BLE001 - a crash must still finish the batch for its watchers
            log.exception("push %d failed", push_id)
            await asyncio.to_thread(self._fail_batch, push_id, [d.name for d in batch],
                                    "internal error")
        finally:
            beat.cancel()
            await asyncio.gather(*saves, return_exceptions=True)
            await asyncio.to_thread(self._after_batch, push_id)
        return results

    def _next_batch(self, ctx: Context, push_id: int) -> tuple[str, list[Device]]:
        with self.store.session() as session:
            row = self._row(session, push_id)
            if row.state != RUNNING:
                return row.actor, []
            items = session.scalars(select(ConfigPushDevice).where(
                ConfigPushDevice.push_id == push_id, ConfigPushDevice.status == PENDING)
                .order_by(ConfigPushDevice.position)).all()
            if row.stage is not None and row.continued_by is None:
                items = [i for i in items if i.position < row.stage]
            batch = []
            for item in items:
                device = ctx.inventory.devices.get(item.device)
                if device is None:
                    item.status, item.error = "failed", "no longer in the inventory"
                else:
                    batch.append(device)
            return row.actor, batch

    def _claim(self, push_id: int, device: str) -> bool:
        """Mark the device running unless an abort came first (an atomic pending -> running)."""
        with self.store.session() as session:
            done = session.execute(update(ConfigPushDevice).where(
                ConfigPushDevice.push_id == push_id, ConfigPushDevice.device == device,
                ConfigPushDevice.status == PENDING).values(status=RUNNING))
            return bool(getattr(done, "rowcount", 0))

    def _after_batch(self, push_id: int) -> None:
        """Paused if a stage ran and devices wait; done if none wait; aborted stays so."""
        with self.store.session() as session:
            self._settle(session, self._row(session, push_id))

    def _settle(self, session: Session, row: ConfigPush) -> None:
        waiting = session.scalar(select(func.count()).where(
            ConfigPushDevice.push_id == row.id, ConfigPushDevice.status == PENDING)) or 0
        if row.state == RUNNING and waiting and row.stage is not None \
                and row.continued_by is None:
            row.state = PAUSED
            record(session, row.actor, "config.push.pause", target=f"push:{row.id}",
                   detail={"waiting": waiting})
            return
        if row.state == RUNNING:
            row.state = DONE
        row.finished_at = datetime.now(UTC)

    def save_and_settle(self, push_id: int, result: DeviceResult | None = None) -> bool:
        """A queued device's result and, if it was the push's last, the push's end, in one
        transaction under the push row's lock: no watcher sees every device settled while the
        push still runs, and no worker dying between the two leaves the push running forever.
        Without a result, only settles a push whose devices all ended (a re-run job's check).
        True if the push ended (or paused) here."""
        with self.store.session() as session:
            row = session.scalars(select(ConfigPush).where(ConfigPush.id == push_id)
                                  .with_for_update()).first()
            if row is None:
                raise PushRefused(f"no push {push_id}")
            if result is not None:
                session.execute(update(ConfigPushDevice).where(
                    ConfigPushDevice.push_id == push_id,
                    ConfigPushDevice.device == result.device)
                    .values(status=result.status, diff=result.diff or None,
                            error=result.error))
                row.heartbeat_at = datetime.now(UTC)
            unsettled = select(func.count()).where(
                ConfigPushDevice.push_id == push_id,
                ConfigPushDevice.status.in_((PENDING, RUNNING)))
            if row.stage is not None and row.continued_by is None:  # the first stage's batch
                unsettled = unsettled.where(ConfigPushDevice.position < row.stage)
            if session.scalar(unsettled) or row.state != RUNNING:
                return False
            self._settle(session, row)
            return True

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

    def _fail_batch(self, push_id: int, devices: list[str], error: str) -> None:
        with self.store.session() as session:
            session.execute(update(ConfigPushDevice).where(
                ConfigPushDevice.push_id == push_id, ConfigPushDevice.device.in_(devices),
                ConfigPushDevice.status.in_((PENDING, RUNNING)))
                .values(status="failed", error=error))

    # ------------------------------------------------------------------ reading

    @staticmethod
    def _row(session: object, push_id: int) -> ConfigPush:
        row = session.get(ConfigPush, push_id)  # type: ignore[attr-defined]
        if row is None:
            raise PushRefused(f"no push {push_id}")
        return row  # type: ignore[no-any-return]

    def _found(self, push_id: int) -> Push:
        push = self.get(push_id)
        if push is None:
            raise PushRefused(f"no push {push_id}")
        return push

    def get(self, push_id: int) -> Push | None:
        with self.store.session() as session:
            row = session.get(ConfigPush, push_id)
            if row is None:
                return None
            items = session.scalars(select(ConfigPushDevice).where(
                ConfigPushDevice.push_id == push_id).order_by(ConfigPushDevice.position)).all()
            return self._push(row, list(items))

    def _push(self, row: ConfigPush, items: list[ConfigPushDevice]) -> Push:
        finished = _aware(row.finished_at) if row.finished_at else None
        stale = datetime.now(UTC) - _aware(row.heartbeat_at) > \
            timedelta(seconds=self.stale_after_s)
        return Push(
            id=row.id, actor=row.actor, devices=[i.device for i in items],
            started_at=_aware(row.started_at), finished_at=finished,
            interrupted=(finished is None and stale and row.state in (RUNNING, ABORTED)
                         and row.id not in self._tasks),
            results={i.device: DeviceResult(i.device, i.status, i.diff or "", i.error)
                     for i in items if i.status not in (PENDING, RUNNING)},
            state=row.state, stage=row.stage,
            protected_sites=[s for s in (row.protected_sites or "").split(",") if s],
            approved_by=row.approved_by, continued_by=row.continued_by,
            aborted_by=row.aborted_by,
            in_flight={i.device for i in items if i.status == RUNNING})

    def list(self, offset: int = 0, limit: int = 50,
             state: str | None = None) -> tuple[int, list[Push]]:
        """Newest first; the total matching, and one page of them."""
        with self.store.session() as session:
            query = select(ConfigPush)
            counting = select(func.count()).select_from(ConfigPush)
            if state is not None:
                query = query.where(ConfigPush.state == state)
                counting = counting.where(ConfigPush.state == state)
            total = session.scalar(counting) or 0
            rows = session.scalars(query.order_by(ConfigPush.id.desc())
                                   .offset(offset).limit(limit)).all()
            items = session.scalars(select(ConfigPushDevice).where(
                ConfigPushDevice.push_id.in_([r.id for r in rows]))
                .order_by(ConfigPushDevice.position)).all()
            by_push: dict[int, list[ConfigPushDevice]] = {}
            for item in items:
                by_push.setdefault(item.push_id, []).append(item)
            return total, [self._push(r, by_push.get(r.id, [])) for r in rows]

    def awaiting_approval(self) -> int:
        """How many pushes wait for a second operator (the header shows it)."""
        with self.store.session() as session:
            return session.scalar(select(func.count()).select_from(ConfigPush).where(
                ConfigPush.state == AWAITING_APPROVAL)) or 0
