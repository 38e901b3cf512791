"""Phone number + one-time code: codes expire, attempts and sends are limited, phones hashed."""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets as _random
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from captive_portal.clock import aware, utcnow
from captive_portal.errors import PortalError, Refusal
from controller.store.portal import OtpCode

PHONE_RE = re.compile(r"628[0-9]{7,11}")
CODE_RE = re.compile(r"[0-9]{6}")
_SEPARATORS = re.compile(r"[\s\-().]")  # what people type between groups of digits


def normalise_phone(value: str) -> str | None:
    """An Indonesian mobile number as typed ('0812-3456-7890', '+62 812...') -> '+62812...'.

    ASCII digits only: full-width, Arabic-Indic or Devanagari digits would each make another
    number (another hash) for the same phone, past its send limit.
    """
    text = _SEPARATORS.sub("", value.strip())
    if text.startswith("+"):
        text = text[1:]
    if text.startswith("0"):
        text = "62" + text[1:]
    return "+" + text if PHONE_RE.fullmatch(text) else None


def mask_phone(value: str) -> str:
    """A number as the OTP page shows it: '0812****5678' (the citizen recognises it; a person
    looking over the shoulder learns little). Empty if it is no valid number."""
    e164 = normalise_phone(value)
    if e164 is None:
        return ""
    local = "0" + e164[3:]
    return local[:4] + "*" * (len(local) - 8) + local[-4:]


def resend_wait_s(session: Session, *, phone_hash: str, resend_after_s: int) -> int:
    """Seconds until this phone may be sent another code (0: now)."""
    last = session.scalar(select(func.max(OtpCode.created_at))
                          .where(OtpCode.phone_hash == phone_hash))
    if last is None:
        return 0
    waited = (utcnow() - aware(last)).total_seconds()
    return max(0, math.ceil(resend_after_s - waited))


def _code_hash(salt: bytes, phone_hash: str, code: str) -> str:
    return hmac.new(salt, f"otp:{phone_hash}:{code}".encode(), hashlib.sha256).hexdigest()


def issue_code(session: Session, *, salt: bytes, hotspot: str, phone_hash: str, ttl_s: int,
               max_sends_per_hour: int, resend_after_s: int = 0) -> str:
    """Store a new code for this phone (earlier ones stop working) and return it for sending;
    not within `resend_after_s` of the last one (the OTP page's 'Kirim ulang' delay)."""
    now = utcnow()
    recent = session.scalar(
        select(func.count(OtpCode.id)).where(OtpCode.phone_hash == phone_hash,
                                             OtpCode.created_at > now - timedelta(hours=1))
    ) or 0
    if recent >= max_sends_per_hour:
        raise PortalError(Refusal.OTP_SEND_LIMIT, 429)
    if resend_wait_s(session, phone_hash=phone_hash, resend_after_s=resend_after_s):
        raise PortalError(Refusal.OTP_RESEND_WAIT, 429)
    for old in session.scalars(select(OtpCode).where(OtpCode.phone_hash == phone_hash,
                                                     OtpCode.used.is_(False))):
        old.used = True
    code = f"{_random.randbelow(1_000_000):06d}"
    session.add(OtpCode(hotspot=hotspot, phone_hash=phone_hash,
                        code_hash=_code_hash(salt, phone_hash, code), created_at=now,
                        expires_at=now + timedelta(seconds=ttl_s)))
    return code


def verify_code(session: Session, *, salt: bytes, hotspot: str, phone_hash: str, typed: str,
                max_attempts: int) -> None:
    """Accept the latest code for this phone once; count every try; raise why not.

    A try is counted before the code is compared, in one statement that also checks the limit:
    parallel guesses cannot all pass a count that none of them has written yet.
    """
    code = typed.strip()
    if not CODE_RE.fullmatch(code):
        raise PortalError(Refusal.OTP_FORMAT)
    row = session.execute(
        select(OtpCode.id, OtpCode.code_hash, OtpCode.expires_at)
        .where(OtpCode.phone_hash == phone_hash, OtpCode.hotspot == hotspot,
               OtpCode.used.is_(False))
        .order_by(OtpCode.created_at.desc()).limit(1)
    ).first()
    if row is None:
        raise PortalError(Refusal.OTP_NONE)
    if aware(row.expires_at) <= utcnow():
        raise PortalError(Refusal.OTP_EXPIRED)
    attempts = session.execute(
        update(OtpCode).where(OtpCode.id == row.id, OtpCode.attempts < max_attempts)
        .values(attempts=OtpCode.attempts + 1).returning(OtpCode.attempts),
        execution_options={"synchronize_session": False}).scalar()
    if attempts is None:
        raise PortalError(Refusal.OTP_ATTEMPTS, 429)
    if not hmac.compare_digest(row.code_hash, _code_hash(salt, phone_hash, code)):
        raise PortalError(Refusal.OTP_WRONG if attempts < max_attempts else "otp_attempts")
    used = session.execute(
        update(OtpCode).where(OtpCode.id == row.id, OtpCode.used.is_(False)).values(used=True),
        execution_options={"synchronize_session": False})
    if not used.rowcount:  # type: ignore[attr-defined]
        raise PortalError(Refusal.OTP_NONE)  # a parallel login took it first: a code works once
