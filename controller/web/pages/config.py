"""Config push: choose targets, preview the rendered diff, confirm, watch per-device progress."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from controller.configs import TargetError, select_devices
from controller.pushes import PUSH_STATES, config_jobs, protected_sites
from controller.web.api.config import push_step
from controller.web.deps import KnownPush, Operator, Viewer, check_csrf, get_ctx, render

router = APIRouter(include_in_schema=False)


def _targets(request: Request, names: list[str], site: str, role: str, all_devices: bool):  # type: ignore[no-untyped-def]
    return select_devices(get_ctx(request).inventory, names or None, site or None,
                          role or None, all_devices)


@router.get("/config")
def choose(request: Request, _who: Viewer) -> Response:
    """`?device=a&device=b` ticks those devices (e.g. the ones an interrupted push left)."""
    inventory = get_ctx(request).inventory
    return render(request, "config_choose.html", devices=list(inventory.devices.values()),
                  sites=list(inventory.sites.values()),
                  roles=sorted({d.role for d in inventory.devices.values()}), error=None,
                  chosen=set(request.query_params.getlist("device")))


@router.get("/config/preview")
async def preview(request: Request, who: Operator) -> Response:
    """A GET: a diff changes nothing, and a refresh or the back button just diffs again."""
    query = request.query_params
    names = [str(n) for n in query.getlist("device")]
    try:
        devices = _targets(request, names, str(query.get("site", "")), str(query.get("role", "")),
                           query.get("all") == "1")
    except TargetError as exc:
        inventory = get_ctx(request).inventory
        return render(request, "config_choose.html", 400,
                      devices=list(inventory.devices.values()),
                      sites=list(inventory.sites.values()),
                      roles=sorted({d.role for d in inventory.devices.values()}),
                      error=str(exc))
    jobs = config_jobs(get_ctx(request), who.username)
    results = await jobs.run(jobs.diff_one, devices)
    changed = [r.device for r in results if r.status == "changed"]
    inventory = get_ctx(request).inventory
    return render(request, "config_preview.html", results=results, changed=changed,
                  protected=protected_sites(get_ctx(request),
                                            [inventory.devices[n] for n in changed]))


@router.post("/config/push")
async def push(request: Request, who: Operator) -> Response:
    await check_csrf(request, who)
    form = await request.form()
    names = [str(n) for n in form.getlist("device")]
    if not names:
        raise HTTPException(400, "no device chosen")
    try:
        devices = _targets(request, names, "", "", False)
    except TargetError as exc:
        raise HTTPException(400, str(exc)) from None
    stage_text = str(form.get("stage") or "").strip()
    if stage_text and not stage_text.isdigit():
        raise HTTPException(400, f"stage: {stage_text!r} is not a whole number of devices")
    stage = int(stage_text) if stage_text and int(stage_text) > 0 else None
    started = request.app.state.pushes.start(get_ctx(request), devices, who.username, stage)
    return RedirectResponse(f"/config/pushes/{started.id}", status_code=303)


PAGE_SIZE = 25


@router.get("/config/pushes")
def push_list(request: Request, _who: Viewer) -> Response:
    """Past and current pushes, newest first, PAGE_SIZE a page; `?state=` filters."""
    page_text = request.query_params.get("page", "1")
    page = int(page_text) if page_text.isdigit() and int(page_text) > 0 else 1
    state = request.query_params.get("state") or None
    if state is not None and state not in PUSH_STATES:
        raise HTTPException(400, f"state: {state!r} is none of {', '.join(PUSH_STATES)}")
    total, pushes = request.app.state.pushes.list((page - 1) * PAGE_SIZE, PAGE_SIZE, state)
    return render(request, "config_pushes.html", pushes=pushes, total=total, page=page,
                  pages=max(1, -(-total // PAGE_SIZE)), state=state, states=PUSH_STATES)


@router.get("/config/pushes/{push_id}")
def push_page(request: Request, push: KnownPush, _who: Viewer) -> Response:
    return render(request, "config_push.html", push=push, error=None)


@router.post("/config/pushes/{push_id}/{step}")
async def push_step_form(request: Request, push: KnownPush, step: str,
                         who: Operator) -> Response:
    """approve | continue | abort from the push's page; back to it (Post/Redirect/Get). A
    refused step (the requester approving, a push no longer paused) is shown on the page."""
    if step not in ("approve", "continue", "abort"):
        raise HTTPException(404, f"no step {step!r}")
    await check_csrf(request, who)
    try:
        await push_step(request, push.id, who, step)
    except HTTPException as exc:
        again = request.app.state.pushes.get(push.id)
        return render(request, "config_push.html", exc.status_code, push=again,
                      error=exc.detail)
    return RedirectResponse(f"/config/pushes/{push.id}", status_code=303)


@router.get("/config/pushes/{push_id}/rows")
def push_rows(request: Request, push: KnownPush, _who: Viewer) -> Response:
    """The progress table alone, polled by htmx; 286 tells htmx to stop polling when done."""
    return render(request, "config_push_rows.html", 286 if push.settled else 200, push=push)
