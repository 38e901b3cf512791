"""Portal sessions as the rooms share them: the view callers get, ending one, shard ownership.

Logs name sessions by id and hotspot, never by a citizen's IP, MAC or phone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from captive_portal.clock import aware, seconds_between
from captive_portal.gateways.base import Client
from controller.context import Context
from controller.store.portal import PortalSession

log = logging.getLogger("simpul.portal")
DEFAULT_TIMEZONE = "Asia/Jakarta"  # WIB, for a hotspot gone from the inventory


@dataclass(frozen=True)
class SessionView:
    id: int
    hotspot: str
    method: str
    client_ip: str | None
    client_mac: str | None
    started_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    seconds_remaining: int
    bytes_up: int
    bytes_down: int
    bytes_remaining: int | None


def session_view(row: PortalSession, now: datetime) -> SessionView:
    used = row.bytes_up + row.bytes_down
    return SessionView(
        id=row.id, hotspot=row.hotspot, method=row.method, client_ip=row.client_ip,
        client_mac=row.client_mac, started_at=aware(row.started_at),
        expires_at=aware(row.expires_at),
        ended_at=aware(row.ended_at) if row.ended_at else None, end_reason=row.end_reason,
        seconds_remaining=0 if row.ended_at else seconds_between(now, row.expires_at),
        bytes_up=row.bytes_up, bytes_down=row.bytes_down,
        bytes_remaining=None if row.quota_bytes is None else max(0, row.quota_bytes - used),
    )


def end_session(session: Session, row: PortalSession, reason: str,
                now: datetime) -> Client | None:
    """Mark a session ended and erase the client's address; return whom to revoke."""
    client = Client(row.client_ip, row.client_mac) if row.client_ip and row.client_mac \
        else None
    row.ended_at = now
    row.end_reason = reason
    row.client_ip = None
    row.client_mac = None
    log.info("hotspot %s: session %s ended (%s)", row.hotspot, row.id, reason)
    return client


def hotspot_timezone(ctx: Context, hotspot_name: str) -> str:
    """The zone of the hotspot's site: its days and months (quota, hash periods) are local."""
    hotspot = ctx.inventory.hotspots.get(hotspot_name)
    site = ctx.inventory.sites.get(hotspot.site) if hotspot is not None else None
    return site.timezone if site is not None else DEFAULT_TIMEZONE


def owned(ctx: Context, hotspot_name: str) -> bool:
    """Does this process's shard look after the hotspot (its site; a hotspot gone from the
    inventory goes by its own name)?"""
    hotspot = ctx.inventory.hotspots.get(hotspot_name)
    return ctx.shard.owns(hotspot.site if hotspot is not None else hotspot_name)
