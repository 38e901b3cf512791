"""The listener of a poller process (`simpul serve --only poller`): /metrics and /healthz only.

A poller keeps its readings in memory, so Prometheus scrapes each poller (DESIGN.md,
scale-out); it listens on SIMPUL_ADMIN_LISTEN, where no admin UI runs in that process.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

from controller.context import Context
from controller.web.guards import metrics_response


def create_metrics_app(ctx: Context) -> FastAPI:
    app = FastAPI(title="Simpul poller", docs_url=None, redoc_url=None, openapi_url=None,
                  max_body_size=ctx.settings.admin_max_body_bytes)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "listener": "poller", "shard": str(ctx.shard)}

    @app.get("/metrics")
    def metrics(request: Request) -> Response:
        return metrics_response(ctx, request)

    return app
