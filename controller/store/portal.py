"""Store tables of the captive portal: sessions, vouchers, one-time codes, login counters.

Privacy (UU PDP 27/2022): a session keeps the client's IP and MAC only while it is open; when it
ends they are erased. Two hashes of the MAC stay, each keyed by its period (captive_portal/
privacy.py): the day's (the daily quota) until that day closes, the month's (the month's
distinct devices) until the month closes and is counted; then they are erased too. Phone numbers
are never stored, only salted hashes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from controller.store.base import Base, utcnow


class PortalSession(Base):
    __tablename__ = "portal_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Indexes match the portal's questions column for column (migration 0007): a client's open
    # session (every page, RFC 8908 answer, login), a client's use today (every login; and the
    # day hashes still to erase), a hotspot's open sessions (reaper, reconciler; retention by
    # the prefix).
    __table_args__ = (
        Index("ix_portal_sessions_hotspot_client_ip", "hotspot", "client_ip"),
        Index("ix_portal_sessions_client_day", "client_hash", "hotspot", "started_at"),
        Index("ix_portal_sessions_open", "ended_at", "hotspot"),
        # The month's hashes not yet counted and erased (migration 0009).
        Index("ix_portal_sessions_month", "month_hash", "hotspot", "started_at"),
    )

    hotspot: Mapped[str] = mapped_column(String(63))
    method: Mapped[str] = mapped_column(String(16))  # click_through | voucher | phone_otp
    client_ip: Mapped[str | None] = mapped_column(String(45))  # erased when the session ends
    client_mac: Mapped[str | None] = mapped_column(String(17))  # erased when the session ends
    # HMACs of the MAC under the day's and the month's key; erased when the period closes.
    client_hash: Mapped[str | None] = mapped_column(String(64))
    month_hash: Mapped[str | None] = mapped_column(String(64))
    phone_hash: Mapped[str | None] = mapped_column(String(64))
    voucher_id: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_activity_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # timeout|idle|quota|engineer|removed; RADIUS: logout|nas-reset|nas-lost|nas-stop|nas-silent
    end_reason: Mapped[str | None] = mapped_column(String(16))
    bytes_up: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_down: Mapped[int] = mapped_column(BigInteger, default=0)
    # Last raw counter values read from the gateway (they restart when an element is re-added).
    counter_up: Mapped[int] = mapped_column(BigInteger, default=0)
    counter_down: Mapped[int] = mapped_column(BigInteger, default=0)
    quota_bytes: Mapped[int | None] = mapped_column(BigInteger)  # bytes this session may use


class Voucher(Base):
    __tablename__ = "portal_vouchers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    batch: Mapped[str] = mapped_column(String(32), index=True)
    hotspot: Mapped[str | None] = mapped_column(String(63))  # None: valid at every hotspot
    duration_s: Mapped[int] = mapped_column(Integer)
    uses_total: Mapped[int] = mapped_column(Integer)
    uses_left: Mapped[int] = mapped_column(Integer)
    valid_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))


class OtpCode(Base):
    __tablename__ = "portal_otp_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hotspot: Mapped[str] = mapped_column(String(63))
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used: Mapped[bool] = mapped_column(default=False)


class LoginCount(Base):
    """Login attempts per hotspot, method, result and day: metrics and stats survive restarts."""

    __tablename__ = "portal_login_counts"
    __table_args__ = (UniqueConstraint("day", "hotspot", "method", "result"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD (UTC)
    hotspot: Mapped[str] = mapped_column(String(63))
    method: Mapped[str] = mapped_column(String(16))
    result: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class SmsCount(Base):
    """SMS sent in one budget period (an hour or a day) for one scope: a device (its day hash),
    a hotspot, or all. Counted with one upsert, so parallel requests cannot pass a budget."""

    __tablename__ = "portal_sms_counts"

    period: Mapped[str] = mapped_column(String(24), primary_key=True)  # h:2026-11-27T13 | d:...
    scope: Mapped[str] = mapped_column(String(80), primary_key=True)  # device:<hash>|hotspot:..
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class MonthlyDevices(Base):
    """Distinct devices of a hotspot in a closed month (local to the hotspot), counted from the
    month's MAC hashes just before they are erased."""

    __tablename__ = "portal_monthly_devices"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    hotspot: Mapped[str] = mapped_column(String(63), primary_key=True)
    devices: Mapped[int] = mapped_column(Integer, default=0)


class HotspotTraffic(Base):
    """Bytes carried per hotspot since the start: a monotonic counter that retention never cuts."""

    __tablename__ = "portal_hotspot_traffic"

    hotspot: Mapped[str] = mapped_column(String(63), primary_key=True)
    bytes_up: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_down: Mapped[int] = mapped_column(BigInteger, default=0)


class RadiusLogin(Base):
    """adapter radius: the one-time credential the browser posts to the NAS, and then the NAS's
    accounting of that login (issue #19). The password and the MAC are stored only as hashes;
    the row goes with its session (retention)."""

    __tablename__ = "portal_radius_logins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(Integer, index=True)
    hotspot: Mapped[str] = mapped_column(String(63))
    username: Mapped[str] = mapped_column(String(32), unique=True)
    password_hash: Mapped[str] = mapped_column(String(64))  # sha256 of a 128-bit random value
    # the portal's pseudonym of the MAC; indexed: RadiusLogins.identify looks a client up by it
    mac_hash: Mapped[str] = mapped_column(String(64), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acct_session_id: Mapped[str | None] = mapped_column(String(64))
    acct_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # last report
    acct_stopped: Mapped[bool] = mapped_column(default=False)
