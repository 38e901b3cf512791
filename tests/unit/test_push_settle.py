"""A queued push ends with its last device's result, in the same transaction: CI once saw
`push-status --wait` return a push still "running" whose every device had ended (the worker
saved the device, then settled the push in a second transaction), and a worker dying between
the two would have left it running for good. Nothing here reaches a device."""

from __future__ import annotations

from controller.context import Context
from controller.jobs import DeviceResult
from controller.pushes import Pushes
from tests.unit import test_web

ctx = test_web.ctx  # the web tests' fixture: the demo inventory on a fresh store

DEVICES = ["dinkes-r1", "disdik-r1", "dishub-r1"]


def _push(ctx: Context, stage: int | None = None) -> tuple[Pushes, int]:
    pushes = Pushes(ctx.store)
    push = pushes.create(ctx, [ctx.inventory.devices[d] for d in DEVICES], "budi", stage)
    assert push.state == "running"
    for device in DEVICES:  # as the workers claim them
        assert pushes._claim(push.id, device)
    return pushes, push.id


def test_the_last_device_ends_the_push_in_its_own_save(ctx: Context) -> None:
    pushes, push_id = _push(ctx)
    assert not pushes.save_and_settle(push_id, DeviceResult("dinkes-r1", "changed"))
    assert not pushes.save_and_settle(push_id, DeviceResult("disdik-r1", "unchanged"))
    middle = pushes.get(push_id)
    assert middle is not None and middle.state == "running" and middle.finished_at is None
    assert pushes.save_and_settle(push_id, DeviceResult("dishub-r1", "rolled_back",
                                                        error="verify failed"))
    done = pushes.get(push_id)
    assert done is not None and done.state == "done" and done.finished_at is not None
    assert [done.status_of(d) for d in DEVICES] == ["changed", "unchanged", "rolled_back"]


def test_a_staged_push_pauses_when_its_first_stage_ends(ctx: Context) -> None:
    pushes = Pushes(ctx.store)
    push = pushes.create(ctx, [ctx.inventory.devices[d] for d in DEVICES], "budi", stage=1)
    assert pushes._claim(push.id, "dinkes-r1")  # only the first stage is queued
    assert pushes.save_and_settle(push.id, DeviceResult("dinkes-r1", "changed"))
    paused = pushes.get(push.id)
    assert paused is not None and paused.state == "paused" and paused.finished_at is None
    assert [paused.status_of(d) for d in DEVICES] == ["changed", "pending", "pending"]


def test_a_rerun_job_ends_a_push_left_running_with_every_device_ended(ctx: Context) -> None:
    pushes, push_id = _push(ctx)
    for device in DEVICES:  # saved the old way: results only, the push's end never written
        pushes._save(push_id, DeviceResult(device, "changed"))
    left = pushes.get(push_id)
    assert left is not None and left.state == "running"
    assert pushes.save_and_settle(push_id)
    assert not pushes.save_and_settle(push_id)  # once
    done = pushes.get(push_id)
    assert done is not None and done.state == "done"
