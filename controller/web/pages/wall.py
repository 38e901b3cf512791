"""The command-centre wall (/wall: a display token or any login) and the public page (/publik:
no login, aggregates only, cached)."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from controller.accountability.costs import month_totals
from controller.accountability.sla import month_so_far
from controller.accountability.wall import (
    isp_availability_by_month,
    public_figures,
    regency_zone,
    wall_figures,
)
from controller.auth import wall_session
from controller.inventory import TZ_ABBREV
from controller.web.deps import (
    SESSION_COOKIE,
    TEMPLATES,
    get_ctx,
    principal,
    render,
    secure_cookies,
)

router = APIRouter(include_in_schema=False)
log = logging.getLogger("simpul.web.wall")
WALL_LOGIN = "/login?next=/wall"


def thousands(value: float | None) -> str:
    """Indonesian digit grouping: 1234567 -> '1.234.567'; None (suppressed) -> '<k'."""
    return "-" if value is None else f"{round(value):,}".replace(",", ".")


def gigabytes(value: float | None) -> str:
    """Bytes as GB with a decimal comma: 1_234_000_000 -> '1,2'."""
    return "-" if value is None else f"{value / 1e9:,.1f}".replace(",", "_").replace(
        ".", ",").replace("_", ".")


def percent(value: float | None, decimals: int = 2) -> str:
    """A percentage with a decimal comma: 99.4567 -> '99,46'; None -> 'tidak ada data'."""
    return "tidak ada data" if value is None else f"{value:.{decimals}f}".replace(".", ",")


FORMATS: dict[str, Any] = {"num": thousands, "gb": gigabytes, "pct": percent}


class TtlCache:
    """One value per key, made at most once per `ttl_s` however many ask at once: a crowd on
    /publik costs the store one computation per period. While one caller makes a new value,
    the others get the previous one at once (or wait, when there is none yet)."""

    def __init__(self, ttl_s: float):
        self.ttl_s = ttl_s
        self._values: dict[str, tuple[float, Any]] = {}
        self._making = threading.Lock()

    def get(self, key: str, make: Any) -> Any:
        found = self._values.get(key)
        if found is not None and time.monotonic() - found[0] < self.ttl_s:
            return found[1]
        if not self._making.acquire(blocking=found is None):
            return found[1]  # type: ignore[index]  # another caller is making it
        try:
            found = self._values.get(key)  # made while this caller waited?
            if found is None or time.monotonic() - found[0] >= self.ttl_s:
                found = (time.monotonic(), make())
                self._values[key] = found
            return found[1]
        finally:
            self._making.release()


def _cache(request: Request, name: str, ttl_s: float) -> TtlCache:
    state = request.app.state
    if not hasattr(state, name):
        setattr(state, name, TtlCache(ttl_s))
    return getattr(state, name)  # type: ignore[no-any-return]


MONEY_CACHE_S = 300.0  # a month's costs take a second or two; they move slowly


def _money(request: Request, *, closed: bool = False) -> Any:
    """Paid, used, unused and saved IDR (MonthTotals) of this month (the wall) or of the last
    closed one (`closed`, the public page), in the regency's zone; None hides the section
    (no contracts in the inventory, or the figures failed)."""
    ctx = get_ctx(request)
    if not ctx.inventory.contracts:
        return None
    today = datetime.now(ZoneInfo(ctx.inventory.home_zone())).date().replace(day=1)
    month = (today - timedelta(days=1)).replace(day=1) if closed else today

    def make() -> Any:
        try:
            return month_totals(ctx, ctx.store, f"{month:%Y-%m}")
        except Exception:  # noqa: BLE001 - a wall without money beats a wall with a 500
            log.exception("wall: the month's costs failed")
            return None

    return _cache(request, "money_cache", MONEY_CACHE_S).get(f"{month:%Y-%m}", make)


AVAILABILITY_CACHE_S = 60.0  # this month's availability moves by the minute at most


def _availability(request: Request) -> Any:
    """This month's availability so far (an SlaReport: ISP links against their SLA, and the
    sites), in the regency's zone; None when it failed (the wall still shows the rest)."""
    ctx = get_ctx(request)

    def make() -> Any:
        try:
            with ctx.store.session() as session:
                return month_so_far(session, ctx.inventory, ctx.settings.down_after_samples,
                                    int(time.time()))
        except Exception:  # noqa: BLE001 - a wall without availability beats a 500
            log.exception("wall: this month's availability failed")
            return None

    return _cache(request, "availability_cache", AVAILABILITY_CACHE_S).get("month", make)


