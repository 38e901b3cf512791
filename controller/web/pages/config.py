"""Config push: choose targets, preview the rendered diff, confirm, watch per-device progress."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from controller.configs import TargetError, select_devices
from controller.pushes import config_jobs
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
    return render(request, "config_preview.html", results=results,
                  changed=[r.device for r in results if r.status == "changed"])


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
    started = request.app.state.pushes.start(get_ctx(request), devices, who.username)
    return RedirectResponse(f"/config/pushes/{started.id}", status_code=303)


@router.get("/config/pushes/{push_id}")
def push_page(request: Request, push: KnownPush, _who: Viewer) -> Response:
    return render(request, "config_push.html", push=push)


@router.get("/config/pushes/{push_id}/rows")
def push_rows(request: Request, push: KnownPush, _who: Viewer) -> Response:
    """The progress table alone, polled by htmx; 286 tells htmx to stop polling when done."""
    return render(request, "config_push_rows.html", 286 if push.done else 200, push=push)
