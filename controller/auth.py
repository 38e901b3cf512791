"""Engineers' authentication: password login with lockout, web sessions, API tokens, roles.

Tokens are random; only their SHA-256 is stored. Every login and change is audited.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, delete, or_, select, update
from sqlalchemy.orm import Session

from controller.store.audit import record
from controller.store.auth import ApiToken, WebSession
from controller.store.models import User
from controller.store.users import (
    ROLES,
    UserError,
    dummy_hash,
    hash_password,
    validate_password,
    verify_password,
)

SESSION_LIFETIME = timedelta(hours=12)
# Roles whose tokens may never expire: the wall screen's `display` accounts have no password to
# log in with again.
NEVER_EXPIRING_ROLES = ("display",)
DISPLAY_ROLE = "display"
DISPLAY_SESSION_LIFETIME = timedelta(days=30)  # a wall screen's cookie; the token may outlive it
LAST_USE_WRITE_EVERY = timedelta(minutes=1)  # a token's last use is written at most this often
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
TOKEN_PREFIX = "simpul_"
UNKNOWN_ACTOR = "unknown-user"  # the audit actor of a login naming no account


class AuthError(Exception):
    """A refused login; `reason` is one of bad_credentials, locked, disabled, rate_limited."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def role_at_least(role: str, needed: str) -> bool:
    return ROLES.index(role) >= ROLES.index(needed)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; everything here is UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


@dataclass
class LoginResult:
    user: User
    session_token: str
    csrf_token: str


