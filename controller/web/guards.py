"""Guards of the admin side's listeners (the admin app and a poller's): the Host allow-list
against DNS rebinding, and the bearer token /metrics asks for when one is configured."""

from __future__ import annotations

import hmac

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from controller.context import Context

METRICS_TOKEN_SECRET = "metrics_token"
UNGUARDED_PATHS = frozenset({"/healthz"})  # load balancers check it by address, with any Host


def host_name(header: str) -> str:
    """'Example.org:8000' -> 'example.org'; '[::1]:8000' -> '::1'."""
    host = header.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def host_allowed(host: str, allowed: list[str]) -> bool:
    for pattern in allowed:
        if pattern == "*" or host == pattern:
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
    return False


class AllowedHosts:
    """Pure ASGI: a request whose Host is not allowed gets 400 before anything runs. A page
    another site serves under a name that resolves to this listener (DNS rebinding) then
    never reaches the engineers' UI or API from an engineer's browser."""

    def __init__(self, app: ASGIApp, *, allowed: list[str]):
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope["path"] not in UNGUARDED_PATHS:
            header = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
            if not host_allowed(host_name(header), self.allowed):
                response = PlainTextResponse(
                    "Unknown Host: add the name engineers use to SIMPUL_ALLOWED_HOSTS.\n", 400)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def metrics_response(ctx: Context, request: Request) -> Response:
    """The registry's exposition; with the secret `metrics_token` set, only for a request that
    sends it as `Authorization: Bearer <token>` (Prometheus: authorization.credentials_file)."""
    expected = ctx.secrets.get(METRICS_TOKEN_SECRET)
    if expected:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), expected.encode()):
            return PlainTextResponse("/metrics needs the metrics bearer token\n", 401,
                                     headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    if ctx.exposition is None:
        return Response(generate_latest(ctx.registry), media_type=CONTENT_TYPE_LATEST)
    from exporters.exposition import wants_gzip

    gzip = wants_gzip(request.headers.get("accept-encoding", ""))
    return Response(ctx.exposition.render(gzip=gzip), media_type=CONTENT_TYPE_LATEST,
                    headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"} if gzip
                    else {"Vary": "Accept-Encoding"})
