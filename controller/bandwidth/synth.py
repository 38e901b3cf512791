"""A month of synthetic counter history for the demo: office-hours traffic for offices,
evening crowds at the hotspots, one router restart and one 64-bit counter wrap, fed through
the same counter arithmetic as real polls."""

from __future__ import annotations

import math
import random
from datetime import date

from sqlalchemy import delete, insert

from controller.bandwidth.counters import Reading
from controller.bandwidth.rollups import RollupAccumulator, rollup_hours
from controller.bandwidth.stats import period_for
from controller.bandwidth.topology import site_taps
from controller.inventory import DAYS, TZ_OFFSET_MIN, Inventory, Site
from controller.schedules import holiday_dates
from controller.store.bandwidth import (
    FIVE_MINUTES_S,
    HOUR_S,
    Bandwidth5m,
    forget_month_figures,
)
from controller.store.db import Store

POLL_OFFSET_S = 17            # polls land off the bucket edges, as real ones do
WRAP_DEVICE_START = (1 << 64) - 50_000_000_000   # this device's counters wrap early on
UP_SHARE = 0.35


def _level(site: Site, rng: random.Random) -> float:
    """How hard a site uses its allocation at its busiest (some idle, some saturated)."""
    if site.kind == "sopd":
        return rng.choice([0.12, 0.18, 0.22, 0.35, 0.5, 0.6, 0.7, 0.8, 1.05])
    if site.kind in ("kecamatan", "kelurahan"):
        return rng.choice([0.3, 0.5, 0.7])
    if site.kind == "desa":
        return rng.choice([0.2, 0.4, 0.9])
    return rng.choice([0.9, 1.1])  # hotspots: crowded evenings


def _shape(site: Site, day: str, minute: int, holiday: bool) -> float:
    """Share of the busiest level at a local moment."""
    hour = minute / 60
    if site.kind == "hotspot":
        evening = math.exp(-((hour - 19.5) / 2.5) ** 2)
        day_use = 0.25 + 0.2 * math.exp(-((hour - 12.5) / 2.0) ** 2)
        weekend = 1.2 if day in ("sat", "sun") or holiday else 1.0
        return weekend * max(evening, day_use) if hour >= 6 else 0.08
    if day in ("sat", "sun") or holiday:
        return 0.04
    if 7.5 <= hour < 16:
        return 0.55 + 0.45 * math.exp(-((hour - 10.0) / 2.0) ** 2)
    return 0.05


