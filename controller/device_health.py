"""What the device page shows of a device's health: the poller's latest health reading, its
interfaces with use and errors (from the last two cycles), the last hour of ICMP probes in
5-minute rows, and a one-word summary for the device list. Reads memory only, never polls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from controller.context import Context
from exporters.health import DeviceHealth
from exporters.state import DeviceReading, InterfaceReading, ProbeReading

PROBE_ROW_S = 300
HOT_CPU = 0.85
HOT_MEMORY = 0.90
HOT_CELSIUS = 70.0  # RouterBOARD boards are specified to about 70 degrees ambient
Badge = Literal["ok", "warning", "down", "unknown"]


@dataclass(frozen=True)
class InterfaceRow:
    name: str
    alias: str
    oper_up: bool | None
    speed_bps: int | None
    in_bps: float | None  # over the last poll interval
    out_bps: float | None
    in_errors: int | None  # the counter as read (Counter32)
    out_errors: int | None
    new_errors: int | None  # in + out since the previous cycle

    @property
    def use_ratio(self) -> float | None:
        """The busier direction's share of the speed."""
        if not self.speed_bps or self.in_bps is None or self.out_bps is None:
            return None
        return max(self.in_bps, self.out_bps) / self.speed_bps


@dataclass(frozen=True)
class ProbeRow:
    start: float  # Unix seconds, start of the 5-minute row
    sent: int
    received: int
    rtt_s: float | None  # mean of the answered echoes' means

    @property
    def loss_ratio(self) -> float:
        return 1.0 - self.received / self.sent if self.sent else 1.0


@dataclass(frozen=True)
class HealthView:
    reading: DeviceReading | None
    health: DeviceHealth | None
    interfaces: list[InterfaceRow]
    probe: ProbeReading | None
    probe_rows: list[ProbeRow]
    badge: Badge

    @property
    def memory_ratio(self) -> float | None:
        h = self.health
        if h is None or not h.memory_total_bytes or h.memory_used_bytes is None:
            return None
        return h.memory_used_bytes / h.memory_total_bytes


def _delta(now: int | None, before: int | None, modulus: int) -> int | None:
    if now is None or before is None:
        return None
    return (now - before) % modulus  # one wrap of the counter between two polls at most


def interface_rows(now: DeviceReading, before: DeviceReading | None,
                   elapsed_s: float) -> list[InterfaceRow]:
    """Rows of the device's interfaces; rates need the previous cycle and no restart."""
    old: dict[int, InterfaceReading] = {}
    if before is not None and before.up and not now.counter_reset and elapsed_s > 0:
        old = {i.index: i for i in before.interfaces}
    rows = []
    for i in now.interfaces:
        prev = old.get(i.index)
        in_d = _delta(i.in_octets, prev.in_octets, 2**64) if prev else None
        out_d = _delta(i.out_octets, prev.out_octets, 2**64) if prev else None
        err = [_delta(i.in_errors, prev.in_errors, 2**32),
               _delta(i.out_errors, prev.out_errors, 2**32)] if prev else [None]
        rows.append(InterfaceRow(
            name=i.name, alias=i.alias, oper_up=i.oper_up, speed_bps=i.speed_bps,
            in_bps=in_d * 8 / elapsed_s if in_d is not None else None,
            out_bps=out_d * 8 / elapsed_s if out_d is not None else None,
            in_errors=i.in_errors, out_errors=i.out_errors,
            new_errors=sum(e for e in err if e is not None) if any(
                e is not None for e in err) else None))
    return rows


def probe_rows(history: list[tuple[float, ProbeReading]]) -> list[ProbeRow]:
    """The probe cycles of the last hour in 5-minute rows, newest first."""
    rows: dict[int, list[ProbeReading]] = {}
    for at, reading in history:
        rows.setdefault(int(at // PROBE_ROW_S * PROBE_ROW_S), []).append(reading)
    out = []
    for start in sorted(rows, reverse=True):
        readings = rows[start]
        rtts = [r.rtt_s for r in readings if r.rtt_s is not None]
        out.append(ProbeRow(start=start, sent=sum(r.sent for r in readings),
                            received=sum(r.received for r in readings),
                            rtt_s=sum(rtts) / len(rtts) if rtts else None))
    return out


def badge(reading: DeviceReading | None) -> Badge:
    """down (no SNMP answer), warning (CPU, memory or a temperature high), ok, unknown."""
    if reading is None:
        return "unknown"
    if not reading.up:
        return "down"
    h = reading.health
    if h is None:
        return "ok"
    hot = (h.cpu_load_ratio is not None and h.cpu_load_ratio >= HOT_CPU) or any(
        c >= HOT_CELSIUS for _, c in h.temperatures_c) or (
        h.memory_total_bytes and h.memory_used_bytes is not None
        and h.memory_used_bytes / h.memory_total_bytes >= HOT_MEMORY)
    return "warning" if hot else "ok"


def badges(ctx: Context) -> dict[str, Badge]:
    cycle = ctx.latest.cycle if ctx.latest is not None else None
    return {name: badge(cycle.devices.get(name) if cycle else None)
            for name in ctx.inventory.devices}


def health_view(ctx: Context, device: str) -> HealthView:
    latest = ctx.latest
    cycle = latest.cycle if latest else None
    previous = latest.previous if latest else None
    reading = cycle.devices.get(device) if cycle else None
    before = previous.devices.get(device) if previous else None
    rows: list[InterfaceRow] = []
    if reading is not None and reading.up:
        elapsed = reading.polled_at - before.polled_at if before else 0.0
        rows = interface_rows(reading, before, elapsed)
    return HealthView(
        reading=reading, health=reading.health if reading and reading.up else None,
        interfaces=rows, probe=latest.probes.get(device) if latest else None,
        probe_rows=probe_rows(latest.probe_history.get(device, []) if latest else []),
        badge=badge(reading))
