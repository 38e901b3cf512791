"""Config diff and push (with per-device progress), backups and drift."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from controller.backups import BackupError
from controller.configs import TargetError, select_devices
from controller.pushes import PUSH_STATES, OwnApproval, Push, PushRefused, config_jobs
from controller.store.models import ConfigDrift
from controller.web.api.types import AUTH_ERRORS, Responses, UtcDatetime
from controller.web.deps import (
    KnownDevice,
    KnownPush,
    Operator,
    Principal,
    Viewer,
    check_csrf,
    get_ctx,
)

router = APIRouter(tags=["config"])
ERRORS: Responses = {**AUTH_ERRORS,
                     404: {"description": "Unknown device or site, or no device matches"}}


class Target(BaseModel):
    """TARGET as the CLI takes it: device names, a site code, a role, or all devices."""

    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"required": ["devices"], "properties": {"devices": {"minItems": 1}}},
        {"required": ["site"], "properties": {"site": {"type": "string"}}},
        {"required": ["role"], "properties": {"role": {"type": "string"}}},
        {"required": ["all"], "properties": {"all": {"const": True}}},
    ]})

    devices: list[str] = Field(default_factory=list, max_length=5000)
    site: str | None = Field(None, min_length=1)
    role: str | None = Field(None, min_length=1)
    all: bool = False

    @model_validator(mode="after")
    def _something_chosen(self) -> Target:
        if not (self.devices or self.site or self.role or self.all):
            raise ValueError("name devices, or give site, role or all: true")
        return self


class PushRequest(Target):
    """A push's TARGET, and optionally a stage: the first N devices, then a pause."""

    stage: int | None = Field(None, ge=1, description="Push the first N devices, then pause "
                              "(`paused`) until POST /config/pushes/{id}/continue")


DEVICE_STATUSES = ("pending | running | awaiting_approval | unchanged | changed | failed | "
                   "rolled_back | aborted | interrupted")


class DeviceResultOut(BaseModel):
    device: str
    status: str = Field(description=DEVICE_STATUSES)
    diff: str
    error: str | None


class PushSummaryOut(BaseModel):
    id: int
    actor: str
    state: str = Field(description="awaiting_approval | running | paused | done | aborted | "
                       "interrupted")
    started_at: UtcDatetime
    finished_at: UtcDatetime | None
    done: bool
    interrupted: bool = Field(description="The process running it stopped before it finished; "
                              "devices still pending show as `interrupted`: push them again")
    stage: int | None = Field(description="Staged: the first N devices ran before a pause")
    protected_sites: list[str] = Field(description="Protected sites it touches: it needed a "
                                       "second operator's approval")
    approved_by: str | None
    continued_by: str | None
    aborted_by: str | None
    counts: dict[str, int]


class PushOut(PushSummaryOut):
    results: list[DeviceResultOut]


class PushPage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[PushSummaryOut] = Field(description="Newest first")


class VersionOut(BaseModel):
    commit: str
    at: str
    author: str
    message: str


class DriftOut(BaseModel):
    device: str
    status: str = Field(description="in_sync | drifted | error")
    checked_at: UtcDatetime
    diff: str | None
    error: str | None


def _devices(request: Request, target: Target):  # type: ignore[no-untyped-def]
    try:
        return select_devices(get_ctx(request).inventory, target.devices or None, target.site,
                              target.role, target.all)
    except TargetError as exc:  # unknown device or site, or nothing matches
        raise HTTPException(404, str(exc)) from None


def _summary(push: Push) -> dict[str, object]:
    return {"id": push.id, "actor": push.actor, "state": push.state_word,
            "started_at": push.started_at, "finished_at": push.finished_at, "done": push.done,
            "interrupted": push.interrupted, "stage": push.stage,
            "protected_sites": push.protected_sites, "approved_by": push.approved_by,
            "continued_by": push.continued_by, "aborted_by": push.aborted_by,
            "counts": push.counts()}


def _push_out(push: Push) -> PushOut:
    results = []
    for name in push.devices:
        result = push.results.get(name)
        results.append(DeviceResultOut(device=name, status=push.status_of(name),
                                       diff=result.diff if result else "",
                                       error=result.error if result else None))
    return PushOut(**_summary(push), results=results)  # type: ignore[arg-type]


@router.post("/config/diff", response_model=list[DeviceResultOut], responses=ERRORS)
async def diff(request: Request, target: Target, who: Operator) -> list[DeviceResultOut]:
    """Render each device's intent and diff it against its running config (changes nothing)."""
    await check_csrf(request, who)
    devices = _devices(request, target)
    jobs = config_jobs(get_ctx(request), who.username)
    return [DeviceResultOut(device=r.device, status=r.status, diff=r.diff, error=r.error)
            for r in await jobs.run(jobs.diff_one, devices)]


