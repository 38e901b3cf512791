"""Scheduled pushes for named holidays: RouterOS cannot name dates, so a device whose config
depends on the date (office routers and hotspot gateways at sites with `holiday` windows) gets
its config pushed shortly after local midnight when its site's date moves into or out of a
holiday, through the normal engine (lock, backup, verify, rollback, audit).

The last local date handled per device (and whether it was a holiday) is kept in the store,
so a restart the same day pushes nothing twice, a missed transition is caught up on start,
and a failed push (unreachable device) is retried on the next cycle.

Rendering uses a *dated* copy of the inventory: each scheduled site's holiday windows either
replace every day's (its local date is a holiday) or are dropped (it is not), so what is
pushed depends on the injected clock, never on the wall clock of the render.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from controller.inventory import DAYS, HOLIDAY, Device, Inventory, Site
from controller.schedules import holiday_dates, local_time
from controller.store.bandwidth import SchedulePushState
from controller.store.db import Store

log = logging.getLogger("simpul.bandwidth.holiday_push")

ACTOR = "system:schedule"
CYCLE_S = 60.0  # how soon after local midnight a transition is pushed (and failures retried)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Handled:
    local_date: date
    holiday: bool


@dataclass(frozen=True)
class Due:
    """A device whose config must be pushed for its site's local date."""

    device: str
    site: str
    local_date: date
    holiday: bool
    reason: str  # "holiday starts" | "holiday ends" | "catch up"


def has_holiday_windows(site: Site) -> bool:
    return any(HOLIDAY in w.days for w in site.schedule)


def scheduled_devices(inventory: Inventory) -> dict[str, Site]:
    """Devices whose rendered config depends on the date, with the site whose schedule they
    carry: office routers at sites with holiday windows, and hotspot gateways whose hotspot's
    site has them."""
    out: dict[str, Site] = {}
    for device in inventory.devices.values():
        site = inventory.sites.get(device.site)
        if device.role == "office_router" and site is not None and has_holiday_windows(site):
            out[device.name] = site
    for hotspot in inventory.hotspots.values():
        site = inventory.sites.get(hotspot.site)
        if hotspot.gateway in inventory.devices and site is not None \
                and has_holiday_windows(site):
            out[hotspot.gateway] = site
    return dict(sorted(out.items()))


def due_devices(inventory: Inventory, now: datetime, handled: dict[str, Handled]
                ) -> list[Due]:
    """Which devices need a push at the UTC instant `now`.

    A device is due when its site's local date is not the one last handled and either its
    holiday state differs from the one last applied (a transition, or a missed one), or,
    with nothing handled yet, the date is a holiday or the day after one.
    """
    holidays = holiday_dates(inventory)
    due: list[Due] = []
    for name, site in scheduled_devices(inventory).items():
        today = local_time(site, now).date()
        holiday = today in holidays
        last = handled.get(name)
        if last is not None and last.local_date == today:
            continue
        if last is not None:
            if last.holiday == holiday:
                continue
            reason = "holiday starts" if holiday else "holiday ends"
        elif holiday:
            reason = "holiday starts"
        elif today - timedelta(days=1) in holidays:
            reason = "holiday ends"
        else:
            continue
        due.append(Due(name, site.code, today, holiday, reason))
    return due


def dated_site(site: Site, holiday: bool) -> Site:
    """The site's schedule as it applies on a local date: on a holiday its holiday windows
    on every day (and nothing else), otherwise without holiday windows."""
    if not has_holiday_windows(site):
        return site
    windows = []
    for window in site.schedule:
        if holiday:
            if HOLIDAY in window.days:
                windows.append(window.model_copy(update={"days": tuple(DAYS)}))
        else:
            days = tuple(d for d in window.days if d != HOLIDAY)
            if days:
                windows.append(window.model_copy(update={"days": days}))
    return site.model_copy(update={"schedule": windows})


