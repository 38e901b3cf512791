"""Users, roles, API tokens and the audit log."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from controller.auth import (
    DISPLAY_ROLE,
    create_api_token,
    list_api_tokens,
    reset_password,
    revoke_api_token,
    token_expiry,
)
from controller.store.audit import find_entries, known_actions, record
from controller.store.models import User
from controller.store.users import PASSWORD_ROLES, ROLES, UserError, add_user
from controller.web.confirm import unless_confirmed
from controller.web.deps import (
    Admin,
    Principal,
    Viewer,
    check_csrf,
    existing_user,
    get_ctx,
    render,
    secure_cookies,
)

router = APIRouter(include_in_schema=False)
TOKEN_LIFETIMES_DAYS = (30, 90, 180, 365)  # offered in the form, with the configured default
NEW_TOKEN_COOKIE = "simpul_new_token"
RESET_COOKIE = "simpul_reset_password"   # "username:password", shown once on /users


def _users_page(request: Request, who: Principal, status: int = 200, *,
                error: str | None = None, token: str | None = None,
                reset: tuple[str, str] | None = None) -> Response:
    """The users page: accounts, and the API tokens the caller may see (an admin: all)."""
    default = get_ctx(request).settings.api_token_lifetime_days
    with get_ctx(request).store.session() as session:
        rows = session.scalars(select(User).order_by(User.username)).all()
        tokens = list_api_tokens(session,
                                 username=None if who.role == "admin" else who.username)
    return render(request, "users.html", status, users=rows, roles=PASSWORD_ROLES, error=error,
                  token=token, tokens=tokens, default_days=default, reset=reset,
                  display_users=[u.username for u in rows if u.role == DISPLAY_ROLE],
                  lifetimes=sorted({*TOKEN_LIFETIMES_DAYS, default}))


def _shown_once(response: Response, cookie: str, path: str) -> Response:
    """Delete a show-once cookie with the answer that shows it, and keep that answer out of
    every cache."""
    response.delete_cookie(cookie, path=path)
    response.headers["Cache-Control"] = "no-store"
    return response


def _show_once(response: Response, request: Request, cookie: str, value: str,
               path: str) -> Response:
    """Post/Redirect/Get for a secret shown once: a cookie that lives two minutes on `path`."""
    response.set_cookie(cookie, value, httponly=True, samesite="strict",
                        secure=secure_cookies(request), max_age=120, path=path)
    return response


@router.get("/audit")
def audit(request: Request, _who: Viewer, actor: str = "", action: str = "",
          target: str = "", result: str = "") -> Response:
    with get_ctx(request).store.session() as session:
        rows = find_entries(session, actor=actor, action=action, target=target, result=result)
        actions = known_actions(session)
    return render(request, "audit.html", rows=rows, actions=actions,
                  filters={"actor": actor, "action": action, "target": target,
                           "result": result})


@router.get("/users")
def users(request: Request, who: Viewer) -> Response:
    """After an admin's password reset (Post/Redirect/Get): the new password, once."""
    username, _, password = request.cookies.get(RESET_COOKIE, "").rpartition(":")
    if not password:
        return _users_page(request, who)
    shown = (username, password) if who.role == "admin" else None
    return _shown_once(_users_page(request, who, reset=shown), RESET_COOKIE, "/users")


@router.post("/users/{username}/password")
async def users_reset_password(request: Request, username: str, who: Admin) -> Response:
    """An admin resets another engineer's password to a new random one, shown once."""
    await check_csrf(request, who)
    try:
        with get_ctx(request).store.session() as session:
            password = reset_password(session, existing_user(session, username),
                                      actor=who.username, actor_id=who.user_id)
    except UserError as exc:
        return _users_page(request, who, 400, error=str(exc))
    return _show_once(RedirectResponse("/users#reset", status_code=303), request, RESET_COOKIE,
                      f"{username}:{password}", "/users")


