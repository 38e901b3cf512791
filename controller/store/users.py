"""Users: argon2 password hashes, roles, and the first admin."""

from __future__ import annotations

import re
import secrets
import threading
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controller.store.audit import record
from controller.store.models import User

# Lowest first. `display` (the command-centre wall) has no password and sees only /wall: it
# enters with a display token (controller/auth.py, wall_session).
ROLES = ("display", "viewer", "operator", "admin")
PASSWORD_ROLES = ROLES[1:]
NO_PASSWORD = "!"  # a display account's password hash: no password ever matches it
USERNAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"  # the API schema states the same
USERNAME_RE = re.compile(USERNAME_PATTERN)
_hasher = PasswordHasher()
# Each argon2 hash or verify takes the hasher's memory_cost (64 MiB): a burst of parallel logins
# queues here instead of taking a gigabyte.
MAX_CONCURRENT_HASHES = 2
_hashing = threading.BoundedSemaphore(MAX_CONCURRENT_HASHES)


class UserError(ValueError):
    pass


def hash_password(password: str) -> str:
    with _hashing:
        return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        with _hashing:
            return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# The hash of a password nobody knows, with the hasher's parameters: an unknown user's login
# verifies against it, so it costs exactly what a real user's login costs.
_DUMMY_HASH = ("$argon2id$v=19$m=65536,t=3,p=4$JqZelkUe5EWljn9WN5/PCQ$"
               "tkq8E0aHwa2NDhDVvT6ZWBh1RPj5tXe6t0D9hmLqivQ")


@cache
def dummy_hash() -> str:
    """The fixed dummy hash; made afresh once if the hasher's parameters have changed."""
    if _hasher.check_needs_rehash(_DUMMY_HASH):
        return hash_password(secrets.token_urlsafe(24))
    return _DUMMY_HASH


def validate_password(password: str) -> None:
    if len(password) < 12:
        raise UserError("password must be at least 12 characters")


def add_user(session: Session, username: str, password: str, role: str, actor: str) -> User:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r} (expected one of: {', '.join(ROLES)})")
    if not USERNAME_RE.fullmatch(username or ""):
        raise UserError(f"bad username {username!r}: up to 64 of ASCII letters, digits, '.', "
                        f"'-' and '_', starting with a letter or digit")
    if role in PASSWORD_ROLES:
        validate_password(password)
    elif password:
        raise UserError(f"a {role} account has no password: it enters with a token")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise UserError(f"user {username!r} already exists")
    user = User(username=username, role=role,
                password_hash=hash_password(password) if role in PASSWORD_ROLES else NO_PASSWORD)
    session.add(user)
    session.flush()
    record(session, actor, "user.add", target=username, detail={"role": role})
    return user


def ensure_first_admin(session: Session, username: str = "admin") -> str | None:
    """Create the first admin if there are no users; return its generated password once."""
    if session.scalar(select(func.count()).select_from(User)):
        return None
    password = secrets.token_urlsafe(15)
    add_user(session, username, password, "admin", actor="system")
    return password
