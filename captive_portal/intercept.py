"""Pure ASGI interception: anything not addressed to the portal itself gets a 302 to /login.

Kept out of the routing stack on purpose: intercepted OS probes are most of the portal's
traffic, and this answers them without building a Request or running a route. Body sizes are
limited around it (FastAPI's max_body_size).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class Interceptor:
    def __init__(self, app: ASGIApp, *, portal_host: str, login_url: str,
                 portal_paths: set[str]):
        self.app = app
        self.portal_host = portal_host.encode().lower()
        self.portal_paths = portal_paths
        self.redirect_headers = [(b"location", login_url.encode()),
                                 (b"cache-control", b"no-store"), (b"content-length", b"0")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/healthz":
            await self.app(scope, receive, send)
            return
        host = b""
        for key, value in scope["headers"]:
            if key == b"host":
                host = value.lower()
        if host != self.portal_host or scope["path"] not in self.portal_paths:
            await send({"type": "http.response.start", "status": 302,
                        "headers": self.redirect_headers})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send)
