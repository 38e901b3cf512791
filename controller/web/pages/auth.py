"""Login, logout, password change and the language toggle."""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from controller.auth import (
    AuthError,
    LoginResult,
    change_password,
    csrf_matches,
    login,
    logout,
)
from controller.store.models import User
from controller.store.users import UserError
from controller.web.deps import (
    LANG_COOKIE,
    SESSION_COOKIE,
    Viewer,
    check_csrf,
    get_ctx,
    principal,
    render,
    secure_cookies,
)
from controller.web.i18n import LANGUAGES

router = APIRouter(include_in_schema=False)
# One message for every refused login: it must not tell whether an account exists, is locked
# or is disabled (the audit log records which).
REFUSED = ("Wrong username or password, or the account is locked (for 15 minutes after 5 "
           "failed logins) or disabled.")
RATE_LIMITED = "Too many attempts from your address. Wait a minute."
FORM_EXPIRED = "The form expired or was not sent from this site. Reload and try again."
# Login CSRF: the login form's token must match this pre-session cookie, so another site cannot
# log a browser in to an account of its choosing.
LOGIN_CSRF_COOKIE = "simpul_login_csrf"


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect to another host after login."""
    if not target or not target.startswith("/") or target[1:2] in ("/", "\\"):
        return "/"  # "//host" and "/\\host" are other hosts to a browser
    parts = urlsplit(target)
    return "/" if parts.netloc or parts.scheme else target



def _login_form(request: Request, next_page: str, status: int = 200,
                error: str | None = None) -> Response:
    """The login page with a fresh login-CSRF token, in the form and in its cookie."""
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", status, next=_safe_next(next_page), error=error,
                      login_csrf=token)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=secure_cookies(request), max_age=3600, path="/login")
    return response


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:  # noqa: A002
    if principal(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_form(request, next)


@router.post("/login")
def login_submit(request: Request, username: Annotated[str, Form(max_length=64)],
                 password: Annotated[str, Form(max_length=256)],
                 next: Annotated[str, Form()] = "/",  # noqa: A002
                 csrf_token: Annotated[str, Form(max_length=64)] = "") -> Response:
    if not csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf_token):
        return _login_form(request, next, 403, FORM_EXPIRED)
    source = request.client.host if request.client else "unknown"
    if not request.app.state.login_limiter.allow(source):
        return _login_form(request, next, 429, RATE_LIMITED)
    ctx = get_ctx(request)
    with ctx.store.session() as session:
        # A refused login still commits: its audit row and the failure count must persist.
        try:
            token: LoginResult | None = login(session, username.strip(), password,
                                              source=source)
        except AuthError:
            token = None
    if token is None:
        return _login_form(request, next, 401, REFUSED)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, token.session_token, httponly=True, samesite="strict",
                        secure=secure_cookies(request), max_age=12 * 3600, path="/")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout_submit(request: Request, who: Viewer) -> Response:
    await check_csrf(request, who)
    with get_ctx(request).store.session() as session:
        logout(session, who.session_token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/password")
def password_page(request: Request, _who: Viewer, done: bool = False) -> Response:
    return render(request, "password.html", error=None, done=done)


@router.post("/password")
async def password_submit(request: Request, who: Viewer) -> Response:
    await check_csrf(request, who)
    form = await request.form()
    old, new = str(form.get("current", "")), str(form.get("new", ""))
    try:
        with get_ctx(request).store.session() as session:
            user = session.get(User, who.user_id)
            assert user is not None
            change_password(session, user, old, new, keep_token=who.session_token or "")
    except UserError as exc:
        return render(request, "password.html", 400, error=str(exc), done=False)
    return RedirectResponse("/password?done=1", status_code=303)  # Post/Redirect/Get


@router.get("/lang/{code}")
def set_language(request: Request, code: str, next: str = "/") -> Response:  # noqa: A002
    response = RedirectResponse(_safe_next(next), status_code=303)
    if code in LANGUAGES:
        response.set_cookie(LANG_COOKIE, code, samesite="strict", max_age=365 * 86400,
                            path="/")
    return response
