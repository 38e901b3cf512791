"""REST API /api/v1: one router per area, pydantic models for every body and response."""

from __future__ import annotations

from controller.web.api import audit, bandwidth, config, hotspots, network, users

ROUTERS = [network.router, config.router, hotspots.router, users.router, audit.router]
ROUTERS += [bandwidth.router]  # office bandwidth: figures, recommendations, reports
