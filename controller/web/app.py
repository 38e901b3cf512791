"""The engineers' FastAPI app on the admin listener: pages, REST API, /healthz and /metrics."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from controller.context import Context

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")


def create_admin_app(ctx: Context) -> FastAPI:
    app = FastAPI(title="Simpul admin", docs_url="/api/docs", openapi_url="/api/openapi.json",
                  redoc_url=None)
    app.state.ctx = ctx

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok", "listener": "admin"}

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(ctx.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request) -> HTMLResponse:
        return TEMPLATES.TemplateResponse(
            request, "index.html", {"summary": ctx.inventory.summary(), "inventory": ctx.inventory}
        )

    return app
