"""Users, roles and API tokens."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from controller.auth import (
    NEVER_EXPIRING_ROLES,
    create_api_token,
    list_api_tokens,
    revoke_api_token,
    token_expiry,
)
from controller.store.audit import record
from controller.store.models import User
from controller.store.users import ROLES, USERNAME_PATTERN, UserError, add_user
from controller.web.api.types import AUTH_ERRORS, Responses, RowId, UtcDatetime
from controller.web.deps import Admin, Principal, Viewer, check_csrf, existing_user, get_ctx

router = APIRouter(tags=["users"])
ERRORS: Responses = AUTH_ERRORS


class UserOut(BaseModel):
    username: str
    role: str
    disabled: bool


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=f"^{USERNAME_PATTERN}$")
    password: str = Field(min_length=12, max_length=256)
    role: str = Field(pattern="^(viewer|operator|admin)$")


class UserPatch(BaseModel):
    role: str | None = Field(None, pattern="^(viewer|operator|admin)$")
    disabled: bool | None = None


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    expires_days: Annotated[int, Field(ge=1, le=3650)] | Literal["never"] | None = Field(
        None, description="Lifetime in days (default: SIMPUL_API_TOKEN_LIFETIME_DAYS); "
        "'never' only for display accounts")


class TokenOut(BaseModel):
    name: str
    token: str = Field(description="Shown once; only its hash is stored")
    expires_at: UtcDatetime | None = Field(description="None: never expires")


class TokenInfoOut(BaseModel):
    id: int
    name: str
    username: str
    created_at: UtcDatetime
    expires_at: UtcDatetime | None
    last_used_at: UtcDatetime | None = Field(description="Updated at most once a minute")
    status: Literal["active", "expired", "revoked"]


@router.get("/me", response_model=UserOut, responses=ERRORS)
def me(who: Viewer) -> UserOut:
    return UserOut(username=who.username, role=who.role, disabled=False)


@router.get("/users", response_model=list[UserOut], responses=ERRORS)
def list_users(request: Request, _who: Viewer) -> list[UserOut]:
    with get_ctx(request).store.session() as session:
        return [UserOut(username=u.username, role=u.role, disabled=u.disabled)
                for u in session.scalars(select(User).order_by(User.username))]


@router.post("/users", response_model=UserOut, status_code=201,
             responses={**ERRORS, 409: {"description": "User exists"}})
async def create_user(request: Request, body: UserIn,
                      who: Admin) -> UserOut:
    await check_csrf(request, who)
    try:
        with get_ctx(request).store.session() as session:
            user = add_user(session, body.username, body.password, body.role, actor=who.username)
            return UserOut(username=user.username, role=user.role, disabled=user.disabled)
    except UserError as exc:
        # The schema already refuses what add_user refuses (422); what is left is a clash.
        raise HTTPException(409 if "exists" in str(exc) else 422, str(exc)) from None


@router.patch("/users/{username}", response_model=UserOut,
              responses={**ERRORS, 404: {"description": "No such user"}})
async def update_user(request: Request, username: str, body: UserPatch,
                      who: Admin) -> UserOut:
    await check_csrf(request, who)
    with get_ctx(request).store.session() as session:
        user = existing_user(session, username)
        if body.disabled and user.id == who.user_id:
            raise HTTPException(400, "you cannot disable yourself")
        if body.role is not None and body.role in ROLES:
            user.role = body.role
        if body.disabled is not None:
            user.disabled = body.disabled
        record(session, who.username, "user.update", target=username,
               detail={"role": user.role, "disabled": user.disabled})
        return UserOut(username=user.username, role=user.role, disabled=user.disabled)


@router.post("/tokens", response_model=TokenOut, status_code=201,
             responses={**ERRORS, 422: {"description": "Bad name or lifetime"}})
async def create_token(request: Request, body: TokenIn,
                       who: Viewer) -> TokenOut:
    await check_csrf(request, who)
    if body.expires_days == "never" and who.role not in NEVER_EXPIRING_ROLES:
        # Valid data, but not for this caller's role: 403, as for any other role limit.
        raise HTTPException(403, f"only {', '.join(NEVER_EXPIRING_ROLES)} accounts may have "
                                 "tokens that never expire")
    days = get_ctx(request).settings.api_token_lifetime_days if body.expires_days is None \
        else None if body.expires_days == "never" else body.expires_days
    expires = token_expiry(days)
    try:
        with get_ctx(request).store.session() as session:
            user = session.get(User, who.user_id)
            assert user is not None
            token = create_api_token(session, user, body.name, actor=who.username,
                                     expires_at=expires)
    except UserError as exc:
        raise HTTPException(422, str(exc)) from None
    return TokenOut(name=body.name, token=token, expires_at=expires)


def _visible_to(who: Principal) -> str | None:
    """Admins see and revoke every token; others only their own."""
    return None if who.role == "admin" else who.username


@router.get("/tokens", response_model=list[TokenInfoOut], responses=ERRORS)
def list_tokens(request: Request, who: Viewer) -> list[TokenInfoOut]:
    """Your API tokens (an admin sees everyone's), newest first; never the token itself."""
    with get_ctx(request).store.session() as session:
        return [TokenInfoOut(**vars(t))
                for t in list_api_tokens(session, username=_visible_to(who))]


@router.delete("/tokens/{token_id}", status_code=204,
               responses={**ERRORS, 404: {"description": "No such token of yours"}})
async def revoke_token(request: Request, token_id: RowId, who: Viewer) -> None:
    await check_csrf(request, who)
    try:
        with get_ctx(request).store.session() as session:
            revoke_api_token(session, token_id, actor=who.username, owner=_visible_to(who))
    except UserError as exc:
        raise HTTPException(404, str(exc)) from None
