"""Engineers' authentication: password login with lockout, web sessions, API tokens, roles.

Tokens are random; only their SHA-256 is stored. Every login and change is audited.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, case, delete, or_, select, update
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
    password_ok = verify_password(user.password_hash if user is not None else dummy_hash(),
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
    if not password_ok:
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
    return user, row


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
    validate_password(new)
    user.password_hash = hash_password(new)
    user.password_changed_at = datetime.now(UTC)
    record(session, actor, "user.password", target=user.username, user_id=user.id)


def create_api_token(session: Session, user: User, name: str, *, actor: str) -> str:
    """Return a new token once; only its hash is stored."""
    if not name or len(name) > 64:
        raise UserError("token name must be 1-64 characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, token_hash=_digest(token), user_id=user.id))
    record(session, actor, "token.create", target=user.username, detail={"name": name})
    return token


def token_user(session: Session, token: str) -> User | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token),
                                                ApiToken.revoked.is_(False)))
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    row.last_used_at = datetime.now(UTC)
    return user
