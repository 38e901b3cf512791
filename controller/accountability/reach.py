"""Public-WiFi reach per hotspot and local day or month: sessions, distinct devices, volume,
peak concurrency and median session length.

Distinct devices come from the period-keyed MAC hashes the portal keeps (captive_portal/
privacy.py), never from a MAC. A closed period is measured once, before its hashes are erased,
and stored (portal_reach): it never changes afterwards. An open period is measured live.
Public figures go through `suppressed`, which hides counts below a threshold.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controller.store.db import Store
from controller.store.portal import PortalSession
from controller.store.reach import HotspotReach

_S = PortalSession
MONTH_LEN, DAY_LEN = 7, 10  # 'YYYY-MM', 'YYYY-MM-DD'


@dataclass(frozen=True)
class Reach:
    """One hotspot in one period. In a public view, a suppressed figure is None."""

    period: str
    hotspot: str
    sessions: int | None
    devices: int | None
    bytes: int | None
    peak_concurrency: int | None
    median_session_s: int | None
    closed: bool = False


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def period_bounds(period: str, zone: str) -> tuple[datetime, datetime]:
    """The UTC start and end of a local day ('YYYY-MM-DD') or month ('YYYY-MM') in `zone`."""
    tz = ZoneInfo(zone)
    if len(period) == MONTH_LEN:
        first = date.fromisoformat(period + "-01")
        after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    elif len(period) == DAY_LEN:
        first = date.fromisoformat(period)
        after = first + timedelta(days=1)
    else:
        raise ValueError(f"bad period {period!r}: expected YYYY-MM or YYYY-MM-DD")
    start = datetime(first.year, first.month, first.day, tzinfo=tz).astimezone(UTC)
    end = datetime(after.year, after.month, after.day, tzinfo=tz).astimezone(UTC)
    return start, end


def local_label(moment: datetime, zone: str, length: int) -> str:
    """The local day (length 10) or month (length 7) of a moment."""
    return _aware(moment).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d")[:length]


def peak_concurrency(intervals: Iterable[tuple[datetime, datetime]]) -> int:
    """The most intervals open at one instant; one that ends as another starts does not
    overlap it."""
    events = sorted([(start, 1) for start, end in intervals if end > start] +
                    [(end, -1) for start, end in intervals if end > start])
    # At equal times the -1 sorts first: ends before starts.
    peak = current = 0
    for _moment, step in events:
        current += step
        peak = max(peak, current)
    return peak


def measure(session: Session, hotspot: str, period: str, zone: str, now: datetime) -> Reach:
    """The reach of one hotspot in one period, from the sessions in the store. Sessions count
    where they started; a session still open counts with its length and bytes up to `now`."""
    start, end = period_bounds(period, zone)
    now = _aware(now)
    hash_column = _S.month_hash if len(period) == MONTH_LEN else _S.client_hash
    rows = session.execute(
        select(_S.started_at, _S.ended_at, _S.bytes_up, _S.bytes_down, hash_column)
        .where(_S.hotspot == hotspot, _S.started_at < end,
               (_S.ended_at.is_(None)) | (_S.ended_at > start))).all()
    lengths: list[float] = []
    devices: set[str] = set()
    volume = 0
    intervals: list[tuple[datetime, datetime]] = []
    for started_raw, ended_raw, up, down, device_hash in rows:
        started = _aware(started_raw)
        ended = _aware(ended_raw) if ended_raw is not None else now
        intervals.append((max(started, start), min(ended, end, now)))
        if started < start:
            continue  # began in an earlier period: counted there, concurrent here
        lengths.append((ended - started).total_seconds())
        volume += int(up or 0) + int(down or 0)
        if device_hash:
            devices.add(device_hash)
    median = round(statistics.median(lengths)) if lengths else 0
    return Reach(period, hotspot, len(lengths), len(devices), volume,
                 peak_concurrency(intervals), int(median), closed=end <= now)


def close_periods(session: Session, zone_of: Callable[[str], str], now: datetime) -> int:
    """Store the reach of every closed day and month not yet stored, for hotspots with sessions.
    Call it before the period's hashes are erased. Returns the rows written."""
    now = _aware(now)
    written = 0
    for hotspot in session.scalars(select(_S.hotspot).distinct()).all():
        zone = zone_of(hotspot)
        for length in (DAY_LEN, MONTH_LEN):
            for period in _unstored_closed(session, hotspot, zone, length, now):
                figures = measure(session, hotspot, period, zone, now)
                session.add(HotspotReach(
                    period=period, hotspot=hotspot, sessions=figures.sessions,
                    devices=figures.devices, bytes=figures.bytes,
                    peak_concurrency=figures.peak_concurrency,
                    median_session_s=figures.median_session_s, closed_at=now))
                written += 1
    session.flush()
    return written


