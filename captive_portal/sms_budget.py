"""SMS budgets: how many one-time codes a device, a hotspot and the whole portal may send per
hour and per day. Each SMS costs money and may bomb a number; the per-phone limit (otp.py)
alone lets one device try many numbers.

Each budget is a counter row per period, raised by one upsert that returns the new count, so
parallel requests cannot all pass a budget none of them has counted yet. The caller's
transaction rolls the counts back if the code is not sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from captive_portal.clock import local_day_label, next_local_day_start
from captive_portal.errors import PortalError, Refusal
from controller.settings import Settings
from controller.store.portal import SmsCount

log = logging.getLogger("simpul.portal")


def _spend_upsert(insert_for: Any) -> Any:
    table = SmsCount.__table__
    return (insert_for(table)
            .values(period=bindparam("b_period"), scope=bindparam("b_scope"),
                    ends_at=bindparam("b_ends_at"), count=1)
            .on_conflict_do_update(index_elements=["period", "scope"],
                                   set_={"count": table.c.count + 1})
            .returning(table.c.count))


_SPEND = {"sqlite": _spend_upsert(sqlite_insert), "postgresql": _spend_upsert(pg_insert)}


@dataclass(frozen=True)
class Budget:
    scope: str  # device:<day hash> | hotspot:<name> | all
    period: str  # h:2026-11-27T13 | d:2026-11-27 (the hotspot's day; UTC for all)
    ends_at: datetime
    limit: int
    refusal: Refusal  # what the citizen is told


def budgets(settings: Settings, *, device_hash: str, hotspot: str, timezone: str,
            now: datetime) -> list[Budget]:
    """Every budget one SMS counts against, the device's first (its own message)."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    hourly = (f"h:{hour:%Y-%m-%dT%H}", hour + timedelta(hours=1))
    local_day = (f"d:{local_day_label(now, timezone)}", next_local_day_start(now, timezone))
    utc_day = (f"d:{now:%Y-%m-%d}", next_local_day_start(now, "UTC"))
    device, spot = f"device:{device_hash}", f"hotspot:{hotspot}"
    mine = Refusal.OTP_DEVICE_LIMIT
    return [
        Budget(device, *hourly, settings.portal_sms_per_device_per_hour, mine),
        Budget(device, *local_day, settings.portal_sms_per_device_per_day, mine),
        Budget(spot, *hourly, settings.portal_sms_per_hotspot_per_hour, Refusal.SMS_BUDGET),
        Budget(spot, *local_day, settings.portal_sms_per_hotspot_per_day, Refusal.SMS_BUDGET),
        Budget("all", *hourly, settings.portal_sms_per_hour, Refusal.SMS_BUDGET),
        Budget("all", *utc_day, settings.portal_sms_per_day, Refusal.SMS_BUDGET),
    ]


def spend(session: Session, found: list[Budget], hotspot: str) -> None:
    """Count one SMS against each budget; PortalError (429) at the first one it would pass."""
    statement = _SPEND[session.get_bind().dialect.name]
    for budget in found:
        count = session.execute(statement, {"b_period": budget.period, "b_scope": budget.scope,
                                            "b_ends_at": budget.ends_at}).scalar_one()
        if count > budget.limit:
            if budget.refusal == Refusal.SMS_BUDGET:
                log.warning("hotspot %s: SMS budget reached: %s per %s (%d)", hotspot,
                            budget.scope.split(":")[0],
                            "hour" if budget.period.startswith("h:") else "day", budget.limit)
            raise PortalError(budget.refusal, 429)


def purge_spent(session: Session, now: datetime) -> None:
    """Forget the counters of periods that have ended (with them, the devices' day hashes)."""
    session.execute(delete(SmsCount).where(SmsCount.ends_at <= now))
