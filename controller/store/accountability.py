"""Store tables of accountability: every allocation change (so past months keep the
allocations in force then) and the up/down runs of ISP links and sites (state changes, not
samples). Times are UTC epoch seconds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from controller.store.base import Base


class AllocationChange(Base):
    """A site's allocation and schedule from `at` on, and who set it (accept, inventory edit)."""

    __tablename__ = "allocation_changes"
    __table_args__ = (Index("ix_allocation_changes_site_at", "site", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(63))
    at: Mapped[float] = mapped_column(Float)
    allocation: Mapped[str] = mapped_column(String(32))           # "30M/15M"
    schedule: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # windows as written
    source: Mapped[str] = mapped_column(String(16))               # accept | inventory | initial
    actor: Mapped[str] = mapped_column(String(64))


class AvailabilityRun(Base):
    """A run of one state of an ISP link or a site: [start_ts, end_ts). A gap between runs
    is time without data (Simpul itself was down)."""

    __tablename__ = "availability_runs"
    __table_args__ = (Index("ix_availability_runs_subject", "kind", "subject", "start_ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))       # link | site
    subject: Mapped[str] = mapped_column(String(128))  # the link's name or the site's code
    state: Mapped[str] = mapped_column(String(8))      # up | down
    start_ts: Mapped[int] = mapped_column(BigInteger)
    end_ts: Mapped[int] = mapped_column(BigInteger)