@router.get("/config/pushes", response_model=PushPage, responses=AUTH_ERRORS)
def list_pushes(request: Request, _who: Viewer,
                offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
                limit: Annotated[int, Query(ge=1, le=200)] = 50,
                state: Annotated[str | None, Query(
                    pattern="^(" + "|".join(PUSH_STATES) + ")$")] = None) -> PushPage:
    """Past and current pushes, newest first, a page at a time (per-device results and
    diffs: GET /config/pushes/{id})."""
    total, pushes = request.app.state.pushes.list(offset, limit, state)
    return PushPage(total=total, offset=offset, limit=limit,
                    items=[PushSummaryOut(**_summary(p)) for p in pushes])  # type: ignore[arg-type]


@router.post("/config/pushes", response_model=PushOut, status_code=202, responses=ERRORS)
async def start_push(request: Request, target: PushRequest, who: Operator) -> PushOut:
    """Start a push; follow it with GET /config/pushes/{id}. A push touching a protected site
    waits in `awaiting_approval` for a second operator; a staged one pauses after `stage`."""
    await check_csrf(request, who)
    devices = _devices(request, target)
    pushes = request.app.state.pushes
    push = await asyncio.to_thread(pushes.create, get_ctx(request), devices, who.username,
                                   target.stage)
    if push.state == "running":
        pushes.spawn(get_ctx(request), push.id)
    return _push_out(push)


@router.get("/config/pushes/{push_id}", response_model=PushOut,
            responses={**ERRORS, 404: {"description": "No such push"}})
def get_push(push: KnownPush, _who: Viewer) -> PushOut:
    return _push_out(push)


STEP_ERRORS: Responses = {**ERRORS, 404: {"description": "No such push"},
                          409: {"description": "The push is not in a state this step applies "
                                "to (the detail says which)"}}


async def push_step(request: Request, push_id: int, who: Principal, step: str) -> Push:
    """approve | continue | abort, for the API and the pages alike; runs the next batch here
    when the step lets the push go on. PushRefused -> 409, the requester approving -> 403."""
    ctx, pushes = get_ctx(request), request.app.state.pushes
    username = who.username
    try:
        if step == "approve":
            push = await asyncio.to_thread(pushes.approve, ctx, push_id, username)
        elif step == "continue":
            push = await asyncio.to_thread(pushes.continue_push, push_id, username)
        else:
            push = await asyncio.to_thread(pushes.abort, ctx, push_id, username)
    except OwnApproval as exc:
        raise HTTPException(403, str(exc)) from None
    except PushRefused as exc:
        raise HTTPException(409, str(exc)) from None
    if step != "abort" and push.state == "running":
        pushes.spawn(ctx, push.id)
    return push  # type: ignore[no-any-return]


@router.post("/config/pushes/{push_id}/approve", response_model=PushOut, responses=STEP_ERRORS)
async def approve_push(request: Request, push: KnownPush, who: Operator) -> PushOut:
    """A second operator approves a push to a protected site (not the one who asked)."""
    await check_csrf(request, who)
    return _push_out(await push_step(request, push.id, who, "approve"))


@router.post("/config/pushes/{push_id}/continue", response_model=PushOut,
             responses=STEP_ERRORS)
async def continue_push(request: Request, push: KnownPush, who: Operator) -> PushOut:
    """Push the rest of a staged push that paused after its first devices."""
    await check_csrf(request, who)
    return _push_out(await push_step(request, push.id, who, "continue"))


@router.post("/config/pushes/{push_id}/abort", response_model=PushOut, responses=STEP_ERRORS)
async def abort_push(request: Request, push: KnownPush, who: Operator) -> PushOut:
    """Stop the devices not yet started (`aborted`); those in flight finish or roll back."""
    await check_csrf(request, who)
    return _push_out(await push_step(request, push.id, who, "abort"))


@router.get("/devices/{name}/backups", response_model=list[VersionOut],
            responses={**ERRORS, 404: {"description": "No such device"}})
def backups(request: Request, name: str, _device: KnownDevice,
            _who: Viewer) -> list[VersionOut]:
    repo = config_jobs(get_ctx(request), "api").backups
    return [VersionOut(commit=v.commit, at=v.at, author=v.author, message=v.message)
            for v in repo.history(name)]


@router.get("/devices/{name}/backups/diff", response_model=str,
            responses={**ERRORS, 404: {"description": "No such device or version"}})
def backup_diff(request: Request, name: str, old: str, device: KnownDevice, who: Viewer,
                new: str = "HEAD") -> str:
    """Operators and admins get the stored text's diff; viewers get both versions masked."""
    try:
        return config_jobs(get_ctx(request), "api").backup_diff(device, old, new, who.role)
    except BackupError as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/drift", response_model=list[DriftOut], responses=ERRORS)
def drift(request: Request, _who: Viewer) -> list[DriftOut]:
    with get_ctx(request).store.session() as session:
        return [DriftOut(device=r.device, status=r.status, checked_at=r.checked_at,
                         diff=r.diff, error=r.error)
                for r in session.scalars(select(ConfigDrift).order_by(ConfigDrift.device))]
