"""REST API /api/v1: one router per area, pydantic models for every body and response."""

from __future__ import annotations

from controller.web.api import audit, config, hotspots, network, users

ROUTERS = [network.router, config.router, hotspots.router, users.router, audit.router]
