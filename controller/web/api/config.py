"""Config diff and push (with per-device progress), backups and drift."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from controller.backups import BackupError
from controller.configs import TargetError, select_devices
from controller.pushes import Push, config_jobs
from controller.store.models import ConfigDrift
from controller.web.api.types import AUTH_ERRORS, Responses, UtcDatetime
from controller.web.deps import KnownDevice, KnownPush, Operator, Viewer, check_csrf, get_ctx

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


class DeviceResultOut(BaseModel):
    device: str
    status: str = Field(description="pending | unchanged | changed | failed | rolled_back")
    diff: str
    error: str | None


class PushOut(BaseModel):
    id: int
    actor: str
    started_at: UtcDatetime
    finished_at: UtcDatetime | None
    done: bool
    interrupted: bool = Field(description="The process running it stopped before it finished; "
                              "devices still pending show as `interrupted`: push them again")
    counts: dict[str, int]
    results: list[DeviceResultOut]


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


def _push_out(push: Push) -> PushOut:
    results = []
    for name in push.devices:
        result = push.results.get(name)
        results.append(DeviceResultOut(device=name, status=push.status_of(name),
                                       diff=result.diff if result else "",
                                       error=result.error if result else None))
    return PushOut(id=push.id, actor=push.actor, started_at=push.started_at,
                   finished_at=push.finished_at, done=push.done,
                   interrupted=push.interrupted, counts=push.counts(),
                   results=results)


@router.post("/config/diff", response_model=list[DeviceResultOut], responses=ERRORS)
async def diff(request: Request, target: Target, who: Operator) -> list[DeviceResultOut]:
    """Render each device's intent and diff it against its running config (changes nothing)."""
    await check_csrf(request, who)
    devices = _devices(request, target)
    jobs = config_jobs(get_ctx(request), who.username)
    return [DeviceResultOut(device=r.device, status=r.status, diff=r.diff, error=r.error)
            for r in await jobs.run(jobs.diff_one, devices)]


@router.post("/config/pushes", response_model=PushOut, status_code=202, responses=ERRORS)
async def start_push(request: Request, target: Target, who: Operator) -> PushOut:
    """Start a push; follow it with GET /config/pushes/{id}."""
    await check_csrf(request, who)
    devices = _devices(request, target)
    return _push_out(request.app.state.pushes.start(get_ctx(request), devices, who.username))


@router.get("/config/pushes/{push_id}", response_model=PushOut,
            responses={**ERRORS, 404: {"description": "No such push"}})
def get_push(push: KnownPush, _who: Viewer) -> PushOut:
    return _push_out(push)


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