def synthesize_month(store: Store, inventory: Inventory, month: date, seed: int = 7) -> int:
    """Write a month of 5-minute and hourly rows for every measured site; returns the rows."""
    taps = site_taps(inventory)
    sites = inventory.sites
    rng = random.Random(f"{seed}-{month.isoformat()}")
    levels = {code: _level(site, rng) for code, site in sorted(sites.items())}
    children: dict[str, list[str]] = {}
    for code, site in sites.items():
        if site.parent:
            children.setdefault(site.parent, []).append(code)
    holidays = holiday_dates(inventory)
    any_tz = next(iter(sites.values())).timezone if sites else "Asia/Jakarta"
    period = period_for("month", month, any_tz)
    start, end = period.start_ts - 86400, period.end_ts + 86400   # a day either side
    interfaces = sorted(taps)
    devices = sorted({d for d, _ in interfaces})
    wrap_device = next((d for d in devices if d.endswith("-r1")), None)
    restart_device = next((d for d in reversed(devices) if d.endswith("-r1")), None)
    counters = {k: [WRAP_DEVICE_START if k[0] == wrap_device else 0] * 2 for k in interfaces}
    boot = {d: start - 86400.0 for d in devices}
    restart_at = start + (end - start) * 0.55
    accumulator = RollupAccumulator(taps)
    far = {key: _far_site(inventory, key) for key in interfaces}
    noc_interfaces = max(1, sum(1 for k in interfaces if sites[taps[k][0].site].kind == "noc"))
    written = 0
    with store.session() as session:
        session.execute(delete(Bandwidth5m).where(Bandwidth5m.ts >= start, Bandwidth5m.ts < end))
        forget_month_figures(session, start, end)
    t = start + POLL_OFFSET_S
    pending_day = start // 86400
    while t < end:
        own: dict[str, tuple[float, float]] = {}
        for code, site in sites.items():
            if site.kind == "noc":
                continue
            local = int(t) + TZ_OFFSET_MIN[site.timezone] * 60
            day, minute = DAYS[(local // 86400 + 3) % 7], (local % 86400) // 60
            is_holiday = date.fromordinal(719163 + local // 86400) in holidays
            alloc = site.allocation_at_local(day, minute, is_holiday)
            level = levels[code] * _shape(site, day, minute, is_holiday)
            down = min(0.98, level * rng.uniform(0.8, 1.2)) * alloc.down_bps
            up = min(0.98 * alloc.up_bps, down * UP_SHARE * rng.uniform(0.8, 1.2))
            own[code] = (down, up)

        total = (sum(r[0] for r in own.values()), sum(r[1] for r in own.values()))
        rates: dict[tuple[str, str], tuple[float, float]] = {}
        for key in interfaces:
            tap = taps[key][0]
            if sites[tap.site].kind == "noc":
                share = 1 / noc_interfaces
                rates[key] = (total[0] * share, total[1] * share)
            elif tap.sign > 0:
                rates[key] = _subtree(tap.site, own, children)
            else:  # a downlink: the child's upload comes in, its download goes out
                down, up = _subtree(far[key] or "", own, children)
                rates[key] = (up, down)
            counters[key][0] += int(rates[key][0] * FIVE_MINUTES_S / 8)
            counters[key][1] += int(rates[key][1] * FIVE_MINUTES_S / 8)
        if restart_device and boot[restart_device] < restart_at <= t:
            boot[restart_device] = t - 120.0   # restarted two minutes before this poll
            for key in interfaces:
                if key[0] == restart_device:
                    counters[key] = [int(rates[key][0] * 120 / 8), int(rates[key][1] * 120 / 8)]
        for key in interfaces:
            for i in (0, 1):
                counters[key][i] %= 1 << 64
            accumulator.add(Reading(key[0], key[1], t, counters[key][0], counters[key][1],
                                    uptime_s=t - boot[key[0]]))
        t += FIVE_MINUTES_S
        if t // 86400 != pending_day or t >= end:
            # Whole hours only (each is written and rolled up in one transaction); a bucket is
            # complete once a reading after its end is in.
            written += _flush(store, accumulator,
                              (min(t, end) - FIVE_MINUTES_S) // HOUR_S * HOUR_S)
            pending_day = t // 86400
    written += _flush(store, accumulator, end + FIVE_MINUTES_S)
    return written


def _subtree(code: str, own: dict[str, tuple[float, float]],
             children: dict[str, list[str]]) -> tuple[float, float]:
    """A site's own traffic plus its child sites' (what its uplink carries)."""
    down, up = own.get(code, (0.0, 0.0))
    for child in children.get(code, []):
        d, u = _subtree(child, own, children)
        down, up = down + d, up + u
    return down, up


def _far_site(inventory: Inventory, key: tuple[str, str]) -> str | None:
    device, interface = key
    for link in inventory.links:
        for here, there in ((link.a, link.b), (link.b, link.a)):
            if here.device == device and here.interface == interface and there.device:
                far = inventory.devices.get(there.device)
                return far.site if far else None
    return None


def _flush(store: Store, accumulator: RollupAccumulator, before_ts: float) -> int:
    keys = sorted(k for k in accumulator.buckets if k[1] < before_ts)
    if not keys:
        return 0
    rows = []
    for site, ts in keys:
        rows.append(accumulator.values(site, ts))
        del accumulator.buckets[(site, ts)]
    with store.session() as session:
        session.execute(insert(Bandwidth5m), rows)
        # Their hours in the same transaction: a running `simpul serve` prunes 5-minute rows
        # older than 35 days, and would otherwise delete an old month's rows before its hours
        # were rolled up (the demo's last month then showed ~80% coverage). `before_ts` is on
        # an hour, so every hour here is whole.
        stamps = [ts for _, ts in keys]
        rollup_hours(session, int(min(stamps)), int(max(stamps)) + FIVE_MINUTES_S)
    return len(rows)
