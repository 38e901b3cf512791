"""Per-site 5-minute and hourly rollups of polled counters, kept in the store.

The poller calls `RollupConsumer.on_poll` after each cycle; the consumer turns counter
readings into byte deltas, spreads each delta over the 5-minute buckets it spans, sums the
interfaces that measure each site, and writes the buckets it touched. Completed hours are
rolled up into hourly rows; old rows are pruned (5-minute after 35 days, hourly after 400).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from controller.bandwidth.counters import CounterTracker, Delta, Reading
from controller.bandwidth.interface_rollups import (
    InterfaceRollups,
    prune_interfaces,
    replace_hours,
    rollup_interface_hours,
    spread,
)
from controller.bandwidth.topology import Tap, site_taps
from controller.inventory import Inventory
from controller.store.bandwidth import (
    FIVE_MINUTES_S,
    HOUR_S,
    Bandwidth1h,
    Bandwidth5m,
    CounterState,
    forget_month_figures,
    upsert,
)
from controller.store.db import Store

log = logging.getLogger(__name__)

KEEP_5M_S = 35 * 86400
KEEP_1H_S = 400 * 86400
HOUR_GRACE_S = 600  # late readings may still land in the last hour for this long


@dataclass
class Bucket:
    in_bytes: float = 0.0
    out_bytes: float = 0.0
    covered: dict[str, float] = field(default_factory=dict)
    stored_s: float | None = None  # coverage already in the store before a restart

    @property
    def covered_s(self) -> float:
        return (self.stored_s or 0.0) + max(self.covered.values(), default=0.0)


class RollupAccumulator:
    """Pure arithmetic: deltas in, 5-minute buckets per site out (no store)."""

    def __init__(self, taps: dict[tuple[str, str], list[Tap]]):
        self.taps = taps
        self.tracker = CounterTracker()
        self.buckets: dict[tuple[str, int], Bucket] = {}

    def add(self, reading: Reading) -> set[tuple[str, int]]:
        """Feed one reading; return the (site, bucket start) keys it changed."""
        taps = self.taps.get((reading.device, reading.interface))
        if not taps:
            return set()
        delta = self.tracker.update(reading)
        return self.add_delta(delta, taps) if delta else set()

    def add_delta(self, delta: Delta, taps: list[Tap]) -> set[tuple[str, int]]:
        touched: set[tuple[str, int]] = set()
        key = f"{delta.device}|{delta.interface}"
        for ts, share, overlap in spread(delta):
            for tap in taps:
                bucket = self.buckets.setdefault((tap.site, ts), Bucket())
                if tap.sign > 0:
                    bucket.in_bytes += delta.in_bytes * share
                    bucket.out_bytes += delta.out_bytes * share
                    bucket.covered[key] = bucket.covered.get(key, 0.0) + overlap
                else:  # a downlink: what goes out to the child site came in for it
                    bucket.in_bytes -= delta.out_bytes * share
                    bucket.out_bytes -= delta.in_bytes * share
                touched.add((tap.site, ts))
        return touched

    def values(self, site: str, ts: int) -> dict[str, Any]:
        """The bucket as a bandwidth_5m row (downlink subtraction clamped at zero)."""
        bucket = self.buckets[(site, ts)]
        return {"site": site, "ts": ts, "in_bytes": max(0, round(bucket.in_bytes)),
                "out_bytes": max(0, round(bucket.out_bytes)),
                "covered_s": min(float(FIVE_MINUTES_S), bucket.covered_s)}

    def row(self, site: str, ts: int) -> Bandwidth5m:
        return Bandwidth5m(**self.values(site, ts))

    def forget_before(self, ts: int) -> None:
        for key in [k for k in self.buckets if k[1] < ts]:
            del self.buckets[key]


# --------------------------------------------------------------------------- hourly, prune


def rollup_hours(session: Session, start_ts: int, end_ts: int,
                 sites: Collection[str] | None = None) -> int:
    """(Re)compute the hourly rows of [start_ts, end_ts) from the 5-minute rows, of `sites`
    only when given (a poller shard rolls up its own sites: shards never write one row)."""
    start_ts = start_ts // HOUR_S * HOUR_S
    end_ts = math.ceil(end_ts / HOUR_S) * HOUR_S
    query = select(
        Bandwidth5m.site, Bandwidth5m.ts, Bandwidth5m.in_bytes, Bandwidth5m.out_bytes,
        Bandwidth5m.covered_s).where(Bandwidth5m.ts >= start_ts, Bandwidth5m.ts < end_ts)
    if sites is not None:
        query = query.where(Bandwidth5m.site.in_(sorted(sites)))
    rows = session.execute(query)
    hours: dict[tuple[str, int], dict[str, Any]] = {}
    for site, ts, in_bytes, out_bytes, covered in rows:
        key = (site, ts // HOUR_S * HOUR_S)
        h = hours.get(key)
        if h is None:
            h = hours[key] = {"site": key[0], "ts": key[1], "in_bytes": 0, "out_bytes": 0,
                              "covered_s": 0.0, "in_peak_bps": 0.0, "out_peak_bps": 0.0,
                              "samples": 0}
        h["in_bytes"] += in_bytes
        h["out_bytes"] += out_bytes
        h["covered_s"] += covered
        if covered:
            h["in_peak_bps"] = max(h["in_peak_bps"], in_bytes * 8 / covered)
            h["out_peak_bps"] = max(h["out_peak_bps"], out_bytes * 8 / covered)
        h["samples"] += 1
    stamps = replace_hours(session, Bandwidth1h, list(hours.values()), Bandwidth1h.site, sites)
    if hours:
        forget_month_figures(session, stamps[0], stamps[-1] + HOUR_S)
    return len(hours)


def prune(session: Session, now: float) -> None:
    """Delete 5-minute rows older than 35 days and hourly ones older than 400; a cached month
    that read the deleted rows is dropped (it is recomputed, at hourly resolution once
    its 5-minute rows cover less than 90% of it)."""
    for table, keep, fine in ((Bandwidth5m, KEEP_5M_S, True), (Bandwidth1h, KEEP_1H_S, False)):
        cutoff = now - keep
        oldest = session.scalar(select(func.min(table.ts)).where(table.ts < cutoff))
        if oldest is not None:
            session.execute(delete(table).where(table.ts < cutoff))
            forget_month_figures(session, oldest, cutoff, five_minute_only=fine)
    prune_interfaces(session, now, KEEP_5M_S, KEEP_1H_S)


# --------------------------------------------------------------------------- poller hook


def _get(obj: Any, *names: str) -> Any:
    for name in names:
        if isinstance(obj, Mapping) and name in obj:
            return obj[name]
        if hasattr(obj, name):
            return getattr(obj, name)
    return None


def readings_from_poll(timestamp: float, devices: Any) -> list[Reading]:
    """Adapt the poller's per-device, per-interface readings (objects or mappings).

    Accepts `{device: {"sys_uptime_s"|"uptime_s"|"sys_uptime": ..., "interfaces":
    {name: {"in_octets": .., "out_octets": ..}}}}` or the same as attributes, or a list of
    device readings each with a `device`/`name` attribute.
    """
    items: Iterable[tuple[str, Any]]
    if isinstance(devices, Mapping):
        items = devices.items()
    else:
        items = ((str(_get(d, "device", "name")), d) for d in devices)
    out: list[Reading] = []
    for device, reading in items:
        if reading is None or _get(reading, "up", "ok", "reachable") is False:
            continue
        uptime = _get(reading, "sys_uptime_s", "uptime_s")
        if uptime is None:
            ticks = _get(reading, "sys_uptime", "sysuptime", "sys_uptime_ticks")
            uptime = ticks / 100.0 if ticks is not None else None
        interfaces = _get(reading, "interfaces") or {}
        iface_items = (interfaces.items() if isinstance(interfaces, Mapping)
                       else ((str(_get(i, "name", "interface")), i) for i in interfaces))
        at = _get(reading, "polled_at", "at", "timestamp") or timestamp
        for name, iface in iface_items:
            in_octets = _get(iface, "in_octets", "hc_in_octets", "receive_bytes")
            out_octets = _get(iface, "out_octets", "hc_out_octets", "transmit_bytes")
            if in_octets is None or out_octets is None:
                continue
            bits = _get(iface, "counter_bits") or 64
            speed = _get(iface, "speed_bps")
            out.append(Reading(device=str(device), interface=str(name), at=float(at),
                               in_octets=int(in_octets), out_octets=int(out_octets),
                               uptime_s=float(uptime) if uptime is not None else None,
                               counter_bits=int(bits),
                               speed_bps=int(speed) if speed is not None else None))
    return out


class RollupConsumer:
    """Feeds the store from the poller; safe to restart (counters and buckets resume)."""

    def __init__(self, store: Store, inventory: Inventory,
                 owns: Callable[[str], bool] | None = None):
        self.store = store
        self.accumulator = RollupAccumulator(site_taps(inventory))
        self.interfaces = InterfaceRollups()
        self._owns = owns
        self._sites = self._own_sites(inventory)
        self._devices = self._own_devices(inventory)
        self._rolled_until: int | None = None
        self._loaded = False

    def set_inventory(self, inventory: Inventory) -> None:
        self.accumulator.taps = site_taps(inventory)
        self._sites = self._own_sites(inventory)
        self._devices = self._own_devices(inventory)

    def _own_sites(self, inventory: Inventory) -> set[str] | None:
        """A poller shard's sites (None: all; the hourly rollup then needs no filter)."""
        if self._owns is None:
            return None
        return {code for code in inventory.sites if self._owns(code)}

    def _own_devices(self, inventory: Inventory) -> set[str] | None:
        """The devices at a poller shard's sites (None: all): it writes only their rows."""
        if self._sites is None:
            return None
        return {d.name for d in inventory.devices.values() if d.site in self._sites}

    def _load_state(self, session: Session) -> None:
        for row in session.scalars(select(CounterState)):
            self.accumulator.tracker.last[(row.device, row.interface)] = Reading(
                row.device, row.interface, row.at, int(row.in_octets), int(row.out_octets),
                row.uptime_s)
        self._loaded = True

    def on_poll(self, timestamp: float, devices: Any) -> None:
        """Ingest one cycle's readings (blocking: store writes)."""
        self.ingest(readings_from_poll(timestamp, devices), now=timestamp)

    async def cycle_hook(self, cycle: Any) -> None:
        """The poller's hook (the Context's `cycle_hooks`): one `CycleReadings` per cycle.
        Store writes run in a worker thread, never on the event loop."""
        await asyncio.to_thread(self.on_poll, float(cycle.timestamp), cycle.devices)

    def ingest(self, readings: list[Reading], now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self.store.session() as session:
            if not self._loaded:
                self._load_state(session)
            touched: set[tuple[str, int]] = set()
            tracker = self.accumulator.tracker
            for reading in readings:
                delta = tracker.update(reading)
                if delta is None:
                    continue
                taps = self.accumulator.taps.get((reading.device, reading.interface))
                if taps:
                    touched |= self.accumulator.add_delta(delta, taps)
                if self._devices is None or reading.device in self._devices:
                    self.interfaces.add(delta, reading.speed_bps)
            self._merge_stored(session, touched)
            for site, ts in sorted(touched):
                session.merge(self.accumulator.row(site, ts))
            if touched:  # a late reading may land in a month already closed (and cached)
                stamps = [ts for _, ts in touched]
                forget_month_figures(session, min(stamps), max(stamps) + FIVE_MINUTES_S)
            self.interfaces.write(session)
            self._save_counters(session, [r for r in readings
                                          if tracker.last.get((r.device, r.interface)) is r])
            self._hourly(session, now)
        self.accumulator.forget_before(int(now) - 2 * HOUR_S)

    @staticmethod
    def _save_counters(session: Session, readings: list[Reading]) -> None:
        """Every interface's last reading, in one upsert (a restart resumes its deltas)."""
        if not readings:
            return
        statement = upsert(session, CounterState)
        columns = ("at", "uptime_s", "in_octets", "out_octets")
        session.execute(statement.on_conflict_do_update(
            index_elements=["device", "interface"],
            set_={c: statement.excluded[c] for c in columns}),
            [{"device": r.device, "interface": r.interface, "at": r.at, "uptime_s": r.uptime_s,
              "in_octets": str(r.in_octets), "out_octets": str(r.out_octets)}
             for r in readings])

    def _merge_stored(self, session: Session, keys: set[tuple[str, int]]) -> None:
        """A bucket first seen since a restart starts from what the store already holds."""
        for site, ts in keys:
            bucket = self.accumulator.buckets[(site, ts)]
            if bucket.stored_s is not None:
                continue
            row = session.get(Bandwidth5m, (site, ts))
            bucket.stored_s = 0.0
            if row is not None:
                bucket.in_bytes += row.in_bytes
                bucket.out_bytes += row.out_bytes
                bucket.stored_s = row.covered_s

    def _hourly(self, session: Session, now: float) -> None:
        target = int((now - HOUR_GRACE_S) // HOUR_S * HOUR_S)
        if self._rolled_until is None:
            self._rolled_until = target - 2 * HOUR_S
        if target > self._rolled_until:
            rollup_hours(session, self._rolled_until, target, self._sites)
            rollup_interface_hours(session, self._rolled_until, target, self._devices)
            prune(session, now)
            self._rolled_until = target


async def rollup_loop(ctx: Any) -> None:
    """Background task of `simpul serve`: feed the rollups from every poll cycle of the
    process (a hook in `ctx.cycle_hooks`, which the poll loop calls)."""
    shard = getattr(ctx, "shard", None)
    consumer = RollupConsumer(ctx.store, ctx.inventory,
                              owns=None if shard is None or shard.whole else shard.owns)
    seen = [ctx.inventory]

    async def hook(cycle: Any) -> None:
        if ctx.inventory is not seen[0]:  # the inventory was reloaded: new sites, links
            seen[0] = ctx.inventory
            consumer.set_inventory(ctx.inventory)
        await consumer.cycle_hook(cycle)

    ctx.cycle_hooks.append(hook)
    try:
        await asyncio.Event().wait()
    finally:
        if hook in ctx.cycle_hooks:
            ctx.cycle_hooks.remove(hook)
