"""The engineers' FastAPI app on the admin listener: pages, REST API, /healthz and /metrics."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from controller.context import Context
from controller.pushes import Pushes
from controller.ratelimit import RateLimiter
from controller.store.db import store_problem, store_unavailable
from controller.web.api import accountability as api_accountability
from controller.web.api import audit as api_audit
from controller.web.api import bandwidth as api_bandwidth
from controller.web.api import config as api_config
from controller.web.api import hotspots as api_hotspots
from controller.web.api import network as api_network
from controller.web.api import radius as api_radius
from controller.web.api import series as api_series
from controller.web.api import users as api_users
from controller.web.deps import CsrfFailed, Forbidden, NotAuthenticated, Viewer, render
from controller.web.guards import AllowedHosts, metrics_response
from controller.web.pages import (
    admin,
    auth,
    bandwidth,
    config,
    graphs,
    hotspots,
    netmap,
    network,
    wall,
)
from controller.worker import enqueue_push, uses_job_queue

PAGE_ROUTERS = [auth.router, network.router, config.router, hotspots.router, bandwidth.router,
                admin.router, wall.router, netmap.router, graphs.router]
API_ROUTERS = [api_network.router, api_config.router, api_hotspots.router, api_users.router,
               api_audit.router, api_bandwidth.router, api_accountability.router,
               api_series.router, api_radius.router]

STATIC = Path(__file__).parent / "static"
DOCS_PAGE = "/api/docs"  # a page for browsers: without a login it sends to the login form


log = logging.getLogger("simpul.web")


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") and request.url.path != DOCS_PAGE


def _security_headers(ctx: Context):  # type: ignore[no-untyped-def]
    tiles = ""
    if ctx.settings.map_tile_url:
        parts = urlsplit(ctx.settings.map_tile_url.replace("{s}", "a"))
        tiles = f" {parts.scheme}://{parts.netloc.replace('a.', '*.', 1)}"
    policy = (f"default-src 'self'; img-src 'self' data:{tiles}; style-src 'self' "
              "'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")

    async def middleware(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        if not request.url.path.startswith(DOCS_PAGE):
            response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return middleware


def create_admin_app(ctx: Context) -> FastAPI:
    app = FastAPI(
        title="Simpul admin API",
        description="REST API of the Simpul network controller. Authenticate with a session "
        "cookie (plus X-CSRF-Token on changes) or `Authorization: Bearer <API token>`.",
        version="1",
        # The schema and its docs are served below, to logged-in engineers only.
        docs_url=None, openapi_url=None, redoc_url=None,
        # Bodies past the limit get 413 before any parsing or authentication, counted as they
        # stream in (chunked too), not only by Content-Length.
        max_body_size=ctx.settings.admin_max_body_bytes,
    )
    app.state.ctx = ctx
    app.state.login_limiter = RateLimiter(limit=10, window_s=60)  # per client address
    url = ctx.settings.resolved_database_url()
    app.state.pushes = Pushes(ctx.store, ctx.settings.push_stale_after_s,  # PostgreSQL: queued
                              queue=partial(enqueue_push, url) if uses_job_queue(url) else None)
    app.middleware("http")(_security_headers(ctx))
    # Outermost: a request under a Host engineers do not use is refused before anything runs.
    app.add_middleware(AllowedHosts, allowed=ctx.settings.allowed_host_list())
    STATIC.mkdir(exist_ok=True)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        """Browsers ask for it whatever the page's <link rel=icon> says."""
        return RedirectResponse("/static/favicon.svg", status_code=301)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok", "listener": "admin"}

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        return metrics_response(ctx, request)

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi_schema(_who: Viewer) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get(DOCS_PAGE, include_in_schema=False)
    def api_docs(_who: Viewer) -> Response:
        # Swagger UI from the vendored copy: no CDN.
        return get_swagger_ui_html(openapi_url="/api/openapi.json", title="Simpul API",
                                   swagger_js_url="/static/vendor/swagger/swagger-ui-bundle.js",
                                   swagger_css_url="/static/vendor/swagger/swagger-ui.css",
                                   swagger_favicon_url="/static/favicon.svg")

    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(request: Request, _exc: NotAuthenticated) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": "authentication required: log in or send a Bearer "
                                 "API token"}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, _exc: Forbidden) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": "your role does not allow this"}, status_code=403)
        return render(request, "error.html", 403,
                      message="You do not have permission for this.")

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, _exc: CsrfFailed) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": "missing or wrong X-CSRF-Token header for a "
                                 "cookie-authenticated change"}, status_code=403)
        return render(request, "error.html", 403, message="The form expired or was not sent "
                      "from this site. Reload and try again.")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _is_api(request) or exc.status_code not in (404, 405):
            if not _is_api(request):
                return render(request, "error.html", exc.status_code, message=str(exc.detail))
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                                headers=getattr(exc, "headers", None))
        return render(request, "error.html", exc.status_code, message="Page not found.")

    @app.exception_handler(sa_exc.DBAPIError)
    @app.exception_handler(sa_exc.TimeoutError)
    async def database_down(request: Request, exc: Exception) -> Response:
        """The database is restarting or unreachable, or its disk is full: a clean 503 the
        client may retry (the pool reconnects by itself), never a 500 with a trace. Other
        database errors are bugs."""
        if not store_unavailable(exc):
            raise exc
        problem = store_problem(exc)
        log.warning("%s %s: 503, %s", request.method, request.url.path, problem)
        headers = {"Retry-After": str(ctx.settings.store_retry_after_s),
                   "Cache-Control": "no-store"}
        if _is_api(request):
            return JSONResponse({"detail": f"{problem}; try again later"}, status_code=503,
                                headers=headers)
        try:
            response = render(request, "error.html", 503, message=f"{problem}. Try again later.")
        except sa_exc.DBAPIError:  # the page itself needs the store: say it in plain text
            response = PlainTextResponse(f"{problem}. Try again later.\n", status_code=503)
        response.headers.update(headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                    for e in exc.errors()]
        if _is_api(request):
            text = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
            return JSONResponse({"detail": f"invalid request: {text}", "errors": problems},
                                status_code=422)
        return render(request, "error.html", 400,
                      message="; ".join(f"{p['field']}: {p['message']}" for p in problems))

    for router in PAGE_ROUTERS:
        app.include_router(router)
    for router in API_ROUTERS:
        app.include_router(router, prefix="/api/v1")
    return app