def login(session: Session, username: str, password: str, *, source: str) -> LoginResult:
    """Check the password, enforce lockout, open a web session.

    Raises AuthError after recording the refusal: the caller must still commit the session.
    Every attempt costs one argon2 verify, whether the account exists, is locked or disabled.
    """
    now = datetime.now(UTC)
    user = session.scalar(select(User).where(User.username == username))
    password_ok = verify_password(
        user.password_hash if user is not None and user.role != DISPLAY_ROLE else dummy_hash(),
                                  password)
    if user is None:
        # Not the typed text: it may be a password typed into the wrong field.
        record(session, UNKNOWN_ACTOR, "user.login", result="failed",
               detail={"reason": "unknown user", "source": source})
        raise AuthError("bad_credentials")
    if user.disabled:
        record(session, user.username, "user.login", result="denied", user_id=user.id,
               detail={"reason": "disabled", "source": source})
        raise AuthError("disabled")
    if not password_ok or user.role == DISPLAY_ROLE:  # a display account has no password
        failures, was_locked = _count_failure(session, user.id, now)
        detail: dict[str, object] = {"reason": "bad password", "source": source,
                                     "failures": failures}
        if not was_locked and failures >= MAX_FAILED_LOGINS:
            detail["locked_minutes"] = int(LOCKOUT.total_seconds() // 60)
        record(session, user.username, "user.login", result="locked" if was_locked else "failed",
               user_id=user.id, detail=detail)
        raise AuthError("locked" if failures >= MAX_FAILED_LOGINS else "bad_credentials")
    if not _clear_failures(session, user.id, now):  # the right password, but locked
        record(session, user.username, "user.login", result="locked", user_id=user.id,
               detail={"source": source})
        raise AuthError("locked")
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(WebSession(token_hash=_digest(token), user_id=user.id, csrf_token=csrf,
                           expires_at=now + SESSION_LIFETIME))
    session.execute(delete(WebSession).where(WebSession.expires_at < now))
    record(session, user.username, "user.login", user_id=user.id, detail={"source": source})
    return LoginResult(user, token, csrf)


def _count_failure(session: Session, user_id: int, now: datetime) -> tuple[int, bool]:
    """Add one failed login in one statement (parallel guesses each count) and lock the account
    at MAX_FAILED_LOGINS; an expired lock starts the count afresh.

    Returns the failures counted and whether the account was already locked.
    """
    expired = and_(User.locked_until.is_not(None), User.locked_until <= now)
    failures, locked_until = session.execute(
        update(User).where(User.id == user_id)
        .values(failed_logins=case((expired, 1), else_=User.failed_logins + 1),
                locked_until=case((expired, None), else_=User.locked_until))
        .returning(User.failed_logins, User.locked_until),
        execution_options={"synchronize_session": False}).one()
    if locked_until is None and failures >= MAX_FAILED_LOGINS:
        session.execute(update(User).where(User.id == user_id, User.locked_until.is_(None))
                        .values(locked_until=now + LOCKOUT),
                        execution_options={"synchronize_session": False})
    return failures, locked_until is not None


def _clear_failures(session: Session, user_id: int, now: datetime) -> bool:
    """A good password resets the count, unless the account is locked (read in the same
    statement, so a lock set by parallel guesses meanwhile holds). False if locked."""
    result = session.execute(
        update(User).where(User.id == user_id,
                           or_(User.locked_until.is_(None), User.locked_until <= now))
        .values(failed_logins=0, locked_until=None),
        execution_options={"synchronize_session": False})
    return bool(result.rowcount)  # type: ignore[attr-defined]


def session_user(session: Session, token: str | None) -> tuple[User, WebSession] | None:
    if not token:
        return None
    row = session.scalar(select(WebSession).where(WebSession.token_hash == _digest(token)))
    expires = _aware(row.expires_at) if row is not None else None
    if row is None or expires is None or expires < datetime.now(UTC):
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    if row.api_token_id is not None and _active_token(session, row.api_token_id) is None:
        return None  # a wall session whose display token was revoked or has expired
    return user, row


def _active_token(session: Session, token_id: int) -> ApiToken | None:
    row = session.get(ApiToken, token_id)
    if row is None or row.revoked:
        return None
    expires = _aware(row.expires_at)
    return None if expires is not None and expires <= datetime.now(UTC) else row


def wall_session(session: Session, token: str, *, source: str) -> LoginResult | None:
    """Swap a display account's token for a web session tied to that token (a wall screen's
    cookie); None for any other token. Audited without the token."""
    now = datetime.now(UTC)
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    user = token_user(session, token)
    if row is None or user is None or user.role != DISPLAY_ROLE:
        record(session, UNKNOWN_ACTOR if user is None else user.username, "display.login",
               result="failed", detail={"source": source})
        return None
    longest = now + DISPLAY_SESSION_LIFETIME
    expires = min(longest, _aware(row.expires_at) or longest)
    session_token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(WebSession(token_hash=_digest(session_token), user_id=user.id, csrf_token=csrf,
                           expires_at=expires, api_token_id=row.id))
    record(session, user.username, "display.login", user_id=user.id,
           detail={"source": source, "token_id": row.id})
    return LoginResult(user, session_token, csrf)


def logout(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(WebSession).where(WebSession.token_hash == _digest(token)))


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected, given or "")


def change_password(session: Session, user: User, old: str, new: str, keep_token: str) -> None:
    if not verify_password(user.password_hash, old):
        record(session, user.username, "user.password", result="failed", user_id=user.id,
               target=user.username, detail={"reason": "wrong current password"})
        raise UserError("the current password is wrong")
    set_password(session, user, new, actor=user.username)
    # Other sessions of this user end; the current one stays.
    session.execute(delete(WebSession).where(WebSession.user_id == user.id,
                                             WebSession.token_hash != _digest(keep_token)))


def set_password(session: Session, user: User, new: str, *, actor: str) -> None:
    """Set a new password; the user's API tokens are revoked with it (a leaked password may
    have made them)."""
    validate_password(new)
    user.password_hash = hash_password(new)
    user.password_changed_at = datetime.now(UTC)
    revoked = _revoke(session, ApiToken.user_id == user.id)
    record(session, actor, "user.password", target=user.username, user_id=user.id,
           detail={"tokens_revoked": revoked} if revoked else None)


