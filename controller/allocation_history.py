"""Every allocation change of a site (its own allocation and schedule), when and by whom, and
the site as it stood at a moment: figures of a past period use the allocations in force then,
so closed months never change when an allocation does."""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.inventory import Inventory, ScheduleWindow, Site, minute_label
from controller.store.accountability import AllocationChange
from controller.units import Allocation

Snapshot = tuple[str, list[dict[str, Any]]]


def snapshot(site: Site) -> Snapshot:
    """What decides a site's allocation at any moment: its own and its schedule windows."""
    windows = [{"name": w.name, "days": list(w.days),
                "times": [f"{minute_label(a)}-{minute_label(b)}" for a, b in w.times],
                "allocation": str(w.allocation)} for w in site.schedule]
    return str(site.allocation), windows


def site_from(site: Site, allocation: str, schedule: list[dict[str, Any]]) -> Site:
    """`site` with the allocation and schedule of a stored change."""
    return site.model_copy(update={
        "allocation": Allocation.parse(allocation),
        "schedule": [ScheduleWindow.model_validate(w) for w in schedule]})


def _latest(session: Session, codes: Iterable[str]) -> dict[str, Snapshot]:
    rows = session.execute(select(AllocationChange.site, AllocationChange.allocation,
                                  AllocationChange.schedule)
                           .where(AllocationChange.site.in_(sorted(codes)))
                           .order_by(AllocationChange.at, AllocationChange.id))
    return {site: (allocation, schedule) for site, allocation, schedule in rows}


def record_changes(session: Session, sites: Iterable[Site], *, source: str, actor: str,
                   at: float | None = None) -> list[str]:
    """Store each site whose allocation or schedule differs from its last stored change (or
    that has none yet); returns their codes."""
    at = time.time() if at is None else at
    sites = list(sites)
    latest = _latest(session, (s.code for s in sites))
    changed = []
    for site in sites:
        now = snapshot(site)
        if latest.get(site.code) == now:
            continue
        session.add(AllocationChange(site=site.code, at=at, allocation=now[0],
                                     schedule=now[1], source=source, actor=actor[:64]))
        changed.append(site.code)
    session.flush()
    return changed


def record_inventory(session: Session, inventory: Inventory, *, source: str = "inventory",
                     actor: str = "inventory edit", at: float | None = None) -> list[str]:
    """Store what an inventory (re)load changed; the first load stores every site."""
    return record_changes(session, inventory.sites.values(), source=source, actor=actor, at=at)


@dataclass(frozen=True)
class SiteHistory:
    """A site's versions in time order: `starts[i]` is when `versions[i]` took force. The
    earliest known version also stands for the time before it (nothing older is known)."""

    starts: list[float]
    versions: list[Site]

    def at(self, ts: float) -> Site:
        index = bisect.bisect_right(self.starts, ts) - 1
        return self.versions[max(0, index)]

    @property
    def changes(self) -> int:
        return len(self.versions)


def load_histories(session: Session, inventory: Inventory,
                   codes: Iterable[str] | None = None) -> dict[str, SiteHistory]:
    """Each site's history; a site never stored has one version, the inventory's."""
    wanted = sorted(codes if codes is not None else inventory.sites)
    rows = session.execute(select(AllocationChange.site, AllocationChange.at,
                                  AllocationChange.allocation, AllocationChange.schedule)
                           .where(AllocationChange.site.in_(wanted))
                           .order_by(AllocationChange.at, AllocationChange.id)).all()
    out: dict[str, SiteHistory] = {}
    for code in wanted:
        site = inventory.sites[code]
        mine = [(at, site_from(site, allocation, schedule))
                for name, at, allocation, schedule in rows if name == code]
        if not mine:
            out[code] = SiteHistory([float("-inf")], [site])
        else:
            out[code] = SiteHistory([at for at, _ in mine], [v for _, v in mine])
    return out


def sites_at(session: Session, inventory: Inventory, ts: float) -> dict[str, Site]:
    """Every site as it stood at `ts` (for a closed period: just before its end)."""
    return {code: history.at(ts) for code, history in load_histories(session, inventory).items()}


def change_log(session: Session, site: str | None = None, limit: int = 200
               ) -> list[AllocationChange]:
    """The newest changes first (of one site when given)."""
    query = select(AllocationChange).order_by(AllocationChange.at.desc(),
                                              AllocationChange.id.desc()).limit(limit)
    if site is not None:
        query = query.where(AllocationChange.site == site)
    return list(session.scalars(query))
