"""What FreeRADIUS's rlm_rest asks (adapter radius, issue #19): authorize, authenticate,
accounting and post-auth. Only the FreeRADIUS host may call: its bearer token (secret
radius_rest_token) AND its address in SIMPUL_RADIUS_REST_FROM: the TCP peer, or behind a proxy
in SIMPUL_TRUSTED_PROXIES the address that proxy puts in X-Forwarded-For (uvicorn's rewrite;
HAProxy drops the client's own header), never what a client writes. The NAS is named by
FreeRADIUS (the client's shortname, a hotspot name), never by the NAS itself.

Status codes are what rlm_rest turns into module results (FreeRADIUS 3.2 mods-available/rest):
authorize/authenticate 2xx -> ok/updated (2xx bodies are attributes), 401 -> reject,
404 -> notfound, 5xx -> fail; accounting/post-auth 2xx -> ok, 5xx -> fail (no
Accounting-Response, so the NAS resends).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from captive_portal.gateways.base import GatewayError
from captive_portal.radius import REST_TOKEN_SECRET, attribute
from captive_portal.service import portal_for
from controller.context import Context
from controller.web.api.types import Responses
from controller.web.deps import get_ctx

log = logging.getLogger("simpul.radius")
router = APIRouter(prefix="/radius", tags=["radius"])
RadiusBody = Annotated[dict[str, Any], Body(
    description="The RADIUS request as rlm_rest's JSON body: {attribute: {type, value: [..]}}")]
NOT_FREERADIUS: Responses = {401: {"description": "wrong or missing bearer token"},
                  403: {"description": "the caller's address is not in SIMPUL_RADIUS_REST_FROM"},
                  503: {"description": "the secret radius_rest_token is not set"}}


def freeradius_caller(request: Request, authorization: Annotated[str, Header()] = "",
                      x_simpul_nas: Annotated[str, Header(
                          description="The hotspot FreeRADIUS matched the NAS to (its "
                                      "client shortname)")] = "") -> str:
    """The hotspot the request is about, once the caller is known to be FreeRADIUS."""
    ctx: Context = get_ctx(request)
    peer = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        address = None
    if address is None or not any(address in net
                                  for net in ctx.settings.radius_rest_networks()):
        raise HTTPException(403, "not a FreeRADIUS host (SIMPUL_RADIUS_REST_FROM)")
    token = ctx.secrets.get(REST_TOKEN_SECRET)
    if token is None:
        raise HTTPException(503, f"secret {REST_TOKEN_SECRET} is not set")
    if not hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode()):
        raise HTTPException(401, "wrong bearer token", headers={"WWW-Authenticate": "Bearer"})
    hotspot = ctx.inventory.hotspots.get(x_simpul_nas)
    if hotspot is None or hotspot.adapter != "radius":
        raise HTTPException(404, "X-Simpul-NAS names no hotspot with adapter radius")
    return hotspot.name


Nas = Annotated[str, Depends(freeradius_caller)]


@router.post("/authorize", status_code=204, responses={
    **NOT_FREERADIUS, 404: {"description": "no unused credential of this name for this MAC"}})
async def authorize(request: Request, hotspot: Nas, body: RadiusBody) -> Response:
    """Access-Request, authorize section: is there an unused, unexpired one-time credential
    of this User-Name for this Calling-Station-Id (either MAC spelling) at this NAS?"""
    portal = portal_for(get_ctx(request))
    known = await run_in_threadpool(portal.radius.authorize, hotspot,
                                    attribute(body, "User-Name") or "",
                                    attribute(body, "Calling-Station-Id"))
    if not known:
        return Response(status_code=404)
    return Response(status_code=204)


@router.post("/authenticate", responses={
    **NOT_FREERADIUS, 200: {"description": "Accept: reply attributes, e.g. "
                                           '{"reply:Session-Timeout": "7200"}'},
    401: {"description": "Reject"}})
async def authenticate(request: Request, hotspot: Nas, body: RadiusBody) -> Response:
    """Access-Request, authenticate section: the password (PAP); the credential is spent and
    the Accept carries the session's time, idle timeout, rate and the rest of the day's quota."""
    portal = portal_for(get_ctx(request))
    reply = await run_in_threadpool(portal.radius.authenticate, hotspot,
                                    attribute(body, "User-Name") or "",
                                    attribute(body, "User-Password") or "",
                                    attribute(body, "Calling-Station-Id"))
    if reply is None:
        return JSONResponse({}, status_code=401)
    return JSONResponse(reply)


@router.post("/accounting", status_code=204, responses=NOT_FREERADIUS)
async def accounting(request: Request, hotspot: Nas, body: RadiusBody) -> Response:
    """Accounting-Request: Start, Interim-Update and Stop update the session and its bytes."""
    portal = portal_for(get_ctx(request))
    stale = await run_in_threadpool(portal.radius.account, hotspot, body)
    if stale is not None:  # the store closed it, the NAS still carries it
        try:
            await run_in_threadpool(portal.gateways.get(hotspot).revoke, [stale])
        except GatewayError as exc:
            log.warning("hotspot %s: Disconnect-Request failed: %s", hotspot, exc)
    return Response(status_code=204)


@router.post("/post-auth", status_code=204, responses=NOT_FREERADIUS)
async def post_auth(request: Request, hotspot: Nas, body: RadiusBody) -> Response:
    """After the answer: a Reject is logged (without the citizen's identity)."""
    result = attribute(body, "Post-Auth-Type") or "Accept"
    if result.lower() == "reject":
        log.info("hotspot %s: RADIUS login rejected", hotspot)
    return Response(status_code=204)