def reset_password(session: Session, user: User, *, actor: str, actor_id: int) -> str:
    """An admin's reset of another engineer's password: a new random one, returned once (the
    admin never chooses it, so it is never weak or reused). The user's tokens are revoked,
    every session of theirs ends and a lockout is lifted; audited without the password."""
    if user.role == DISPLAY_ROLE:
        raise UserError(f"{user.username!r} is a display account: it has no password "
                        "(revoke its tokens instead)")
    if user.id == actor_id:
        raise UserError("change your own password on the password page (it asks for the "
                        "current one)")
    new = secrets.token_urlsafe(15)   # 20 characters, 120 bits
    set_password(session, user, new, actor=actor)
    ended = session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    user.locked_until, user.failed_logins = None, 0
    record(session, actor, "user.password_reset", target=user.username, user_id=user.id,
           detail={"sessions_ended": ended.rowcount})  # type: ignore[attr-defined]
    return new


def create_api_token(session: Session, user: User, name: str, *, actor: str,
                     expires_at: datetime | None) -> str:
    """Return a new token once; only its hash is stored. `expires_at=None` never expires,
    which only NEVER_EXPIRING_ROLES may have."""
    if not name or len(name) > 64:
        raise UserError("token name must be 1-64 characters")
    if expires_at is None and user.role not in NEVER_EXPIRING_ROLES:
        raise UserError(f"only {', '.join(NEVER_EXPIRING_ROLES)} accounts may have tokens "
                        f"that never expire")
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise UserError("a token must expire in the future")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, token_hash=_digest(token), user_id=user.id,
                         expires_at=expires_at))
    record(session, actor, "token.create", target=user.username,
           detail={"name": name, "expires": expires_at.isoformat() if expires_at else "never"})
    return token


def token_expiry(lifetime_days: int | None) -> datetime | None:
    """When a token made now with this lifetime expires (None: never)."""
    return None if lifetime_days is None else datetime.now(UTC) + timedelta(days=lifetime_days)


def token_user(session: Session, token: str) -> User | None:
    """The user of a valid (unrevoked, unexpired) token; its last use is noted, at most once
    a minute."""
    now = datetime.now(UTC)
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token),
                                                ApiToken.revoked.is_(False)))
    if row is None:
        return None
    expires = _aware(row.expires_at)
    if expires is not None and expires <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    last = _aware(row.last_used_at)
    if last is None or now - last >= LAST_USE_WRITE_EVERY:
        row.last_used_at = now
    return user


@dataclass(frozen=True)
class TokenInfo:
    """What an engineer may see of a token: never the token or its hash."""

    id: int
    name: str
    username: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    status: str  # active | expired | revoked


def list_api_tokens(session: Session, *, username: str | None = None) -> list[TokenInfo]:
    """Every token, or one user's, newest first."""
    now = datetime.now(UTC)
    query = (select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
             .order_by(ApiToken.created_at.desc(), ApiToken.id.desc()))
    if username is not None:
        query = query.where(User.username == username)
    found = []
    for row, owner in session.execute(query).all():
        expires = _aware(row.expires_at)
        status = "revoked" if row.revoked else \
            "expired" if expires is not None and expires <= now else "active"
        found.append(TokenInfo(row.id, row.name, owner, _aware(row.created_at) or now, expires,
                               _aware(row.last_used_at), status))
    return found


def revoke_api_token(session: Session, token_id: int, *, actor: str,
                     owner: str | None = None) -> TokenInfo:
    """Revoke one token (of `owner`, when given: others' tokens are not found). Audited;
    UserError if there is no such token."""
    match = [t for t in list_api_tokens(session, username=owner) if t.id == token_id]
    if not match:
        raise UserError(f"no API token {token_id}" + (f" of {owner!r}" if owner else ""))
    _revoke(session, ApiToken.id == token_id)
    record(session, actor, "token.revoke", target=match[0].username,
           detail={"id": token_id, "name": match[0].name})
    return match[0]


def _revoke(session: Session, condition: ColumnElement[bool]) -> int:
    """Revoke the unrevoked tokens that match; return how many."""
    result = session.execute(
        update(ApiToken).where(condition, ApiToken.revoked.is_(False))
        .values(revoked=True, revoked_at=datetime.now(UTC)),
        execution_options={"synchronize_session": False})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
