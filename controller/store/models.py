"""Every table of the store, reachable from here (Alembic's env.py and autogenerate read
`Base.metadata` after importing this module). Each capability adds its tables through a
migration: users, audit and config here; web sessions in auth.py, the captive portal's in
portal.py, office bandwidth in bandwidth.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from controller.store.base import Base, utcnow


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # viewer | operator | admin
    disabled: Mapped[bool] = mapped_column(default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)  # username, or "system"
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64), index=True)  # e.g. config.push, user.login
    target: Mapped[str | None] = mapped_column(String(255), index=True)
    result: Mapped[str] = mapped_column(String(32))  # ok | failed | denied | ...
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    diff: Mapped[str | None] = mapped_column(Text)


class ConfigDrift(Base):
    """The latest drift check of each device (config engine, migration 0002)."""

    __tablename__ = "config_drift"

    device: Mapped[str] = mapped_column(String(63), primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status: Mapped[str] = mapped_column(String(16))  # in_sync | drifted | error
    diff: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


class ConfigPush(Base):
    """A config push started from the UI or API (migration 0008): kept in the store, so any
    admin process can show it and a restart cannot lose it."""

    __tablename__ = "config_pushes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The running process touches this while it works; a push whose heartbeat stopped without
    # a finish was interrupted (the process stopped or crashed).
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Safe pushes (migration 0012): awaiting_approval | running | paused | done | aborted.
    state: Mapped[str] = mapped_column(String(24), default="running", server_default="running",
                                       index=True)
    stage: Mapped[int | None] = mapped_column(Integer)  # the first N devices, then pause
    protected_sites: Mapped[str | None] = mapped_column(Text)  # comma-separated site codes
    approved_by: Mapped[str | None] = mapped_column(String(64))
    continued_by: Mapped[str | None] = mapped_column(String(64))
    aborted_by: Mapped[str | None] = mapped_column(String(64))


class ConfigPushDevice(Base):
    __tablename__ = "config_push_devices"

    push_id: Mapped[int] = mapped_column(ForeignKey("config_pushes.id", ondelete="CASCADE"),
                                         primary_key=True)
    device: Mapped[str] = mapped_column(String(63), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # pending | unchanged | changed | failed ...
    diff: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


# The tables of the other store modules, so that importing this module registers them all.
from controller.store.accountability import AllocationChange, AvailabilityRun  # noqa: E402
from controller.store.auth import ApiToken, WebSession  # noqa: E402
from controller.store.bandwidth import (  # noqa: E402
    Bandwidth1h,
    Bandwidth5m,
    CounterState,
    Interface1h,
    Interface5m,
    SchedulePushState,
)
from controller.store.portal import (  # noqa: E402
    HotspotTraffic,
    LoginCount,
    MonthlyDevices,
    OtpCode,
    PortalSession,
    SmsCount,
    Voucher,
)
from controller.store.reach import HotspotReach  # noqa: E402

__all__ = ["AllocationChange", "ApiToken", "AuditLog", "AvailabilityRun", "Bandwidth1h",
           "Bandwidth5m", "Base", "ConfigDrift", "ConfigPush", "ConfigPushDevice", "CounterState",
           "HotspotReach", "HotspotTraffic", "Interface1h", "Interface5m", "LoginCount",
           "MonthlyDevices", "OtpCode", "PortalSession", "SchedulePushState", "SmsCount", "User",
           "Voucher", "WebSession", "utcnow"]
