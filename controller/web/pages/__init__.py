"""HTML pages of the engineers' UI, one router per area."""

from __future__ import annotations

from controller.web.pages import admin, auth, bandwidth, config, hotspots, network

ROUTERS = [auth.router, network.router, config.router, hotspots.router, bandwidth.router,
           admin.router]
