"""Pure ASGI interception: anything not addressed to the portal itself gets a 302 to /login.

Kept out of the routing stack on purpose: intercepted OS probes are most of the portal's
traffic, and this answers them without building a Request or running a route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_TOO_LARGE = b"Permintaan terlalu besar. / Request too large."


class Interceptor:
    def __init__(self, app: ASGIApp, *, portal_host: str, login_url: str,
                 portal_paths: set[str], max_body_bytes: int):
        self.app = app
        self.portal_host = portal_host.encode().lower()
        self.portal_paths = portal_paths
        self.max_body_bytes = max_body_bytes
        self.redirect_headers = [(b"location", login_url.encode()),
                                 (b"cache-control", b"no-store"), (b"content-length", b"0")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/healthz":
            await self.app(scope, receive, send)
            return
        host = b""
        length = b""
        for key, value in scope["headers"]:
            if key == b"host":
                host = value.lower()
            elif key == b"content-length":
                length = value
        if host != self.portal_host or scope["path"] not in self.portal_paths:
            await send({"type": "http.response.start", "status": 302,
                        "headers": self.redirect_headers})
            await send({"type": "http.response.body", "body": b""})
            return
        if length and (not length.isdigit() or int(length) > self.max_body_bytes):
            await send({"type": "http.response.start", "status": 413,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                    (b"content-length", str(len(_TOO_LARGE)).encode())]})
            await send({"type": "http.response.body", "body": _TOO_LARGE})
            return
        await self.app(scope, receive, send)
