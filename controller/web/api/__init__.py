"""REST API /api/v1: one router per area, pydantic models for every body and response."""

from __future__ import annotations

from controller.web.api import audit, hotspots, network, users

ROUTERS = [network.router, hotspots.router, users.router, audit.router]
