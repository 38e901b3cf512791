"""Availability runs from the live loops. After every ICMP probe round and SNMP poll cycle, each
ISP link and site this process looks after (its shard) gets one sample, good or bad, and
`StateRecorder` keeps only the state changes, as runs in the store.

Bad, for a site: every echo to every one of its devices lost, or an interface at either end
of its uplink oper-down. For an ISP link: its interface on our device oper-down. With probes
running, sites are sampled once per probe round (with the last poll cycle's interface
state); without probes (no raw sockets), once per poll cycle. ISP links: once per poll cycle.
No evidence at all (a device neither polled nor probed) gives no sample: unknown time.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from controller.accountability.availability import StateRecorder
from controller.bandwidth.topology import UPLINK, end_roles
from controller.context import Context
from controller.inventory import Inventory
from controller.store.db import Store
from exporters.state import CycleReadings, ProbeReading, latest_readings

log = logging.getLogger("simpul.availability")

End = tuple[str, str]  # (device, interface)


@dataclass(frozen=True)
class Subjects:
    """What one process samples: its sites (with their devices) and ISP links, and the
    interfaces whose oper state counts for each."""

    site_devices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    uplinks: dict[tuple[str, str], list[End]] = field(default_factory=dict)  # (kind, subject)


def subjects_of(inventory: Inventory, owns: Callable[[str], bool]) -> Subjects:
    """The non-NOC sites and the named ISP links whose device is on a site `owns` accepts."""
    sites = {code: tuple(sorted(d.name for d in inventory.devices.values() if d.site == code))
             for code, s in inventory.sites.items() if s.kind != "noc" and owns(code)}
    uplinks: dict[tuple[str, str], list[End]] = {}
    for link in inventory.links:
        ends = [(end, inventory.devices.get(end.device or "")) for end in (link.a, link.b)]
        if link.medium == "isp":
            for end, device in ends:
                if link.name and device is not None and end.interface and owns(device.site):
                    uplinks.setdefault(("link", link.name), []).append(
                        (device.name, end.interface))
            continue
        for (_end, device), role in zip(ends, end_roles(inventory, link), strict=True):
            if role != UPLINK or device is None or device.site not in sites:
                continue
            # The site's uplink: its own end and the parent's end both say whether it is cut.
            uplinks.setdefault(("site", device.site), []).extend(
                (d.name, e.interface) for e, d in ends if d is not None and e.interface)
    return Subjects(sites, uplinks)


def interfaces_bad(ends: list[End], cycle: CycleReadings | None) -> bool | None:
    """True if any end is oper-down, False if some end was read and all are up, None if no
    end was read (its device did not answer, or no cycle yet)."""
    if cycle is None:
        return None
    seen: list[bool] = []
    for device, name in ends:
        reading = cycle.devices.get(device)
        if reading is None or not reading.up:
            continue
        seen += [i.oper_up for i in reading.interfaces
                 if i.name == name and i.oper_up is not None]
    return None if not seen else not all(seen)


def probes_bad(devices: tuple[str, ...], probes: Mapping[str, ProbeReading]) -> bool | None:
    """True if every echo to every probed device of the site was lost; None if none probed."""
    readings = [probes[d] for d in devices if d in probes and probes[d].sent]
    return None if not readings else all(r.received == 0 for r in readings)


def _either(a: bool | None, b: bool | None) -> bool | None:
    return None if a is None and b is None else bool(a) or bool(b)


class AvailabilityWatch:
    """One per process: turns the loops' readings into samples for `StateRecorder`."""

    def __init__(self, store: Store, inventory: Inventory, owns: Callable[[str], bool],
                 down_after: int):
        self.store = store
        self.owns = owns
        self.recorder = StateRecorder(down_after)
        self.inventory = inventory
        self.subjects = subjects_of(inventory, owns)
        self.cycle: CycleReadings | None = None
        self.probing = False
        self._lock = threading.Lock()   # probe rounds and poll cycles record from threads

    def set_inventory(self, inventory: Inventory) -> None:
        if inventory is not self.inventory:
            self.inventory = inventory
            self.subjects = subjects_of(inventory, self.owns)

    def site_samples(self, probes: Mapping[str, ProbeReading] | None
                     ) -> dict[tuple[str, str], bool]:
        samples: dict[tuple[str, str], bool] = {}
        for site, devices in self.subjects.site_devices.items():
            bad = _either(probes_bad(devices, probes) if probes is not None else None,
                          interfaces_bad(self.subjects.uplinks.get(("site", site), []),
                                         self.cycle))
            if bad is not None:
                samples[("site", site)] = bad
        return samples

    def on_probes(self, timestamp: float, probes: Mapping[str, ProbeReading]) -> None:
        """One probe round (blocking: store writes)."""
        self.probing = True
        self._record(int(timestamp), self.site_samples(probes))

    def on_poll(self, cycle: CycleReadings) -> None:
        """One poll cycle (blocking: store writes)."""
        self.cycle = cycle
        samples = {key: bad for key, ends in self.subjects.uplinks.items() if key[0] == "link"
                   if (bad := interfaces_bad(ends, cycle)) is not None}
        if not self.probing:
            samples |= self.site_samples(None)
        self._record(int(cycle.timestamp), samples)

    def _record(self, ts: int, samples: dict[tuple[str, str], bool]) -> None:
        if not samples:
            return
        with self._lock, self.store.session() as session:
            for (kind, subject), bad in sorted(samples.items()):
                self.recorder.sample(session, kind, subject, ts, bad)


async def availability_loop(ctx: Context) -> None:
    """Background task of `simpul serve`: record availability runs from this process's poll
    cycles and probe rounds (hooks the two loops call)."""
    latest = latest_readings(ctx)
    watch = AvailabilityWatch(ctx.store, ctx.inventory, ctx.shard.owns,
                              ctx.settings.down_after_samples)

    async def on_poll(cycle: CycleReadings) -> None:
        watch.set_inventory(ctx.inventory)
        try:
            await asyncio.to_thread(watch.on_poll, cycle)
        except Exception:
            log.exception("availability: recording a poll cycle failed")

    async def on_probes(timestamp: float, probes: Mapping[str, ProbeReading]) -> None:
        watch.set_inventory(ctx.inventory)
        try:
            await asyncio.to_thread(watch.on_probes, timestamp, probes)
        except Exception:
            log.exception("availability: recording a probe round failed")

    ctx.cycle_hooks.append(on_poll)
    latest.probe_hooks.append(on_probes)
    try:
        await asyncio.Event().wait()
    finally:
        if on_poll in ctx.cycle_hooks:
            ctx.cycle_hooks.remove(on_poll)
        if on_probes in latest.probe_hooks:
            latest.probe_hooks.remove(on_probes)