@router.get("/wall")
def wall(request: Request, token: str | None = None) -> Response:
    """The wall. `?token=` (a display token) is swapped for a session cookie and dropped from
    the address at once, so it stays in no history, log or referrer."""
    if token is not None:
        return _swap_token(request, token)
    if principal(request) is None:
        return RedirectResponse(WALL_LOGIN, status_code=303)
    ctx = get_ctx(request)
    fig = _wall_figures(request)
    return render(request, "wall.html", fig=fig, money=_money(request),
                  availability=_availability(request), **FORMATS,
                  refresh_s=ctx.settings.wall_refresh_s,
                  markers_json=json.dumps(fig.markers), links_json=json.dumps(fig.links))


def _swap_token(request: Request, token: str) -> Response:
    source = request.client.host if request.client else "unknown"
    if not request.app.state.login_limiter.allow(source):
        return RedirectResponse(WALL_LOGIN, status_code=303)
    with get_ctx(request).store.session() as session:
        opened = wall_session(session, token[:128], source=source)
    if opened is None:
        return RedirectResponse(WALL_LOGIN, status_code=303)
    response = RedirectResponse("/wall", status_code=303)
    response.set_cookie(SESSION_COOKIE, opened.session_token, httponly=True, samesite="strict",
                        secure=secure_cookies(request), max_age=30 * 86400, path="/")
    return response


def _wall_figures(request: Request) -> Any:
    ctx = get_ctx(request)
    return _cache(request, "wall_cache", min(10.0, ctx.settings.wall_refresh_s / 2)).get(
        "wall", lambda: wall_figures(ctx))


@router.get("/wall/panel")
def wall_panel(request: Request) -> Response:
    """The figures, swapped in place every refresh (htmx), so the screen never flickers."""
    if principal(request) is None:
        return Response(status_code=401, headers={"HX-Redirect": WALL_LOGIN})
    return render(request, "wall_panel.html", fig=_wall_figures(request),
                  money=_money(request), availability=_availability(request),
                  refresh_s=get_ctx(request).settings.wall_refresh_s,
                  **FORMATS)


@router.get("/wall/map.json")
def wall_map(request: Request) -> Response:
    """Marker and link statuses for the wall's map, which redraws colours, not the map."""
    if principal(request) is None:
        return JSONResponse({"detail": "authentication required"}, status_code=401)
    fig = _wall_figures(request)
    return JSONResponse({"markers": fig.markers, "links": fig.links})


@router.get("/publik")
def publik(request: Request) -> Response:
    """The regency's public page: the same bytes for everyone (no cookie is read), cached."""
    ctx = get_ctx(request)
    body = _cache(request, "public_cache", ctx.settings.public_cache_s).get(
        "publik", lambda: _render_public(request))
    max_age = int(ctx.settings.public_cache_s)
    return HTMLResponse(body, headers={"Cache-Control": f"public, max-age={max_age}"})


def _render_public(request: Request) -> str:
    ctx = get_ctx(request)
    fig = public_figures(ctx)
    return TEMPLATES.env.get_template("publik.html").render(
        fig=fig, money=_money(request, closed=True), markers_json=json.dumps(fig.hotspots),
        isp_availability=isp_availability_by_month(ctx) if ctx.inventory.contracts else [],
        zone=TZ_ABBREV.get(regency_zone(ctx), regency_zone(ctx)),
        **FORMATS,
        tile_url=ctx.settings.map_tile_url)
