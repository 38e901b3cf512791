"""The latest readings of the poller and the probes: plain data that collectors read at scrape time.

The poller replaces whole objects (never mutates a published one), so a scrape in the same event
loop, or in a thread, always sees one consistent cycle.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from exporters.health import DeviceHealth

if TYPE_CHECKING:
    from controller.context import Context


@dataclass(frozen=True)
class InterfaceReading:
    """One interface of one device in one cycle; None where the agent gave no usable value."""

    index: int
    name: str
    alias: str
    in_octets: int | None
    out_octets: int | None
    speed_bps: int | None
    oper_up: bool | None
    in_errors: int | None = None  # ifInErrors (Counter32), as of the last name refresh
    out_errors: int | None = None  # ifOutErrors (Counter32), as of the last name refresh


@dataclass(frozen=True)
class DeviceReading:
    """One device in one cycle. `counter_reset` is set when sysUpTime went backwards (a reboot):
    counters restarted from zero, so a consumer must not subtract the previous reading."""

    device: str
    site: str
    up: bool
    sys_uptime_s: float | None = None
    interfaces: tuple[InterfaceReading, ...] = ()
    counter_reset: bool = False
    error: str | None = None
    polled_at: float = 0.0
    health: DeviceHealth | None = None  # uptime, CPU, memory, temperature (exporters.health)


@dataclass(frozen=True)
class CycleReadings:
    """Everything one poll cycle saw: `timestamp` (Unix seconds, cycle start) and per device."""

    timestamp: float
    duration_s: float
    devices: dict[str, DeviceReading] = field(default_factory=dict)

    @property
    def any_up(self) -> bool:
        return any(d.up for d in self.devices.values())


@dataclass(frozen=True)
class ProbeReading:
    """ICMP echo results for one device in one probe cycle."""

    device: str
    site: str
    sent: int
    received: int
    rtt_s: float | None  # mean round-trip time of the answered echoes

    @property
    def loss_ratio(self) -> float:
        return 1.0 - self.received / self.sent if self.sent else 1.0


# Called after each probe round with its start (Unix seconds) and readings (availability).
ProbeHook = Callable[[float, dict[str, ProbeReading]], Awaitable[None]]
PROBE_HISTORY_S = 3600.0  # what the device page shows of the probes: the last hour


@dataclass
class LatestReadings:
    """What /metrics shows: the last completed poll cycle and the last probe cycle; for the
    device page also the cycle before (interface rates) and the last hour of probes."""

    cycle: CycleReadings | None = None
    probes: dict[str, ProbeReading] = field(default_factory=dict)
    probe_hooks: list[ProbeHook] = field(default_factory=list)
    previous: CycleReadings | None = None
    probe_history: dict[str, list[tuple[float, ProbeReading]]] = field(default_factory=dict)


def publish_cycle(latest: LatestReadings, cycle: CycleReadings) -> None:
    """Make `cycle` the latest, keeping the one before it (rates need two readings)."""
    latest.previous, latest.cycle = latest.cycle, cycle


def publish_probes(latest: LatestReadings, probes: dict[str, ProbeReading], at: float) -> None:
    """Make `probes` the latest and append them to each device's last hour (in memory: the
    history starts again with the process)."""
    latest.probes = probes
    since = at - PROBE_HISTORY_S
    history = {}
    for device, readings in latest.probe_history.items():
        kept = [item for item in readings if item[0] >= since]
        if kept:
            history[device] = kept
    for device, reading in probes.items():
        history.setdefault(device, []).append((at, reading))
    latest.probe_history = history


# Called after each poll cycle (office-bandwidth rollups); a coroutine function may be given.
CycleHook = Callable[[CycleReadings], None | Awaitable[None]]


def latest_readings(ctx: Context) -> LatestReadings:
    """The running process's latest readings, held on its Context (created on first use)."""
    if ctx.latest is None:
        ctx.latest = LatestReadings()
    return ctx.latest
