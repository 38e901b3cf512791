"""Request helpers for the engineers' app: the context, who is asking, role and CSRF checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, HTTPException, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from controller.auth import role_at_least, session_user, token_user
from controller.bandwidth.approvals import count_waiting
from controller.context import Context
from controller.inventory import Device, Hotspot, Site
from controller.pushes import Push
from controller.store.models import User
from controller.web.api.types import RowId
from controller.web.i18n import DEFAULT_LANGUAGE, LANGUAGES, kind_label, translate

SESSION_COOKIE = "simpul_session"
LANG_COOKIE = "simpul_lang"
TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")


@dataclass
class Principal:
    user_id: int
    username: str
    role: str
    csrf_token: str | None  # None for API-token callers, who need no CSRF token
    session_token: str | None


class NotAuthenticated(Exception):
    pass


class Forbidden(Exception):
    pass


class CsrfFailed(Exception):
    pass


def get_ctx(request: Request) -> Context:
    return request.app.state.ctx  # type: ignore[no-any-return]


def language(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, DEFAULT_LANGUAGE)
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def principal(request: Request) -> Principal | None:
    """The caller, from a Bearer API token or the session cookie; cached on the request."""
    if hasattr(request.state, "principal"):
        return request.state.principal  # type: ignore[no-any-return]
    ctx = get_ctx(request)
    found: Principal | None = None
    header = request.headers.get("authorization", "")
    with ctx.store.session() as session:
        if header.lower().startswith("bearer "):
            user = token_user(session, header[7:].strip())
            if user is not None:
                found = Principal(user.id, user.username, user.role, None, None)
        else:
            token = request.cookies.get(SESSION_COOKIE)
            pair = session_user(session, token)
            if pair is not None:
                user, row = pair
                found = Principal(user.id, user.username, user.role, row.csrf_token, token)
    request.state.principal = found
    return found


def require(role: str):  # type: ignore[no-untyped-def]
    """Dependency: the caller must be logged in with at least `role`."""

    def dependency(request: Request) -> Principal:
        who = principal(request)
        if who is None:
            raise NotAuthenticated()
        if not role_at_least(who.role, role):
            raise Forbidden()
        return who

    return dependency


async def check_csrf(request: Request, who: Principal) -> None:
    """Unsafe requests made with a session cookie must carry the session's CSRF token."""
    if who.csrf_token is None:
        return
    given = request.headers.get("x-csrf-token")
    if given is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        given = (await request.form()).get("csrf_token")  # type: ignore[assignment]
    from controller.auth import csrf_matches

    if not csrf_matches(who.csrf_token, given if isinstance(given, str) else None):
        raise CsrfFailed()


def local_time(value: datetime | None, zone: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored time (UTC; SQLite gives it back naive) as the viewer reads it, zone named:
    `2026-11-27 19:07 WIB`."""
    if value is None:
        return "—"
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    local = aware.astimezone(zone)
    return f"{local.strftime(fmt)} {local.tzname()}"


def awaiting_approvals(request: Request, who: Principal | None) -> int:
    """Pushes waiting for a second operator's approval: the header shows operators the count."""
    pushes = getattr(request.app.state, "pushes", None)
    if who is None or pushes is None or not role_at_least(who.role, "operator"):
        return 0
    return pushes.awaiting_approval()  # type: ignore[no-any-return]


def awaiting_cuts(request: Request, who: Principal | None) -> int:
    """Cuts of protected sites waiting for a second operator: shown beside the pushes."""
    if who is None or not role_at_least(who.role, "operator"):
        return 0
    return count_waiting(get_ctx(request).store)


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    lang = language(request)
    who = principal(request)
    zone = ZoneInfo(get_ctx(request).inventory.home_zone())
    return TEMPLATES.TemplateResponse(
        request, name, {
            "_": lambda text: translate(text, lang), "lang": lang, "me": who,
            "kind_label": lambda kind: kind_label(kind, lang),
            "local": lambda value, fmt="%Y-%m-%d %H:%M": local_time(value, zone, fmt),
            "csrf_token": who.csrf_token if who else "",
            "tile_url": get_ctx(request).settings.map_tile_url,
            # Shown to engineers on every page while the files on disk are refused.
            "inventory_problems": get_ctx(request).inventory_problems if who else [],
            "awaiting_approvals": awaiting_approvals(request, who),
            "awaiting_cuts": awaiting_cuts(request, who), **context,
        }, status_code=status_code,
    )


Viewer = Annotated[Principal, Depends(require("viewer"))]
Operator = Annotated[Principal, Depends(require("operator"))]
Admin = Annotated[Principal, Depends(require("admin"))]


# Path parameters that name something: each dependency looks it up or answers 404 naming it.

def known_site(request: Request, code: str) -> Site:
    site = get_ctx(request).inventory.sites.get(code)
    if site is None:
        raise HTTPException(404, f"unknown site {code!r}")
    return site


def known_device(request: Request, name: str) -> Device:
    device = get_ctx(request).inventory.devices.get(name)
    if device is None:
        raise HTTPException(404, f"unknown device {name!r}")
    return device


def known_hotspot(request: Request, name: str) -> Hotspot:
    hotspot = get_ctx(request).inventory.hotspots.get(name)
    if hotspot is None:
        raise HTTPException(404, f"unknown hotspot {name!r}")
    return hotspot


def known_push(request: Request, push_id: RowId) -> Push:
    found: Push | None = request.app.state.pushes.get(push_id)
    if found is None:
        raise HTTPException(404, f"no push {push_id}")
    return found


def existing_user(session: Session, username: str) -> User:
    """The user to change, in the caller's session; 404 naming it if there is none."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise HTTPException(404, f"unknown user {username!r}")
    return user


KnownSite = Annotated[Site, Depends(known_site)]
KnownDevice = Annotated[Device, Depends(known_device)]
KnownHotspot = Annotated[Hotspot, Depends(known_hotspot)]
KnownPush = Annotated[Push, Depends(known_push)]


def secure_cookies(request: Request) -> bool:
    """Whether cookies get the Secure flag: the setting, else whether the request is HTTPS."""
    setting = get_ctx(request).settings.secure_cookies
    if setting is not None:
        return setting
    # The scheme a trusted proxy reports (SIMPUL_TRUSTED_PROXIES) is already in the URL.
    return request.url.scheme == "https"