def _unstored_closed(session: Session, hotspot: str, zone: str, length: int,
                     now: datetime) -> list[str]:
    """Closed periods of this kind with sessions that have no stored row, oldest first: only
    after the newest stored one, so a normal call reads no old sessions."""
    current = local_label(now, zone, length)
    newest = session.scalar(select(func.max(HotspotReach.period)).where(
        HotspotReach.hotspot == hotspot, func.length(HotspotReach.period) == length))
    since = period_bounds(newest, zone)[1] if newest else None
    until = period_bounds(current, zone)[0]
    query = select(_S.started_at).where(_S.hotspot == hotspot, _S.started_at < until)
    if since is not None:
        query = query.where(_S.started_at >= since)
    labels = {local_label(started, zone, length) for started in session.scalars(query)}
    return sorted(label for label in labels if label < current)


def reach(store: Store, period: str, zones: dict[str, str],
          now: datetime | None = None) -> list[Reach]:
    """Each hotspot's reach in a period (stored if closed and stored, else live), by name."""
    now = now or datetime.now(UTC)
    with store.session() as session:
        stored = {row.hotspot: row for row in session.scalars(
            select(HotspotReach).where(HotspotReach.period == period))}
        found = []
        for hotspot in sorted(zones):
            row = stored.get(hotspot)
            if row is not None:
                found.append(Reach(period, hotspot, row.sessions, row.devices, row.bytes,
                                   row.peak_concurrency, row.median_session_s, closed=True))
            else:
                found.append(measure(session, hotspot, period, zones[hotspot], now))
    return found


def months_reach(store: Store, months: list[str], zones: dict[str, str],
                 now: datetime | None = None) -> dict[str, list[Reach]]:
    return {month: reach(store, month, zones, now) for month in months}


def suppressed(figures: Reach, threshold: int) -> Reach:
    """The public view of a reach: a count below `threshold` is hidden (None); when devices or
    sessions are hidden, the volume, peak and median (figures of a few people) are hidden too."""
    def hide(value: int | None) -> int | None:
        return value if value is not None and value >= threshold else None

    sessions, devices = hide(figures.sessions), hide(figures.devices)
    few = sessions is None or devices is None
    return replace(figures, sessions=sessions, devices=devices,
                   bytes=None if few else figures.bytes,
                   peak_concurrency=None if few or figures.peak_concurrency is None
                   else figures.peak_concurrency,
                   median_session_s=None if few else figures.median_session_s)


def total(figures: Iterable[Reach], threshold: int, period: str) -> Reach:
    """The regency's reach in a period: sums (devices summed per hotspot: a phone seen at two
    hotspots counts twice); no peak or median; suppressed like one hotspot."""
    items = list(figures)
    whole = Reach(period, "*", sum(f.sessions or 0 for f in items),
                  sum(f.devices or 0 for f in items), sum(f.bytes or 0 for f in items),
                  None, None, closed=all(f.closed for f in items))
    return suppressed(whole, threshold) if threshold else whole

