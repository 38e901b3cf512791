"""Users, roles, API tokens and the audit log."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from controller.auth import create_api_token
from controller.store.audit import find_entries, known_actions, record
from controller.store.models import User
from controller.store.users import ROLES, UserError, add_user
from controller.web.deps import Admin, Viewer, check_csrf, existing_user, get_ctx, render

router = APIRouter(include_in_schema=False)


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
    with get_ctx(request).store.session() as session:
        rows = session.scalars(select(User).order_by(User.username)).all()
    return render(request, "users.html", users=rows, roles=ROLES, error=None, token=None)


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
        with get_ctx(request).store.session() as session:
            rows = session.scalars(select(User).order_by(User.username)).all()
        return render(request, "users.html", 400, users=rows, roles=ROLES, error=str(exc),
                      token=None)
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{username}")
async def users_update(request: Request, username: str,
                       who: Admin) -> Response:
    await check_csrf(request, who)
    form = await request.form()
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


@router.post("/tokens")
async def tokens_create(request: Request, who: Viewer) -> Response:
    await check_csrf(request, who)
    form = await request.form()
    token: str | None = None
    error: str | None = None
    try:
        with get_ctx(request).store.session() as session:
            user = session.get(User, who.user_id)
            assert user is not None
            token = create_api_token(session, user, str(form.get("name", "")).strip(),
                                     actor=who.username)
    except UserError as exc:
        error = str(exc)
    with get_ctx(request).store.session() as session:
        rows = session.scalars(select(User).order_by(User.username)).all()
    return render(request, "users.html", users=rows, roles=ROLES, error=error, token=token)