def dated_inventory(inventory: Inventory, holiday_by_site: dict[str, bool]) -> Inventory:
    sites = dict(inventory.sites)
    for code, holiday in holiday_by_site.items():
        sites[code] = dated_site(sites[code], holiday)
    return dataclasses.replace(inventory, sites=sites)


# --------------------------------------------------------------------------- store


def load_handled(store: Store) -> dict[str, Handled]:
    with store.session() as session:
        rows = session.scalars(select(SchedulePushState)).all()
        return {r.device: Handled(r.local_date, r.holiday) for r in rows}


def save_handled(store: Store, due: Due, now: datetime) -> None:
    with store.session() as session:
        row = session.get(SchedulePushState, due.device)
        if row is None:
            session.add(SchedulePushState(device=due.device, local_date=due.local_date,
                                          holiday=due.holiday, updated_at=now))
        else:
            row.local_date, row.holiday, row.updated_at = due.local_date, due.holiday, now


# --------------------------------------------------------------------------- one pass


@dataclass
class PassResult:
    due: list[Due]
    results: dict[str, Any]  # device -> DeviceResult (empty on a dry run)

    @property
    def failed(self) -> list[str]:
        return [n for n, r in self.results.items() if r.status not in ("changed", "unchanged")]


async def run_pass(inventory: Inventory, secrets: Any, store: Store, data_dir: Any,
                   templates_dir: Any = None, now: datetime | None = None,
                   concurrency: int = 20, dry_run: bool = False,
                   owns: Callable[[str], bool] | None = None) -> PassResult:
    """Push every due device once; record the ones that succeeded (unchanged counts).
    `owns` limits the pass to a poller shard's sites."""
    from controller.jobs import ConfigJobs

    now = now or datetime.now(UTC)
    due = [d for d in due_devices(inventory, now, load_handled(store))
           if owns is None or owns(d.site)]
    if dry_run or not due:
        return PassResult(due, {})
    dated = dated_inventory(inventory, {d.site: d.holiday for d in due})
    kwargs: dict[str, Any] = {"templates_dir": templates_dir} if templates_dir else {}
    jobs = ConfigJobs(dated, secrets, data_dir, store=store, actor=ACTOR,
                      concurrency=concurrency, **kwargs)
    devices: list[Device] = [dated.devices[d.device] for d in due]
    results = await jobs.run(jobs.push_one, devices)
    by_name = {r.device: r for r in results}
    for item in due:
        result = by_name[item.device]
        if result.status in ("changed", "unchanged"):
            save_handled(store, item, now)
            log.info("holiday schedule %s (%s %s, %s): %s", item.device, item.site,
                     item.local_date, item.reason, result.status)
        else:
            log.warning("holiday schedule %s (%s %s, %s): %s, retried next cycle: %s",
                        item.device, item.site, item.local_date, item.reason, result.status,
                        result.error)
    return PassResult(due, by_name)


async def holiday_push_loop(ctx: Any, clock: Clock | None = None, cycle_s: float = CYCLE_S,
                            initial_delay_s: float = 30.0) -> None:
    """Background task of `simpul serve`: a first pass (catching up a transition missed while
    the controller was down) once the listeners are up, then one every `cycle_s`."""
    if not getattr(ctx.settings, "schedule_push", True):
        return
    clock = clock or (lambda: datetime.now(UTC))
    shard = getattr(ctx, "shard", None)  # a poller shard pushes its own sites' devices
    await asyncio.sleep(initial_delay_s)
    while True:
        try:
            await run_pass(ctx.inventory, ctx.secrets, ctx.store, ctx.settings.data_dir,
                           templates_dir=ctx.settings.templates_dir, now=clock(),
                           concurrency=ctx.settings.push_concurrency,
                           owns=shard.owns if shard is not None else None)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the loop must outlive any one pass
            log.exception("holiday schedule pass failed; retried next cycle")
        await asyncio.sleep(cycle_s)
