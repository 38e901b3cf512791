"""The citizens' portal app on the portal listener. Nothing of the admin side is mounted here."""

from __future__ import annotations

from fastapi import FastAPI

from controller.context import Context


def create_portal_app(ctx: Context) -> FastAPI:
    app = FastAPI(title="Simpul portal", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ctx = ctx

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "listener": "portal"}

    return app