@router.post("/users")
async def users_add(request: Request, who: Admin) -> Response:
    await check_csrf(request, who)
    form = await request.form()
    try:
        with get_ctx(request).store.session() as session:
            add_user(session, str(form.get("username", "")).strip(),
                     str(form.get("password", "")), str(form.get("role", "")),
                     actor=who.username)
    except UserError as exc:
        return _users_page(request, who, 400, error=str(exc))
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{username}")
async def users_update(request: Request, username: str,
                       who: Admin) -> Response:
    await check_csrf(request, who)
    form = await request.form()
    if form.get("disabled") == "1" and \
            (ask := await unless_confirmed(request, "Deactivate this user?", "/users")):
        return ask
    with get_ctx(request).store.session() as session:
        user = existing_user(session, username)
        role, disabled = form.get("role"), form.get("disabled")
        if role is not None:
            if role not in ROLES:
                raise HTTPException(400, f"unknown role {role!r}")
            user.role = str(role)
        if disabled is not None:
            if user.id == who.user_id:
                raise HTTPException(400, "you cannot disable yourself")
            user.disabled = disabled == "1"
        record(session, who.username, "user.update", target=username,
               detail={"role": user.role, "disabled": user.disabled})
    return RedirectResponse("/users", status_code=303)


@router.get("/tokens")
def tokens(request: Request, who: Viewer) -> Response:
    """After creating a token (Post/Redirect/Get): show it once, from a cookie that lives two
    minutes on this path only, and delete the cookie with the same answer."""
    token = request.cookies.get(NEW_TOKEN_COOKIE)
    response = _users_page(request, who, token=token)
    return _shown_once(response, NEW_TOKEN_COOKIE, "/tokens") if token else response


@router.post("/tokens")
async def tokens_create(request: Request, who: Viewer) -> Response:
    await check_csrf(request, who)
    form = await request.form()
    days = str(form.get("expires_days", ""))
    try:
        if not days.isdigit() or not 1 <= int(days) <= 3650:
            raise UserError("a token's lifetime must be 1-3650 days")
        with get_ctx(request).store.session() as session:
            user = session.get(User, who.user_id)
            assert user is not None
            token = create_api_token(session, user, str(form.get("name", "")).strip(),
                                     actor=who.username, expires_at=token_expiry(int(days)))
    except UserError as exc:
        return _users_page(request, who, 400, error=str(exc))
    return _show_once(RedirectResponse("/tokens#tokens", status_code=303), request,
                      NEW_TOKEN_COOKIE, token, "/tokens")


@router.post("/tokens/display")
async def tokens_create_display(request: Request, who: Admin) -> Response:
    """A wall screen's token: for a display account (made here if it does not exist yet),
    never expiring if asked (display tokens only), shown once."""
    await check_csrf(request, who)
    form = await request.form()
    screen = str(form.get("screen", "")).strip()
    days = str(form.get("expires_days", ""))
    try:
        if days != "never" and (not days.isdigit() or not 1 <= int(days) <= 3650):
            raise UserError("a token's lifetime must be 1-3650 days, or never")
        with get_ctx(request).store.session() as session:
            user = session.scalar(select(User).where(User.username == screen))
            if user is None:
                user = add_user(session, screen, "", DISPLAY_ROLE, actor=who.username)
            elif user.role != DISPLAY_ROLE:
                raise UserError(f"{screen!r} is not a display account (a wall screen's); "
                                "engineers make their own tokens")
            token = create_api_token(session, user, str(form.get("name", "")).strip(),
                                     actor=who.username,
                                     expires_at=token_expiry(None if days == "never"
                                                             else int(days)))
    except UserError as exc:
        return _users_page(request, who, 400, error=str(exc))
    return _show_once(RedirectResponse("/tokens#tokens", status_code=303), request,
                      NEW_TOKEN_COOKIE, token, "/tokens")


@router.post("/tokens/{token_id}/revoke")
async def tokens_revoke(request: Request, token_id: int, who: Viewer) -> Response:
    await check_csrf(request, who)
    try:
        with get_ctx(request).store.session() as session:
            revoke_api_token(session, token_id, actor=who.username,
                             owner=None if who.role == "admin" else who.username)
    except UserError as exc:
        raise HTTPException(404, str(exc)) from None
    return RedirectResponse("/users#tokens", status_code=303)
