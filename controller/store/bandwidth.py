"""Store tables of office bandwidth: the rollups, counter state and holiday-push state.

 Times are UTC epoch seconds of the bucket start."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    String,
    Text,
    delete,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from controller.store.base import Base

FIVE_MINUTES_S = 300
HOUR_S = 3600


class TrafficRates:
    """Average rates of bytes moved over the seconds covered (rows and samples alike)."""

    in_bytes: int
    out_bytes: int
    covered_s: float

    @property
    def in_bps(self) -> float:
        return self.in_bytes * 8 / self.covered_s if self.covered_s else 0.0

    @property
    def out_bps(self) -> float:
        return self.out_bytes * 8 / self.covered_s if self.covered_s else 0.0


class _SiteTraffic(TrafficRates):
    """Columns shared by the 5-minute and hourly tables: bytes a site moved in one bucket."""

    site: Mapped[str] = mapped_column(String(63), primary_key=True)
    ts: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)
    in_bytes: Mapped[int] = mapped_column(BigInteger, default=0)  # type: ignore[assignment]
    out_bytes: Mapped[int] = mapped_column(BigInteger, default=0)  # type: ignore[assignment]
    covered_s: Mapped[float] = mapped_column(Float, default=0.0)  # type: ignore[assignment]


class Bandwidth5m(_SiteTraffic, Base):
    """Traffic of one site in one 5-minute bucket; rate = bytes * 8 / covered_s."""

    __tablename__ = "bandwidth_5m"


class Bandwidth1h(_SiteTraffic, Base):
    """One site-hour, rolled up from its 5-minute buckets (kept far longer than they are)."""

    __tablename__ = "bandwidth_1h"

    in_peak_bps: Mapped[float] = mapped_column(Float, default=0.0)
    out_peak_bps: Mapped[float] = mapped_column(Float, default=0.0)
    samples: Mapped[int] = mapped_column(Integer, default=0)


class _InterfaceTraffic(TrafficRates):
    """Columns shared by the per-interface tables: what one interface (by ifName) of one device
    received (in) and sent (out) in one bucket, and its last reported speed (ifHighSpeed)."""

    device: Mapped[str] = mapped_column(String(63), primary_key=True)
    interface: Mapped[str] = mapped_column(String(128), primary_key=True)
    ts: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)
    in_bytes: Mapped[int] = mapped_column(BigInteger, default=0)  # type: ignore[assignment]
    out_bytes: Mapped[int] = mapped_column(BigInteger, default=0)  # type: ignore[assignment]
    covered_s: Mapped[float] = mapped_column(Float, default=0.0)  # type: ignore[assignment]
    speed_bps: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class Interface5m(_InterfaceTraffic, Base):
    """One interface in one 5-minute bucket (kept as long as the site rows)."""

    __tablename__ = "interface_5m"


class Interface1h(_InterfaceTraffic, Base):
    """One interface-hour, rolled up from its 5-minute buckets."""

    __tablename__ = "interface_1h"


def upsert(session: Session, model: type[Base]) -> Any:
    """The dialect's INSERT that can say ON CONFLICT (SQLite and PostgreSQL both can)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql_insert(model)
    return sqlite_insert(model)


class CounterState(Base):
    """The last counter reading per interface, so a restart resumes deltas without a gap."""

    __tablename__ = "bandwidth_counters"

    device: Mapped[str] = mapped_column(String(63), primary_key=True)
    interface: Mapped[str] = mapped_column(String(128), primary_key=True)
    at: Mapped[float] = mapped_column(Float)
    uptime_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Unsigned 64-bit counters do not fit a signed BIGINT: kept as decimal text.
    in_octets: Mapped[str] = mapped_column(String(20))
    out_octets: Mapped[str] = mapped_column(String(20))


class SchedulePushState(Base):
    """The last local date a device's holiday schedule was handled (pushed or unchanged)."""

    __tablename__ = "schedule_push_state"

    device: Mapped[str] = mapped_column(String(63), primary_key=True)
    local_date: Mapped[date] = mapped_column(Date)
    holiday: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BandwidthMonthFigures(Base):
    """A closed month's per-site figures (controller/bandwidth/month_cache.py), valid while
    `fingerprint` (sites, allocations in force, holidays) matches; every writer of rollup
    rows deletes the months its rows fall in (`forget_month_figures`)."""

    __tablename__ = "bandwidth_month_figures"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    start_ts: Mapped[int] = mapped_column(BigInteger)  # the month in its earliest zone
    end_ts: Mapped[int] = mapped_column(BigInteger)    # ... and its end in the latest
    uses_5m: Mapped[bool] = mapped_column(Boolean)     # some site's figures are 5-minute
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 hex
    figures: Mapped[str] = mapped_column(Text)  # JSON: exact floats, ints stay ints
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BandwidthDayPart(Base):
    """One site's closed day of the open month, as the month's figures read it
    (controller/bandwidth/open_month.py), valid while `fingerprint` (allocations in force that
    day, holidays, schedule) matches; rollup writers delete the days their rows fall in."""

    __tablename__ = "bandwidth_day_parts"

    site: Mapped[str] = mapped_column(String(63), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)  # local, in the site's zone
    start_ts: Mapped[int] = mapped_column(BigInteger)
    end_ts: Mapped[int] = mapped_column(BigInteger)
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 hex
    part: Mapped[bytes] = mapped_column(LargeBinary)  # open_month.encode: exact doubles


def forget_month_figures(session: Session, start_ts: float, end_ts: float,
                         five_minute_only: bool = False) -> None:
    """Drop the cached figures of the months (and the open month's cached days) rollup rows
    in [start_ts, end_ts) fall in (of months read from 5-minute rows only, when only 5-minute
    rows changed: a prune; every cached day is read from 5-minute rows)."""
    doomed = delete(BandwidthMonthFigures).where(BandwidthMonthFigures.start_ts < end_ts,
                                                 BandwidthMonthFigures.end_ts > start_ts)
    if five_minute_only:
        doomed = doomed.where(BandwidthMonthFigures.uses_5m.is_(True))
    session.execute(doomed)
    session.execute(delete(BandwidthDayPart).where(BandwidthDayPart.start_ts < end_ts,
                                                   BandwidthDayPart.end_ts > start_ts))


class AllocationApproval(Base):
    """An accepted cut of a protected site's allocation, waiting for a second operator
    (controller/bandwidth/approvals.py); kept after the decision, as the page's history."""

    __tablename__ = "allocation_approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(63))
    before: Mapped[str] = mapped_column(String(32))  # the allocation asked to change
    after: Mapped[str] = mapped_column(String(32))   # the cut asked for
    reason: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # awaiting_approval | approved | rejected | failed (approved, but the inventory refused it)
    state: Mapped[str] = mapped_column(String(24), index=True)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
