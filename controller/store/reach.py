"""Public-WiFi reach of a closed period (a hotspot's local day or month), stored when the period
closes so that it never changes afterwards and outlives session retention."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from controller.store.base import Base, utcnow


class HotspotReach(Base):
    """One hotspot's reach in one closed period: 'YYYY-MM-DD' (a day) or 'YYYY-MM' (a month),
    local to the hotspot. Counts only: no session, address or hash."""

    __tablename__ = "portal_reach"

    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    hotspot: Mapped[str] = mapped_column(String(63), primary_key=True)
    sessions: Mapped[int] = mapped_column(Integer, default=0)
    devices: Mapped[int] = mapped_column(Integer, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    peak_concurrency: Mapped[int] = mapped_column(Integer, default=0)
    median_session_s: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
