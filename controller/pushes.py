"""Config pushes started from the UI or API: run in the background, watched per device.

The work itself is controller.jobs (lock, backup, apply, verify, roll back, audit); this keeps
each running push's per-device progress so a page or API client can follow it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from controller.context import Context
from controller.inventory import Device
from controller.jobs import ConfigJobs, DeviceResult

log = logging.getLogger("simpul.pushes")
PENDING = "pending"
KEEP_FINISHED = 50


@dataclass
class Push:
    id: int
    actor: str
    devices: list[str]
    started_at: datetime
    results: dict[str, DeviceResult] = field(default_factory=dict)
    finished_at: datetime | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def done(self) -> bool:
        return self.finished_at is not None

    def status_of(self, device: str) -> str:
        result = self.results.get(device)
        return result.status if result else PENDING

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for device in self.devices:
            status = self.status_of(device)
            counts[status] = counts.get(status, 0) + 1
        return counts


def config_jobs(ctx: Context, actor: str) -> ConfigJobs:
    return ConfigJobs(ctx.inventory, ctx.secrets, ctx.settings.data_dir, store=ctx.store,
                      templates_dir=ctx.settings.templates_dir, actor=actor,
                      concurrency=ctx.settings.push_concurrency)


class Pushes:
    """The pushes of one running controller (in memory; each device's result is audited)."""

    def __init__(self) -> None:
        self._pushes: dict[int, Push] = {}
        self._ids = itertools.count(1)

    def start(self, ctx: Context, devices: list[Device], actor: str) -> Push:
        push = Push(next(self._ids), actor, [d.name for d in devices], datetime.now(UTC))
        self._pushes[push.id] = push
        push.task = asyncio.get_running_loop().create_task(self._run(ctx, push, devices))
        self._forget_old()
        return push

    async def _run(self, ctx: Context, push: Push, devices: list[Device]) -> None:
        jobs = config_jobs(ctx, push.actor)
        try:
            await jobs.run(jobs.push_one, devices,
                           on_result=lambda r: push.results.__setitem__(r.device, r))
        except Exception:  # noqa: BLE001 - a crash must still finish the push for its watchers
            log.exception("push %d failed", push.id)
            for name in push.devices:
                push.results.setdefault(name, DeviceResult(name, "failed",
                                                           error="internal error"))
        finally:
            push.finished_at = datetime.now(UTC)

    def get(self, push_id: int) -> Push | None:
        return self._pushes.get(push_id)

    def _forget_old(self) -> None:
        finished = sorted((p for p in self._pushes.values() if p.done), key=lambda p: p.id)
        for push in finished[:-KEEP_FINISHED]:
            del self._pushes[push.id]
